package alerts

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
)

// privilegedGroups are the groups whose members may become root through
// sudo, doas or polkit on common distributions.
var privilegedGroups = []string{"wheel", "sudo", "admin"}

// maxAccountsFile bounds what [ReadAccounts] reads of a file.
const maxAccountsFile = 4 << 20

// Accounts are facts about privileged accounts that a changed /etc/passwd
// or /etc/group shows as it is now (vigil.accounts). vigil keeps no old
// content, so it cannot tell which line changed: these are the accounts
// to look at, not a list of what was added. /etc/shadow is never read.
type Accounts struct {
	// UID0 names the accounts other than root with uid 0 (from passwd).
	UID0 []string `json:"uid0,omitempty"`
	// Privileged maps each of wheel, sudo and admin that exists to its
	// members (from group).
	Privileged map[string][]string `json:"privileged_groups,omitempty"`
	// What changed, when the file's content is kept (a diff): the
	// accounts added (passwd) or groups added (group), the accounts whose
	// uid became 0, and the members added to wheel, sudo or admin.
	Added           []string            `json:"added,omitempty"`
	UID0Added       []string            `json:"uid0_added,omitempty"`
	PrivilegedAdded map[string][]string `json:"privileged_added,omitempty"`
}

// ReadAccounts returns the facts of the account database at path, when
// path ends in etc/passwd or etc/group (under any root, as the table's
// patterns match) and is a regular file it can read without following a
// symlink, and shows a privileged account; nil otherwise. It reads at
// most 4 MiB.
func ReadAccounts(path string) *Accounts {
	names := strings.Split(strings.Trim(path, "/"), "/")
	if len(names) < 2 || names[len(names)-2] != "etc" {
		return nil
	}
	kind := names[len(names)-1]
	if kind != "passwd" && kind != "group" {
		return nil
	}
	data, err := readNoFollow(path, maxAccountsFile)
	if err != nil {
		return nil
	}
	a := parseGroup(data)
	if kind == "passwd" {
		a = parsePasswd(data)
	}
	if len(a.UID0) == 0 && len(a.Privileged) == 0 {
		return nil
	}
	return a
}

// parsePasswd returns the accounts other than root with uid 0. Only the
// name and uid fields are looked at: a password field is never copied.
func parsePasswd(data []byte) *Accounts {
	a := &Accounts{}
	eachLine(data, func(f []string) {
		if len(f) >= 3 && f[2] == "0" && f[0] != "root" {
			a.UID0 = append(a.UID0, f[0])
		}
	})
	return a
}

// parseGroup returns the members of the privileged groups.
func parseGroup(data []byte) *Accounts {
	a := &Accounts{}
	eachLine(data, func(f []string) {
		if len(f) < 4 || !slices.Contains(privilegedGroups, f[0]) {
			return
		}
		if a.Privileged == nil {
			a.Privileged = map[string][]string{}
		}
		members := []string{}
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		a.Privileged[f[0]] = members
	})
	return a
}

// eachLine calls fn with the colon-separated fields of each line of data
// that is not a comment.
func eachLine(data []byte, fn func([]string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxAccountsFile)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}

// readAll reads r up to limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit))
}
