package alerts

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// CapabilityXattr is the extended attribute holding a file's capabilities
// (setcap).
const CapabilityXattr = "security.capability"

// capNames are the capability names of linux/capability.h, by number.
var capNames = [...]string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// vfs_cap_data (linux/capability.h): a little-endian magic_etc word, then
// one (v1) or two (v2, v3) {permitted, inheritable} pairs, then for v3 the
// root uid of the user namespace the capabilities apply in.
const (
	capRevisionMask = 0xFF000000
	capRevision1    = 0x01000000
	capRevision2    = 0x02000000
	capRevision3    = 0x03000000
	capFlagsEff     = 0x000001
)

// errCapability is returned for a security.capability value that is not
// a vfs_cap_data of a known revision.
var errCapability = errors.New("not a vfs_cap_data value")

// FormatCapabilities returns the security.capability value v as getcap
// prints it: "cap_setuid=ep", "cap_sys_admin=eip cap_net_admin,cap_net_raw+ep".
// Capabilities are grouped by their flags, groups with more flags first,
// names in capability order; the first group takes "=", the others "+".
// A v3 value with a namespace root uid other than 0 ends in
// " [rootid=N]" (getcap shows it only with -n). Unknown capability
// numbers print as numbers.
func FormatCapabilities(v []byte) (string, error) {
	if len(v) < 4 {
		return "", errCapability
	}
	magic := binary.LittleEndian.Uint32(v)
	words := 2
	switch magic & capRevisionMask {
	case capRevision1:
		words = 1
		if len(v) != 12 {
			return "", errCapability
		}
	case capRevision2:
		if len(v) != 20 {
			return "", errCapability
		}
	case capRevision3:
		if len(v) != 24 {
			return "", errCapability
		}
	default:
		return "", errCapability
	}
	var perm, inh uint64
	for i := range words {
		perm |= uint64(binary.LittleEndian.Uint32(v[4+8*i:])) << (32 * i)
		inh |= uint64(binary.LittleEndian.Uint32(v[8+8*i:])) << (32 * i)
	}
	eff := magic&capFlagsEff != 0
	// flags per capability as libcap counts them: e=1, i=2, p=4.
	var groups [8][]string
	for n := range 64 {
		f := 0
		if perm&(1<<n) != 0 {
			f |= 4
		}
		if inh&(1<<n) != 0 {
			f |= 2
		}
		if f != 0 && eff {
			f |= 1
		}
		if f != 0 {
			groups[f] = append(groups[f], capName(n))
		}
	}
	var b strings.Builder
	for f := 7; f > 0; f-- {
		if groups[f] == nil {
			continue
		}
		op := "+"
		if b.Len() == 0 {
			op = "="
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(strings.Join(groups[f], ","))
		b.WriteString(op)
		b.WriteString(capFlags(f))
	}
	if b.Len() == 0 {
		b.WriteString("=")
	}
	if magic&capRevisionMask == capRevision3 {
		if root := binary.LittleEndian.Uint32(v[20:]); root != 0 {
			b.WriteString(" [rootid=" + strconv.FormatUint(uint64(root), 10) + "]")
		}
	}
	return b.String(), nil
}

func capName(n int) string {
	if n < len(capNames) {
		return "cap_" + capNames[n]
	}
	return strconv.Itoa(n)
}

func capFlags(f int) string {
	var s string
	if f&1 != 0 {
		s += "e"
	}
	if f&2 != 0 {
		s += "i"
	}
	if f&4 != 0 {
		s += "p"
	}
	return s
}

// lsattrFlags are the inode flags lsattr prints (e2fsprogs lib/e2p/pf.c),
// in its order, with their letters.
var lsattrFlags = [...]struct {
	bit    uint32
	letter byte
}{
	{0x00000001, 's'}, {0x00000002, 'u'}, {0x00000008, 'S'}, {0x00010000, 'D'},
	{0x00000010, 'i'}, {0x00000020, 'a'}, {0x00000040, 'd'}, {0x00000080, 'A'},
	{0x00000004, 'c'}, {0x00000800, 'E'}, {0x00004000, 'j'}, {0x00001000, 'I'},
	{0x00008000, 't'}, {0x00020000, 'T'}, {0x00080000, 'e'}, {0x00800000, 'C'},
	{0x02000000, 'x'}, {0x40000000, 'F'}, {0x10000000, 'N'}, {0x20000000, 'P'},
	{0x00100000, 'V'}, {0x00000400, 'm'},
}

// FormatFlags returns inode flags as lsattr prints them, one column per
// flag it knows: 0x00080010 is "----i---------e-------".
func FormatFlags(flags uint32) string {
	b := make([]byte, len(lsattrFlags))
	for i, f := range lsattrFlags {
		b[i] = '-'
		if flags&f.bit != 0 {
			b[i] = f.letter
		}
	}
	return string(b)
}
