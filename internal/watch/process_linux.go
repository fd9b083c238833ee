package watch

import (
	"bufio"
	"bytes"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// process reads what /proc says about pid. pidfd, when the kernel gave one
// (>= 0), tells whether the process outlived the reading: if it did not,
// the pid may already name another process, and only PID is kept.
func (f *Fanotify) process(pid, pidfd int) *Process {
	p := readProcess(pid)
	if pidfd >= 0 && unix.PidfdSendSignal(pidfd, 0, nil, 0) != nil {
		return &Process{PID: pid}
	}
	if p.UID != "" {
		name, ok := f.users[p.UID]
		if !ok {
			if u, err := user.LookupId(p.UID); err == nil {
				name = u.Username
			}
			f.users[p.UID] = name // unknown ids are not looked up again
		}
		p.User = name
	}
	return p
}

// readProcess reads /proc/pid: its executable, name, command line,
// parent and effective user. What cannot be read (the process is gone, or
// a zombie without an executable) stays empty.
func readProcess(pid int) *Process {
	p := &Process{PID: pid}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if exe, err := os.Readlink(dir + "exe"); err == nil {
		p.Executable = exe
	}
	if b, err := os.ReadFile(dir + "comm"); err == nil {
		p.Name = strings.TrimSuffix(string(b), "\n")
	}
	if b, err := os.ReadFile(dir + "cmdline"); err == nil && len(b) > 0 {
		p.Args = strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
	}
	b, err := os.ReadFile(dir + "status")
	if err != nil {
		return p
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		switch {
		case key == "PPid" && len(fields) == 1:
			p.PPID, _ = strconv.Atoi(fields[0])
		case key == "Uid" && len(fields) >= 2:
			p.UID = fields[1] // real, effective, saved, filesystem
		}
	}
	return p
}
