package posture

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxRead bounds what is read of one file of /proc, /sys or /etc.
const maxRead = 16 << 20

// readFile reads a regular file without following a symlink at its last
// element and without blocking on (or opening) anything else: a FIFO or a
// device at the path is refused.
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRead))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return b, nil
}

func readTrim(path string) (string, error) {
	b, err := readFile(path)
	return strings.TrimSpace(string(b)), err
}

// collect runs the collector name; it returns why it cannot run here, ""
// when it ran.
func (c *Collector) collect(ctx context.Context, name string, s *sink) string {
	switch name {
	case "sysctl":
		return c.sysctls(s)
	case "module":
		return modules(s)
	case "kernel":
		return kernel(s)
	case "lockdown":
		return lockdown(s)
	case "secureboot":
		return secureBoot(s)
	case "lsm":
		return oneFile(s, "lsm:stack", "/sys/kernel/security/lsm", "securityfs not mounted")
	case "selinux":
		return selinux(s)
	case "apparmor":
		return apparmor(s)
	case "socket":
		return sockets(s)
	case "nft":
		return nft(ctx, s)
	case "mount":
		return c.mounts(s)
	case "accounts":
		return c.accounts(s)
	case "systemd":
		return c.systemd(ctx, s)
	case "lynis":
		return c.lynis(ctx, s)
	}
	return "unknown collector"
}

// sysctls records the default and configured kernel parameters; one the
// kernel lacks is [Absent].
func (c *Collector) sysctls(s *sink) string {
	if _, err := os.Stat("/proc/sys/kernel"); err != nil {
		return "no /proc/sys: " + err.Error()
	}
	for _, name := range slices.Concat(DefaultSysctls, c.opts.Sysctls) {
		p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		if strings.Contains(name, "*") {
			matches, _ := filepath.Glob(p) // the only error is a bad pattern: none then
			for _, m := range matches {
				v, err := readTrim(m)
				if err == nil {
					s.add("sysctl:"+strings.ReplaceAll(strings.TrimPrefix(m, "/proc/sys/"), "/", "."), normSpace(v))
				}
			}
			continue
		}
		v, err := readTrim(p)
		if err != nil {
			v = Absent
		}
		s.add("sysctl:"+name, normSpace(v))
	}
	return ""
}

// normSpace turns runs of blanks (sysctls holding several numbers use tabs)
// into one space.
func normSpace(v string) string { return strings.Join(strings.Fields(v), " ") }

// modules records each loaded module, with its taint flags (E: unsigned,
// O: out of tree, ...).
func modules(s *sink) string {
	b, err := readFile("/proc/modules")
	if err != nil {
		return "no loadable modules (/proc/modules: " + errors.Unwrap(err).Error() + ")"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := moduleLine(line); ok {
			s.add(k, v)
		}
	}
	return ""
}

// moduleLine parses a line of /proc/modules: "name size refs deps state
// address [(taint flags)]".
func moduleLine(line string) (key, value string, ok bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", "", false
	}
	value = "loaded"
	if last := f[len(f)-1]; len(f) > 6 && strings.HasPrefix(last, "(") && strings.HasSuffix(last, ")") {
		value += " taint=" + strings.Trim(last, "()")
	}
	return "module:" + f[0], value, true
}

// kernel records the command line and the taint mask.
func kernel(s *sink) string {
	cmdline, err := readTrim("/proc/cmdline")
	if err != nil {
		return err.Error()
	}
	s.add("kernel:cmdline", cmdline)
	if t, err := readTrim("/proc/sys/kernel/tainted"); err == nil {
		s.add("kernel:tainted", t)
	}
	return ""
}

// lockdown records the kernel lockdown mode (the bracketed word).
func lockdown(s *sink) string {
	v, err := readTrim("/sys/kernel/security/lockdown")
	if err != nil {
		return "no lockdown LSM or securityfs not mounted"
	}
	if i, j := strings.IndexByte(v, '['), strings.IndexByte(v, ']'); i >= 0 && j > i {
		v = v[i+1 : j]
	}
	s.add("lockdown:mode", v)
	return ""
}

// secureBoot records the SecureBoot EFI variable: 4 bytes of attributes,
// then 1 (enabled) or 0.
func secureBoot(s *sink) string {
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		return "not booted with EFI"
	}
	b, err := readFile("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0e6c0e8c")
	switch {
	case err != nil:
		s.add("secureboot:state", "disabled")
	case len(b) == 5 && b[4] == 1:
		s.add("secureboot:state", "enabled")
	default:
		s.add("secureboot:state", "disabled")
	}
	return ""
}

func oneFile(s *sink, key, path, why string) string {
	v, err := readTrim(path)
	if err != nil {
		return why
	}
	s.add(key, v)
	return ""
}

func selinux(s *sink) string {
	v, err := readTrim("/sys/fs/selinux/enforce")
	if err != nil {
		return "SELinux not enabled"
	}
	mode := "permissive"
	if v == "1" {
		mode = "enforcing"
	}
	s.add("selinux:mode", mode)
	return ""
}

// apparmor records each loaded profile's mode ("name (enforce)").
func apparmor(s *sink) string {
	b, err := readFile("/sys/kernel/security/apparmor/profiles")
	if err != nil {
		return "AppArmor not enabled"
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		i := strings.LastIndex(line, " (")
		if i < 0 || !strings.HasSuffix(line, ")") {
			continue
		}
		s.add("apparmor:"+line[:i], line[i+2:len(line)-1])
	}
	return ""
}

// socketTables are the files of /proc/thread-self/net read for sockets, with
// the state of the sockets recorded: TCP listening (0A), UDP bound and
// unconnected (07).
var socketTables = []struct{ proto, state string }{
	{"tcp", "0A"}, {"tcp6", "0A"}, {"udp", "07"}, {"udp6", "07"},
}

// sockets records each listening socket of this thread's network
// namespace, with the path of the program holding it.
func sockets(s *sink) string {
	keys := map[uint64][]string{} // socket inode -> keys
	read := 0
	for _, t := range socketTables {
		b, err := readFile("/proc/thread-self/net/" + t.proto)
		if err != nil {
			continue
		}
		read++
		for line := range strings.Lines(string(b)) {
			key, ino, ok := socketLine(t.proto, t.state, line)
			if ok {
				keys[ino] = append(keys[ino], key)
			}
		}
	}
	if read == 0 {
		return "no /proc/thread-self/net"
	}
	progs := socketOwners(keys)
	for ino, ks := range keys {
		prog, ok := progs[ino]
		if !ok {
			prog = "(unknown)"
		}
		for _, k := range ks {
			s.add(k, prog)
		}
	}
	return ""
}

// socketLine parses one line of /proc/net/{tcp,udp}[6]: it returns the
// item key "socket:PROTO:ADDR:PORT" and the inode of a socket in state.
func socketLine(proto, state, line string) (string, uint64, bool) {
	f := strings.Fields(line)
	if len(f) < 10 || f[3] != state {
		return "", 0, false
	}
	if strings.HasPrefix(proto, "udp") && !strings.HasSuffix(f[2], ":0000") {
		return "", 0, false // connected: a client, not a service
	}
	addr, ok := parseAddr(f[1])
	if !ok {
		return "", 0, false
	}
	ino, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil || ino == 0 {
		return "", 0, false
	}
	return "socket:" + strings.TrimSuffix(proto, "6") + ":" + addr.String(), ino, true
}

// parseAddr parses "0100007F:0016": the address as the kernel's 32-bit
// words in host (little-endian) order, the port big-endian.
func parseAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(a)
	port, perr := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// socketOwners maps the socket inodes wanted to the path of a program
// holding them, by reading the links of /proc/PID/fd (as text: nothing is
// followed).
func socketOwners(want map[uint64][]string) map[uint64]string {
	out := map[uint64]string{}
	if len(want) == 0 {
		return out
	}
	d, err := os.Open("/proc")
	if err != nil {
		return out
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	slices.Sort(names)
	for _, pid := range names {
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		fdDir := "/proc/" + pid + "/fd"
		fds, err := readDirNames(fdDir)
		if err != nil {
			continue // gone, or a kernel thread
		}
		for _, fd := range fds {
			l, err := os.Readlink(fdDir + "/" + fd)
			ino, ok := strings.CutPrefix(l, "socket:[")
			if err != nil || !ok {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64)
			if _, wanted := want[n]; err != nil || !wanted {
				continue
			}
			if _, done := out[n]; done {
				continue
			}
			if exe, err := os.Readlink("/proc/" + pid + "/exe"); err == nil {
				out[n] = exe
			}
		}
		if len(out) == len(want) {
			break
		}
	}
	return out
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// mounts records the options that matter (ro, nosuid, nodev, noexec) and
// the type of the mounts at the configured points, as this thread's mount
// namespace sees them.
func (c *Collector) mounts(s *sink) string {
	b, err := readFile("/proc/thread-self/mountinfo")
	if err != nil {
		return "no /proc/thread-self/mountinfo"
	}
	points := c.opts.Mounts
	if len(points) == 0 {
		points = DefaultMounts
	}
	seen := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if mp, v, ok := mountLine(line); ok {
			seen[mp] = v // the last mount at a point is the one in force
		}
	}
	for _, p := range points {
		v, ok := seen[filepath.Clean(p)]
		if !ok {
			v = NotMounted
		}
		s.add("mount:"+p, v)
	}
	return ""
}

// mountLine parses a line of mountinfo: the mount point (unescaped) and
// "FSTYPE ro|rw[,nosuid][,nodev][,noexec]".
func mountLine(line string) (string, string, bool) {
	f := strings.Fields(line)
	sep := slices.Index(f, "-")
	if len(f) < 6 || sep < 6 || sep+1 >= len(f) {
		return "", "", false
	}
	opts := strings.Split(f[5], ",")
	kept := []string{"rw"}
	if slices.Contains(opts, "ro") {
		kept[0] = "ro"
	}
	for _, o := range []string{"nosuid", "nodev", "noexec"} {
		if slices.Contains(opts, o) {
			kept = append(kept, o)
		}
	}
	return unescapeMount(f[4]), f[sep+1] + " " + strings.Join(kept, ","), true
}

// unescapeMount undoes the octal escapes (\040) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// accounts records the names of accounts with uid 0, with a login shell,
// and (from shadow) with an empty password. Nothing else of the files is
// kept: no hash leaves shadow.
func (c *Collector) accounts(s *sink) string {
	b, err := readFile(c.etc("passwd"))
	if err != nil {
		return err.Error()
	}
	var uid0, login []string
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		if len(f) < 7 {
			continue
		}
		if f[2] == "0" {
			uid0 = append(uid0, f[0])
		}
		if shell := filepath.Base(f[6]); f[6] != "" && shell != "nologin" && shell != "false" && shell != "sync" &&
			shell != "halt" && shell != "shutdown" {
			login = append(login, f[0])
		}
	}
	s.add("accounts:uid0", list(uid0))
	s.add("accounts:login_shell", list(login))
	if b, err := readFile(c.etc("shadow")); err == nil {
		var empty []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			name, rest, ok := strings.Cut(sc.Text(), ":")
			if pw, _, _ := strings.Cut(rest, ":"); ok && pw == "" {
				empty = append(empty, name)
			}
		}
		s.add("accounts:empty_password", list(empty))
	}
	return ""
}

func list(names []string) string {
	if len(names) == 0 {
		return None
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// errString is err's text for an unavailable reason.
func errString(what string, err error) string { return fmt.Sprintf("%s: %v", what, err) }
