package textdiff

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// apply rebuilds new from old and the script, and counts its edits.
func apply(t *testing.T, old, new []string, es []Edit) ([]string, int) {
	t.Helper()
	var out []string
	edits, oi, ni := 0, 0, 0
	for _, e := range es {
		switch e.Op {
		case Equal:
			if e.OldAt != oi || e.NewAt != ni {
				t.Fatalf("equal run at %d/%d, want %d/%d", e.OldAt, e.NewAt, oi, ni)
			}
			for i := range e.N {
				if old[oi+i] != new[ni+i] {
					t.Fatalf("equal run: old[%d]=%q new[%d]=%q", oi+i, old[oi+i], ni+i, new[ni+i])
				}
			}
			out = append(out, old[oi:oi+e.N]...)
			oi, ni = oi+e.N, ni+e.N
		case Delete:
			oi += e.N
			edits += e.N
		case Insert:
			out = append(out, new[e.NewAt:e.NewAt+e.N]...)
			ni += e.N
			edits += e.N
		}
	}
	if oi != len(old) {
		t.Fatalf("script consumed %d old lines of %d", oi, len(old))
	}
	return out, edits
}

// lcs is the textbook dynamic program: the edit distance is
// len(a)+len(b)-2*lcs.
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func TestLinesShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		n := r.IntN(12)
		out := make([]string, n)
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	for i := range 3000 {
		old, new := gen(), gen()
		got, edits := apply(t, old, new, Lines(old, new))
		if !slices.Equal(got, new) {
			t.Fatalf("case %d: Lines(%q, %q) rebuilds %q", i, old, new, got)
		}
		if want := len(old) + len(new) - 2*lcs(old, new); edits != want {
			t.Fatalf("case %d: Lines(%q, %q) has %d edits, want %d", i, old, new, edits, want)
		}
	}
}

func TestLinesBeyondMaxEdits(t *testing.T) {
	var old, new []string
	for i := range MaxEdits {
		old = append(old, "old"+strings.Repeat("x", i%7), "same")
		new = append(new, "new"+strings.Repeat("y", i%5), "same")
	}
	old = append([]string{"head"}, append(old, "tail")...)
	new = append([]string{"head"}, append(new, "tail")...)
	got, _ := apply(t, old, new, Lines(old, new))
	if !slices.Equal(got, new) {
		t.Fatal("Lines beyond MaxEdits does not rebuild new")
	}
}

func TestUnified(t *testing.T) {
	old := "# sshd\nPort 22\nPermitRootLogin no\nPasswordAuthentication no\nX11Forwarding no\nUsePAM yes\nA\nB\nC\nD\nE\nF\nG\nlast\n"
	new := "# sshd\nPort 22\nPermitRootLogin yes\nPasswordAuthentication no\nX11Forwarding no\nUsePAM yes\nA\nB\nC\nD\nE\nF\nG\nlast\nadded"
	d := Unified([]byte(old), []byte(new), Options{OldName: "/etc/ssh/sshd_config (baseline)", NewName: "/etc/ssh/sshd_config"})
	want := `--- /etc/ssh/sshd_config (baseline)
+++ /etc/ssh/sshd_config
@@ -1,6 +1,6 @@
 # sshd
 Port 22
-PermitRootLogin no
+PermitRootLogin yes
 PasswordAuthentication no
 X11Forwarding no
 UsePAM yes
@@ -12,3 +12,4 @@
 F
 G
 last
+added
\ No newline at end of file
`
	if d.Unified != want {
		t.Errorf("Unified:\n%s\nwant:\n%s", d.Unified, want)
	}
	if d.Added != 2 || d.Removed != 1 || d.Truncated || d.Masked != 0 {
		t.Errorf("Unified counts: %+v, want 2 added, 1 removed, not truncated, none masked", d)
	}
}

func TestUnifiedEmptySides(t *testing.T) {
	d := Unified(nil, []byte("a\nb\n"), Options{OldName: "x", NewName: "y"})
	if want := "--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n"; d.Unified != want {
		t.Errorf("Unified(nil, a b):\n%s\nwant:\n%s", d.Unified, want)
	}
	d = Unified([]byte("a\n"), nil, Options{OldName: "x", NewName: "y"})
	if want := "--- x\n+++ y\n@@ -1 +0,0 @@\n-a\n"; d.Unified != want {
		t.Errorf("Unified(a, nil):\n%s\nwant:\n%s", d.Unified, want)
	}
	if d := Unified([]byte("same\n"), []byte("same\n"), Options{}); d.Unified != "" {
		t.Errorf("Unified of equal texts: %q, want empty", d.Unified)
	}
}

func TestUnifiedTruncated(t *testing.T) {
	var b strings.Builder
	for i := range 500 {
		b.WriteString(strings.Repeat("l", i%9+1) + "\n")
	}
	d := Unified(nil, []byte(b.String()), Options{MaxLines: 50})
	if got := strings.Count(d.Unified, "\n"); got != 50 {
		t.Errorf("Unified with MaxLines 50: %d lines", got)
	}
	if !d.Truncated || d.Omitted != 500+3-50 || d.Added != 500 {
		t.Errorf("Unified with MaxLines 50: %+v, want truncated, %d omitted, 500 added", d, 500+3-50)
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"password = hunter2", "password = ****"},
		{"  DB_PASSWORD='s3cr3t value'", "  DB_PASSWORD=****"},
		{"export API_KEY=abc123", "export API_KEY=****"},
		{"client_secret: xyz", "client_secret: ****"},
		{"rootpw {SSHA}abcdef", "rootpw ****"},
		{"PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "PrivateKey = ****"},
		{"psk=\"wifi pass\"", "psk=****"},
		{"root:$6$salt$hash:19000:0:99999:7:::", "root:****:19000:0:99999:7:::"},
		{"url = https://user:pa55@example.com/x", "url = https://user:****@example.com/x"},
		{"Authorization: Bearer abc.def", "Authorization: ****"},
		{"# token: old", "# token: ****"},
		// Shown: no secret here.
		{"PasswordAuthentication no", "PasswordAuthentication no"},
		{"PermitRootLogin prohibit-password", "PermitRootLogin prohibit-password"},
		{"password required pam_unix.so sha512 shadow", "password required pam_unix.so sha512 shadow"},
		{"Port 22", "Port 22"},
		{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host"},
	} {
		got, masked := Mask(tc.in)
		if got != tc.want || masked != (tc.in != tc.want) {
			t.Errorf("Mask(%q) = %q, %v; want %q, %v", tc.in, got, masked, tc.want, tc.in != tc.want)
		}
	}
}

func TestMaskLinesPrivateKey(t *testing.T) {
	in := []string{"a", "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk", "-----END OPENSSH PRIVATE KEY-----", "c"}
	got := MaskLines(in)
	for i, want := range []bool{false, true, true, true, false} {
		if got[i].Masked != want || (want && strings.Contains(got[i].Line, "b3Bl")) {
			t.Errorf("MaskLines line %d %q: %+v, masked want %v", i, in[i], got[i], want)
		}
	}
}

func TestUnifiedMasks(t *testing.T) {
	d := Unified([]byte("user = app\npassword = old-secret\n"), []byte("user = app\npassword = new-secret\n"), Options{})
	if strings.Contains(d.Unified, "secret") || !strings.Contains(d.Unified, "-password = ****\n+password = ****") || d.Masked != 2 {
		t.Errorf("Unified of a password change:\n%s(masked %d), want both lines masked", d.Unified, d.Masked)
	}
}

func TestIsText(t *testing.T) {
	long := strings.Repeat("a", 8191) + "é" // cut by the first block
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"ascii", "Port 22\n", true},
		{"utf8", "Grüße\n", true},
		{"empty", "", true},
		{"nul", "ELF\x00\x01", false},
		{"latin1", "Gr\xfc\xdfe\n", false},
		{"cut at block end", long, true},
	} {
		if got := IsText([]byte(tc.in)); got != tc.want {
			t.Errorf("IsText(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHasPrivateKey(t *testing.T) {
	for in, want := range map[string]bool{
		"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n":                                  false,
		"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nx\n": true,
		"-----BEGIN PRIVATE KEY-----\n":         true,
		"-----BEGIN ENCRYPTED PRIVATE KEY-----": true,
		"plain":                                 false,
	} {
		if got := HasPrivateKey([]byte(in)); got != want {
			t.Errorf("HasPrivateKey(%q) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkUnified(b *testing.B) {
	var o, n strings.Builder
	for i := range 2000 {
		line := "option" + strings.Repeat("x", i%13) + " value\n"
		o.WriteString(line)
		if i%100 == 0 {
			line = "changed " + line
		}
		n.WriteString(line)
	}
	old, new := []byte(o.String()), []byte(n.String())
	b.SetBytes(int64(len(new)))
	b.ReportAllocs()
	for b.Loop() {
		Unified(old, new, Options{})
	}
}

func TestUnifiedLongLine(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4000 bytes
	d := Unified([]byte("a\n"), []byte(long+"\n"), Options{})
	for l := range strings.Lines(d.Unified) {
		if len(l) > MaxLineBytes+40 {
			t.Errorf("Unified shows a line of %d bytes, want at most about %d", len(l), MaxLineBytes)
		}
	}
	if !strings.Contains(d.Unified, " more bytes)") || !utf8.ValidString(d.Unified) {
		t.Errorf("Unified of a long line: %q, want it cut at a character and counted", d.Unified[len(d.Unified)-40:])
	}
}
