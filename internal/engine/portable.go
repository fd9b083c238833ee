package engine

import (
	"path"

	"vigil/merkle"
)

// HostSpecific are the paths a host holds of its own, left out of the
// portable tree by default: two hosts built from one configuration differ
// there by design (patterns of path.Match; a directory's subtree goes with
// it).
var HostSpecific = []string{
	"/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostname", "/etc/hostid", "/etc/adjtime",
	"/etc/ssh/ssh_host_*", "/etc/wireguard", "/etc/vigil/*.key", "/var/lib/nixos",
}

// portableTee builds the portable tree beside the attested one, from the
// same entries in the same pass, leaving out the host's own paths.
type portableTee struct {
	attested *merkle.Builder
	portable *merkle.Builder
	skip     []string
	skipping string // the directory being left out, with its subtree
}

func newPortableTee(attested *merkle.Builder, keep merkle.Attr, skip []string) *portableTee {
	return &portableTee{attested: attested, portable: merkle.NewPortableBuilder(keep, nil), skip: skip}
}

func (t *portableTee) Add(e *merkle.Entry) error {
	if err := t.attested.Add(e); err != nil {
		return err
	}
	if t.skipping != "" && merkle.Within(e.Path, t.skipping) {
		return nil
	}
	t.skipping = ""
	for _, pat := range t.skip {
		if ok, _ := path.Match(pat, e.Path); ok {
			if e.Type == merkle.TypeDir {
				t.skipping = e.Path
			}
			return nil
		}
	}
	return t.portable.Add(e)
}
