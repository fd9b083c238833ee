package posture

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nft records the digest of the nftables ruleset (`nft list ruleset`) and
// its number of lines: the rules themselves stay out of the baseline.
func nft(ctx context.Context, s *sink) string {
	bin, err := exec.LookPath("nft")
	if err != nil {
		return "nft not installed"
	}
	out, err := exec.CommandContext(ctx, bin, "list", "ruleset").Output()
	if err != nil {
		return errString("nft list ruleset", err)
	}
	sum := sha256.Sum256(out)
	s.add("nft:ruleset", "sha256:"+hex.EncodeToString(sum[:]))
	s.add("nft:lines", strconv.Itoa(bytes.Count(out, []byte("\n"))))
	return ""
}

// lynis runs lynis audit system (--cronjob --quick) with its report and
// log in a directory of its own, removed afterwards, and records the
// hardening index and the ids of the warnings (not their text). The run is
// bounded by the collector's lynis timeout: past it, lynis and every
// process it started (its own process group) are killed.
func (c *Collector) lynis(ctx context.Context, s *sink) string {
	bin, err := exec.LookPath("lynis")
	if err != nil {
		return "lynis not installed"
	}
	dir, err := os.MkdirTemp("", "vigil-lynis-")
	if err != nil {
		return errString("lynis", err)
	}
	defer os.RemoveAll(dir)
	timeout := c.opts.LynisTimeout
	if timeout <= 0 {
		timeout = DefaultLynisTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report := filepath.Join(dir, "report.dat")
	args := []string{"audit", "system", "--cronjob", "--quick", "--no-colors",
		"--report-file", report, "--logfile", filepath.Join(dir, "lynis.log")}
	if len(c.opts.LynisTests) > 0 {
		args = append(args, "--tests", strings.Join(c.opts.LynisTests, " "))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			removeLynisPID(cmd.Process.Pid)
			return fmt.Sprintf("lynis audit system: killed after %v (the posture's lynis timeout)", timeout)
		}
		return errString("lynis audit system", err)
	}
	b, err := readFile(report)
	if err != nil {
		return err.Error()
	}
	index, warnings := parseLynis(string(b))
	if index == "" {
		return "lynis: no hardening_index in its report"
	}
	s.add("lynis:hardening_index", index)
	s.add("lynis:warnings", list(warnings))
	return ""
}

// removeLynisPID removes the PID file a killed lynis leaves (root's is
// /var/run/lynis.pid) when it names the killed process, and only then:
// left, it makes every later lynis --cronjob quit at once ("another Lynis
// process is running"), ours and the administrator's.
func removeLynisPID(pid int) {
	for _, f := range []string{"/var/run/lynis.pid", "/run/lynis.pid"} {
		b, err := readFile(f)
		if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
			_ = os.Remove(f)
		}
	}
}

// parseLynis reads lynis-report.dat: hardening_index=N and the test ids of
// the warning[]=ID|text|... lines.
func parseLynis(report string) (index string, warnings []string) {
	for line := range strings.Lines(report) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "hardening_index="); ok {
			index = v
		}
		if v, ok := strings.CutPrefix(line, "warning[]="); ok {
			id, _, _ := strings.Cut(v, "|")
			warnings = append(warnings, id)
		}
	}
	return index, warnings
}

// systemd records, per service, the exposure score systemd-analyze
// security gives it and the checks it fails: offline for the configured
// unit files, else online for every loaded service where systemd runs.
func (c *Collector) systemd(ctx context.Context, s *sink) string {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return "systemd-analyze not installed"
	}
	if len(c.opts.Units) == 0 {
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return "systemd is not running and no posture units are configured"
		}
		out, err := exec.CommandContext(ctx, bin, "security", "--no-pager").Output()
		if err != nil {
			return errString("systemd-analyze security", err)
		}
		for unit, score := range parseSecurityTable(string(out)) {
			s.add("systemd:"+unit+":exposure", score)
		}
		return ""
	}
	for _, u := range c.opts.Units {
		sc, err := c.unitScore(ctx, bin, u)
		if err != nil {
			s.add("systemd:"+filepath.Base(u)+":exposure", "(error: "+err.Error()+")")
			continue
		}
		s.add("systemd:"+filepath.Base(u)+":exposure", sc.exposure)
		s.add("systemd:"+filepath.Base(u)+":failing", list(sc.failing))
	}
	return ""
}

// unitScore analyses one unit file offline, or returns what an analysis of
// the same content by the same systemd-analyze said.
func (c *Collector) unitScore(ctx context.Context, bin, unit string) (unitScore, error) {
	content, err := readFile(unit)
	if err != nil {
		return unitScore{}, err
	}
	h := sha256.New()
	h.Write([]byte(bin + "\x00" + unit + "\x00"))
	h.Write(content)
	key := hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	sc, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return sc, nil
	}
	out, err := exec.CommandContext(ctx, bin, "security", "--offline=true", "--no-pager", unit).Output()
	if err != nil && len(out) == 0 {
		return unitScore{}, &os.PathError{Op: "systemd-analyze security", Path: unit, Err: err}
	}
	sc = parseSecurity(string(out))
	if sc.exposure == "" {
		return unitScore{}, &os.PathError{Op: "systemd-analyze security", Path: unit, Err: errNoScore}
	}
	c.mu.Lock()
	c.cache[key] = sc
	c.mu.Unlock()
	return sc, nil
}

// parseSecurity reads the text of `systemd-analyze security UNIT`: the
// names of the failing checks (lines starting with ✗) and the overall
// exposure ("→ Overall exposure level for UNIT: 9.2 UNSAFE").
func parseSecurity(out string) unitScore {
	var sc unitScore
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "✗"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				sc.failing = append(sc.failing, f[0])
			}
			continue
		}
		if _, rest, ok := strings.Cut(line, "Overall exposure level for "); ok {
			if _, score, ok := strings.Cut(rest, ": "); ok {
				if f := strings.Fields(score); len(f) > 0 {
					sc.exposure = f[0]
				}
			}
		}
	}
	return sc
}

// parseSecurityTable reads the table `systemd-analyze security` prints for
// all units: "UNIT EXPOSURE PREDICATE HAPPY".
func parseSecurityTable(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.Contains(f[0], ".") && f[0] != "UNIT" {
			m[f[0]] = f[1]
		}
	}
	return m
}
