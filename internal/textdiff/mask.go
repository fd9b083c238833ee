package textdiff

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
)

// Pattern is one entry of the masking list: what it finds, for the
// README, and the expression; the value is what submatch "v" holds, or
// the whole match.
type Pattern struct {
	Name string
	re   *regexp.Regexp
}

// Patterns is the masking list, in the order applied. Every line of a PEM
// private key block ("-----BEGIN ... PRIVATE KEY-----" to its END line) is
// masked too.
var Patterns = []Pattern{
	{"a value assigned with = or : to a name meaning a secret (" + secretNames + ")",
		regexp.MustCompile(`(?i)^[\s#;]*(?:export\s+)?["']?` + secretName + `["']?\s*[=:]\s*(?P<v>\S.*)$`)},
	{"a single word after a name meaning a secret and a space (rootpw WORD, PrivateKey WORD)",
		regexp.MustCompile(`(?i)^[\s#;]*` + secretName + `\s+(?P<v>\S+)\s*$`)},
	{"a crypt(3) password hash ($1$, $2b$, $5$, $6$, $y$, $gy$, $7$, $argon2id$)",
		regexp.MustCompile(`(?P<v>\$(?:1|2[abxy]?|5|6|y|gy|7|argon2(?:id|i|d))\$[^\s:]+)`)},
	{"credentials in a URL (scheme://user:password@host)",
		regexp.MustCompile(`://[^/\s:@]+:(?P<v>[^/\s@]+)@`)},
	{"an Authorization header or bearer token",
		regexp.MustCompile(`(?i)(?:authorization|bearer)\s*[:=]?\s*(?P<v>\S+.*)$`)},
}

// secretName is a name holding one of the words meaning a secret.
const secretName = `[\w.-]*(?:pass(?:word|wd|phrase)?|secret|token|api_?key|access_?key|private_?key|credentials?|psk|pre_?shared_?key|bindpw|rootpw|auth_?key)[\w.-]*`

// secretNames lists the words, for the README.
const secretNames = "password, passwd, passphrase, pass, secret, token, api_key, apikey, access_key, private_key, privatekey, credential, psk, preshared_key, bindpw, rootpw, auth_key"

// notSecret are values a secret-looking name may have that hold no secret
// (sshd's PasswordAuthentication yes): they are shown.
var notSecret = []string{"yes", "no", "true", "false", "on", "off", "none", "0", "1", "without-password", "prohibit-password"}

// Masked is a line as shown, and whether a pattern masked part of it.
type Masked struct {
	Line   string
	Masked bool
}

// Mask returns line with the values the patterns find replaced by "****".
func Mask(line string) (string, bool) {
	masked := false
	for _, p := range Patterns {
		v := p.re.SubexpIndex("v")
		ms := p.re.FindAllStringSubmatchIndex(line, -1)
		for i := len(ms) - 1; i >= 0; i-- {
			a, b := ms[i][2*v], ms[i][2*v+1]
			if a < 0 || line[a:b] == "****" || slices.Contains(notSecret, strings.ToLower(strings.TrimSpace(line[a:b]))) {
				continue
			}
			line = line[:a] + "****" + line[b:]
			masked = true
		}
	}
	return line, masked
}

// MaskLines masks each line (see [Mask]) and every line of a PEM private
// key block, BEGIN and END lines included.
func MaskLines(lines []string) []Masked {
	out := make([]Masked, len(lines))
	keys := keyLines(lines)
	for i, l := range lines {
		out[i] = maskLine(l, keys[i])
	}
	return out
}

// maskLine masks one line; inKey says it lies in a private key block.
func maskLine(l string, inKey bool) Masked {
	if inKey {
		return Masked{"**** (private key)", true}
	}
	m, ok := Mask(l)
	return Masked{m, ok}
}

// keyLines marks the lines of PEM private key blocks.
func keyLines(lines []string) []bool {
	out := make([]bool, len(lines))
	inKey := false
	for i, l := range lines {
		if !inKey && strings.Contains(l, "-----BEGIN ") && strings.Contains(l, "PRIVATE KEY-----") {
			inKey = true
		}
		out[i] = inKey
		if inKey && strings.Contains(l, "-----END ") {
			inKey = false
		}
	}
	return out
}

// HasPrivateKey reports whether b holds a PEM private key (or an OpenSSH
// one): such a file is never kept, whatever its name.
func HasPrivateKey(b []byte) bool {
	i := bytes.Index(b, []byte("-----BEGIN "))
	for i >= 0 {
		rest := b[i:]
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest)
		}
		if bytes.Contains(rest[:end], []byte("PRIVATE KEY-----")) {
			return true
		}
		j := bytes.Index(rest[1:], []byte("-----BEGIN "))
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}
