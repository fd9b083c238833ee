package alerts

import (
	"bytes"
	"path"
	"slices"
	"strings"

	"vigil/merkle"
)

// Framework is the threat.framework of every technique vigil names.
const Framework = "MITRE ATT&CK"

// Technique is a MITRE ATT&CK technique and sub-technique, as ECS splits
// them: threat.technique.id "T1548", threat.technique.subtechnique.id
// "T1548.001".
type Technique struct {
	ID, Name       string
	SubID, SubName string
}

// Reference returns the ATT&CK page of the sub-technique.
func (t Technique) Reference() string {
	id, sub, _ := strings.Cut(t.SubID, ".")
	return "https://attack.mitre.org/techniques/" + id + "/" + sub + "/"
}

// Techniques vigil names, by sub-technique id.
var (
	tSetuid   = Technique{"T1548", "Abuse Elevation Control Mechanism", "T1548.001", "Setuid and Setgid"}
	tSudo     = Technique{"T1548", "Abuse Elevation Control Mechanism", "T1548.003", "Sudo and Sudo Caching"}
	tCron     = Technique{"T1053", "Scheduled Task/Job", "T1053.003", "Cron"}
	tSystemd  = Technique{"T1543", "Create or Modify System Process", "T1543.002", "Systemd Service"}
	tPreload  = Technique{"T1574", "Hijack Execution Flow", "T1574.006", "Dynamic Linker Hijacking"}
	tSSHKeys  = Technique{"T1098", "Account Manipulation", "T1098.004", "SSH Authorized Keys"}
	tPAM      = Technique{"T1556", "Modify Authentication Process", "T1556.003", "Pluggable Authentication Modules"}
	tShell    = Technique{"T1546", "Event Triggered Execution", "T1546.004", "Unix Shell Configuration Modification"}
	tUdev     = Technique{"T1546", "Event Triggered Execution", "T1546.017", "Udev Rules"}
	tModules  = Technique{"T1547", "Boot or Logon Autostart Execution", "T1547.006", "Kernel Modules and Extensions"}
	tAccount  = Technique{"T1136", "Create Account", "T1136.001", "Local Account"}
	tPerms    = Technique{"T1222", "File and Directory Permissions Modification", "T1222.002", "Linux and Mac File and Directory Permissions Modification"}
	tRCScript = Technique{"T1037", "Boot or Logon Initialization Scripts", "T1037.004", "RC Scripts"}
)

// class is one row of the classification table: a tag, when it applies,
// and the technique it points to, if one does. A row matches either by
// what changed (test) or by where (paths).
//
// Paths are slash-separated patterns matched against the end of the
// absolute path at a name boundary: "etc/cron.d/*" matches
// /etc/cron.d/job, and also /var/lib/machines/web/etc/cron.d/job or a
// test's /tmp/x/etc/cron.d/job. Each name is a path.Match pattern; "**"
// stands for any number of names (zero included).
type class struct {
	tag       string
	when      string // for people: the README's table
	test      func(in *input) bool
	paths     []string
	technique *Technique
	split     [][]string // paths split into names, by compile
	// lead is, per split pattern, its first name when that is literal
	// ("" otherwise): only a path name equal to it can start a match.
	lead []string
}

// classes is the classification table: every tag vigil reports, in the
// order it reports them. Tags may repeat with other techniques.
var classes = compile([]class{
	{tag: "setuid_added", when: "a setuid bit appears on a file", test: bitAdded(0o4000), technique: &tSetuid},
	{tag: "setgid_added", when: "a setgid bit appears on a file", test: bitAdded(0o2000), technique: &tSetuid},
	{tag: "capabilities_changed", when: "file capabilities (security.capability) appear or change", test: capsChanged},
	{tag: "privileged_program_rewritten", when: "the content of a setuid or setgid file changes", test: privRewritten, technique: &tSetuid},
	{tag: "owner_of_executable_changed", when: "the owner or group of an executable file changes", test: execOwner},
	{tag: "new_executable", when: "an executable file appears", test: newExec},
	{tag: "made_executable", when: "a file becomes executable", test: madeExec},
	{tag: "world_writable", when: "a file or a directory without the sticky bit becomes writable by all", test: worldWritable, technique: &tPerms},
	{tag: "immutable_changed", when: "the immutable or append-only inode flag (chattr +i, +a) is set or cleared", test: immutableChanged, technique: &tPerms},
	{tag: "uid0_account", when: "/etc/passwd changes and shows an account other than root with uid 0", test: uid0Account, technique: &tAccount},
	{tag: "credentials", when: "account and password databases", paths: []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/security/opasswd", "etc/subuid", "etc/subgid"}},
	{tag: "auth_config", when: "sudo configuration", paths: []string{"etc/sudoers", "etc/sudoers.d/**", "etc/doas.conf"}, technique: &tSudo},
	{tag: "auth_config", when: "PAM configuration and modules", paths: []string{"etc/pam.d/**", "etc/pam.conf", "etc/security/**", "**/security/pam_*.so"}, technique: &tPAM},
	{tag: "auth_config", when: "SSH daemon configuration", paths: []string{"etc/ssh/sshd_config", "etc/ssh/sshd_config.d/**"}},
	{tag: "persistence", when: "cron tables", paths: []string{"etc/crontab", "etc/anacrontab", "etc/cron.d/**", "etc/cron.hourly/**", "etc/cron.daily/**", "etc/cron.weekly/**", "etc/cron.monthly/**", "var/spool/cron/**"}, technique: &tCron},
	{tag: "persistence", when: "systemd units", paths: []string{"etc/systemd/system/**", "etc/systemd/user/**", "lib/systemd/system/**", "lib/systemd/user/**", ".config/systemd/user/**"}, technique: &tSystemd},
	{tag: "persistence", when: "SSH authorized keys", paths: []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}, technique: &tSSHKeys},
	{tag: "persistence", when: "shell start-up files", paths: []string{"etc/profile", "etc/profile.d/**", "etc/bash.bashrc", "etc/bashrc", "etc/zshrc", "etc/zsh/**", "etc/environment", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zprofile", ".zshenv"}, technique: &tShell},
	{tag: "persistence", when: "rc scripts", paths: []string{"etc/rc.local", "etc/init.d/**", "etc/rc.d/**"}, technique: &tRCScript},
	{tag: "persistence", when: "udev rules", paths: []string{"etc/udev/rules.d/**", "lib/udev/rules.d/**"}, technique: &tUdev},
	{tag: "loader_preload", when: "the dynamic linker's preload list and search path", paths: []string{"etc/ld.so.preload", "etc/ld.so.conf", "etc/ld.so.conf.d/**"}, technique: &tPreload},
	{tag: "kernel_module", when: "kernel modules and their load lists", paths: []string{"lib/modules/**", "etc/modules", "etc/modules-load.d/**", "etc/modprobe.d/**"}, technique: &tModules},
})

// compile splits the path patterns of rows into names once.
func compile(rows []class) []class {
	for i := range rows {
		for _, p := range rows[i].paths {
			names := strings.Split(p, "/")
			rows[i].split = append(rows[i].split, names)
			lead := names[0]
			if strings.ContainsAny(lead, `*?[\`) {
				lead = ""
			}
			rows[i].lead = append(rows[i].lead, lead)
		}
	}
	return rows
}

// Security is what the classification table says about a change.
type Security struct {
	// Tags are the tags of the rows that match, each once, in table order.
	Tags []string
	// Techniques are the techniques of those rows, each once.
	Techniques []Technique
	// Accounts are the facts of a changed account database, nil for
	// other files.
	Accounts *Accounts
}

// input is what the rows of the table test: the change, its new entry
// (nil when deleted or unreadable), its old one (nil when created or
// moved: a move brings an entry from elsewhere) and the accounts a changed
// account database shows.
type input struct {
	c        merkle.Change
	n, o     *merkle.Entry
	accounts *Accounts
}

// Classify returns what the classification table says about c: path rows
// match the new path, and the old one of a move. For a change of
// /etc/passwd or /etc/group it reads the file as it is now (see
// [ReadAccounts]).
func Classify(c merkle.Change) Security {
	var s Security
	in := input{c: c}
	if c.Action != merkle.Deleted && c.New != nil && c.New.Type != merkle.TypeUnknown {
		in.n = c.New
		if c.Action != merkle.Created && c.Action != merkle.Moved {
			in.o = c.Old
		}
	}
	if in.n != nil && in.n.Type == merkle.TypeFile {
		in.accounts = ReadAccounts(c.Path)
		s.Accounts = in.accounts
	}
	var names [][]string
	for _, p := range []string{c.Path, oldPath(c)} {
		if p != "" {
			names = append(names, strings.Split(strings.Trim(p, "/"), "/"))
		}
	}
	for i := range classes {
		r := &classes[i]
		if r.test != nil && (in.n == nil || !r.test(&in)) {
			continue
		}
		if r.paths != nil && !slices.ContainsFunc(names, r.matches) {
			continue
		}
		if !slices.Contains(s.Tags, r.tag) {
			s.Tags = append(s.Tags, r.tag)
		}
		if r.technique != nil && !slices.Contains(s.Techniques, *r.technique) {
			s.Techniques = append(s.Techniques, *r.technique)
		}
	}
	return s
}

func oldPath(c merkle.Change) string {
	if c.Old != nil && c.Old.Path != c.Path {
		return c.Old.Path
	}
	return ""
}

// matches reports whether one of r's patterns matches the end of names.
func (r *class) matches(names []string) bool {
	for i, pat := range r.split {
		for start := range names {
			if r.lead[i] != "" && names[start] != r.lead[i] {
				continue
			}
			if matchNames(pat, names[start:]) {
				return true
			}
		}
	}
	return false
}

// matchNames reports whether pat matches all of names.
func matchNames(pat, names []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := len(names); i >= 0; i-- {
				if matchNames(pat[1:], names[i:]) {
					return true
				}
			}
			return false
		}
		if len(names) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], names[0]); !ok {
			return false
		}
		pat, names = pat[1:], names[1:]
	}
	return len(names) == 0
}

func bitAdded(m uint32) func(*input) bool {
	return func(in *input) bool {
		return in.n.Type == merkle.TypeFile && in.n.Perm&m != 0 && (in.o == nil || in.o.Perm&m == 0)
	}
}

func capsChanged(in *input) bool {
	nc, ok := xattr(in.n, CapabilityXattr)
	if !ok {
		return false
	}
	oc, had := xattr(in.o, CapabilityXattr)
	return !had || !bytes.Equal(oc, nc)
}

func privRewritten(in *input) bool {
	return in.o != nil && in.n.Type == merkle.TypeFile && in.n.Perm&0o6000 != 0 && in.c.Changed.Has(merkle.AttrContent)
}

func isExec(e *merkle.Entry) bool { return e != nil && e.Type == merkle.TypeFile && e.Perm&0o111 != 0 }

func execOwner(in *input) bool {
	return isExec(in.n) && isExec(in.o) && in.c.Changed&(merkle.AttrUID|merkle.AttrGID) != 0
}

func newExec(in *input) bool { return isExec(in.n) && in.o == nil }

func madeExec(in *input) bool { return isExec(in.n) && in.o != nil && in.o.Perm&0o111 == 0 }

func worldWritable(in *input) bool {
	ww := func(e *merkle.Entry) bool {
		switch {
		case e == nil:
			return false
		case e.Type == merkle.TypeDir:
			return e.Perm&0o002 != 0 && e.Perm&0o1000 == 0
		case e.Type == merkle.TypeFile:
			return e.Perm&0o002 != 0
		}
		return false
	}
	return ww(in.n) && !ww(in.o)
}

func uid0Account(in *input) bool { return in.accounts != nil && len(in.accounts.UID0) > 0 }

// Inode flags (linux/fs.h) that lock a file against root's ordinary writes.
const (
	flagImmutable = 0x10
	flagAppend    = 0x20
)

func immutableChanged(in *input) bool {
	n, o := in.n, in.o
	return o != nil && in.c.Changed.Has(merkle.AttrFlags) && n.HasFlags && o.HasFlags &&
		(n.Flags^o.Flags)&(flagImmutable|flagAppend) != 0
}

// xattr returns the value of e's extended attribute name.
func xattr(e *merkle.Entry, name string) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	for _, x := range e.Xattrs {
		if x.Name == name {
			return x.Value, true
		}
	}
	return nil, false
}
