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

// kernelInfo is what the kernel said of a process through its pidfd
// (PIDFD_GET_INFO, Linux 6.13) as soon as the batch holding its event was
// read: its parent and effective user, which a process that exited but
// was not yet reaped (a zombie) still has and /proc/PID/exe no longer
// shows. known is false when the kernel had no answer (older kernels, or
// the process was already reaped).
// exe is /proc/PID/exe read at the same moment (a process that exited
// has none), trusted only if the process is found not reaped afterwards.
type kernelInfo struct {
	known bool
	ppid  int
	uid   string
	exe   string
}

// pidfdInfo asks the kernel about the process of pidfd (pid).
func pidfdInfo(pid, pidfd int) kernelInfo {
	var k kernelInfo
	k.exe, _ = os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_PID | unix.PIDFD_INFO_CREDS}
	if unix.IoctlPidfdInfo(pidfd, &info) != nil || info.Mask&(unix.PIDFD_INFO_PID|unix.PIDFD_INFO_CREDS) != unix.PIDFD_INFO_PID|unix.PIDFD_INFO_CREDS {
		return kernelInfo{exe: k.exe}
	}
	k.known, k.ppid, k.uid = true, int(info.Ppid), strconv.FormatUint(uint64(info.Euid), 10)
	return k
}

// reaped reports whether the process of pidfd is gone for good (reaped by
// its parent): its pid may name another process from then on.
func reaped(pidfd int) bool {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_PID}
	if err := unix.IoctlPidfdInfo(pidfd, &info); err == nil {
		return info.Mask&unix.PIDFD_INFO_PID == 0
	}
	return unix.PidfdSendSignal(pidfd, 0, nil, 0) != nil // before Linux 6.13 (a zombie takes signal 0 too)
}

// process reads what /proc says about pid. pidfd, when the kernel gave one
// (>= 0), tells whether the process outlived the reading: if it did not,
// the pid may already name another process, and only PID is kept, with
// the parent and user the kernel gave through the pidfd before (k).
func (f *Fanotify) process(pid, pidfd int, k kernelInfo) *Process {
	p := readProcess(pid)
	if p.Executable == "" {
		p.Executable = k.exe // read first; gone at exit
	}
	if pidfd >= 0 && reaped(pidfd) {
		p = &Process{PID: pid} // /proc/PID may have been another's
	}
	if k.known {
		p.PPID, p.UID = k.ppid, k.uid
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
