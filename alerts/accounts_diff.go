package alerts

import (
	"slices"
	"strings"
)

// accountsKind returns "passwd" or "group" when path is an account
// database the classification table reads (etc/passwd, etc/group under any
// root), "" otherwise.
func accountsKind(path string) string {
	names := strings.Split(strings.Trim(path, "/"), "/")
	if len(names) < 2 || names[len(names)-2] != "etc" {
		return ""
	}
	if k := names[len(names)-1]; k == "passwd" || k == "group" {
		return k
	}
	return ""
}

// addDiffAccounts fills the added fields of a from the removed and added
// lines of unified, the diff of kind's file (passwd or group). A line that
// changed is both removed and added: only what the added side has and the
// removed side had not counts. Only names, uids and member lists are read.
func addDiffAccounts(a *Accounts, kind, unified string) {
	removed, added := map[string][]string{}, map[string][]string{}
	var order []string
	for l := range strings.Lines(unified) {
		l = strings.TrimSuffix(l, "\n")
		if len(l) < 2 || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || l[1] == '#' {
			continue
		}
		f := strings.Split(l[1:], ":")
		if len(f) < 3 {
			continue
		}
		switch l[0] {
		case '-':
			removed[f[0]] = f
		case '+':
			added[f[0]] = f
			order = append(order, f[0])
		}
	}
	for _, name := range order {
		f, old := added[name], removed[name]
		if old == nil {
			a.Added = append(a.Added, name)
		}
		switch {
		case kind == "passwd" && f[2] == "0" && name != "root" && (old == nil || old[2] != "0"):
			a.UID0Added = append(a.UID0Added, name)
		case kind == "group" && len(f) >= 4 && slices.Contains(privilegedGroups, name):
			var was []string
			if len(old) >= 4 {
				was = members(old[3])
			}
			for _, m := range members(f[3]) {
				if !slices.Contains(was, m) {
					if a.PrivilegedAdded == nil {
						a.PrivilegedAdded = map[string][]string{}
					}
					a.PrivilegedAdded[name] = append(a.PrivilegedAdded[name], m)
				}
			}
		}
	}
}

// members splits a group's member list.
func members(list string) []string {
	var out []string
	for m := range strings.SplitSeq(list, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}
