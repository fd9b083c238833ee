package alerts

import (
	"encoding/hex"
	"errors"
	"testing"
)

// TestFormatCapabilities: values written by setcap on this machine (read
// with getfattr -d -m - -e hex) print as getcap printed them.
func TestFormatCapabilities(t *testing.T) {
	for _, tc := range []struct {
		setcap, hex, want string
	}{
		{"cap_setuid=ep", "0100000280000000000000000000000000000000", "cap_setuid=ep"},
		{"-n 1000 cap_dac_override=ep", "0100000302000000000000000000000000000000e8030000", "cap_dac_override=ep [rootid=1000]"},
		{"cap_net_bind_service+p", "0000000200040000000000000000000000000000", "cap_net_bind_service=p"},
		{"cap_net_raw,cap_net_admin,cap_sys_admin+ep cap_sys_admin+i", "0100000200302000000020000000000000000000", "cap_sys_admin=eip cap_net_admin,cap_net_raw+ep"},
		{"cap_chown,cap_sys_admin+eip", "0100000201002000010020000000000000000000", "cap_chown,cap_sys_admin=eip"},
		{"cap_chown+ip cap_setuid+p", "0000000281000000010000000000000000000000", "cap_chown=ip cap_setuid+p"},
		{"cap_checkpoint_restore,cap_bpf+p", "0000000200000000000000008001000000000000", "cap_bpf,cap_checkpoint_restore=p"},
		{"(v1) cap_kill=p", "000000012000000000000000", "cap_kill=p"},
		{"(bit 63, unnamed)", "0000000200000000000000000000008000000000", "63=p"},
	} {
		v, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FormatCapabilities(v)
		if err != nil || got != tc.want {
			t.Errorf("setcap %s: FormatCapabilities(%s) = %q, %v; want %q", tc.setcap, tc.hex, got, err, tc.want)
		}
	}
}

func TestFormatCapabilitiesInvalid(t *testing.T) {
	for _, h := range []string{
		"",
		"010000", // short
		"0100000480000000000000000000000000000000",     // revision 4
		"01000002800000000000000000000000000000",       // v2, one byte short
		"0100000380000000000000000000000000000000",     // v3 without the root uid
		"01000001800000000000000000000000000000000000", // v1 with v2's length
	} {
		v, _ := hex.DecodeString(h)
		if got, err := FormatCapabilities(v); !errors.Is(err, errCapability) {
			t.Errorf("FormatCapabilities(%q) = %q, %v; want errCapability", h, got, err)
		}
	}
}

// TestFormatFlags: lsattr's columns, as lsattr printed them on this
// machine for chattr +i on ext4 (0x00080010).
func TestFormatFlags(t *testing.T) {
	for _, tc := range []struct {
		flags uint32
		want  string
	}{
		{0, "----------------------"},
		{0x00080000, "--------------e-------"},
		{0x00080010, "----i---------e-------"},
		{0x00000020, "-----a----------------"},
		{0x00800000 | 0x00000080, "-------A-------C------"},
		{0xffffffff, "suSDiadAcEjItTeCxFNPVm"},
	} {
		if got := FormatFlags(tc.flags); got != tc.want {
			t.Errorf("FormatFlags(%#08x) = %q, want %q", tc.flags, got, tc.want)
		}
	}
}
