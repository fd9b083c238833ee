package nix_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"vigil/internal/nix"
)

// Known answers: what nix-store -q --hash and the database print for the
// same NAR hash of a tree added with nix-store --add.
func TestBase32KnownAnswer(t *testing.T) {
	const hex = "sha256:a5f540593247b0dd99fba9f3330578b6b4a5a356793624a3eb12c0ffc060df45"
	const b32 = "sha256:0ifzc30gzh0jxfij8dkrasisbd5ng02k7wx9zfcxvc2769cl1xd5"
	a, err := nix.ParseSHA256(hex)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nix.ParseSHA256(b32)
	if err != nil || a != b {
		t.Fatalf("ParseSHA256(%s) = %x, %v; want %x (= ParseSHA256 of the hex)", b32, b, err, a)
	}
	if got := "sha256:" + nix.Base32(a[:]); got != b32 {
		t.Errorf("Base32(%x) = %s, want %s", a, got, b32)
	}
	// The store path Nix made of it: nix-store --add of a directory "d".
	const want = "/nix/store/l628lk52xjr9q3syvjk8xd705d1jipfv-d"
	if got := nix.MakeStorePath("source", a, nix.StoreDir, "d"); got != want {
		t.Errorf("MakeStorePath(source, %x, d) = %s, want %s", a, got, want)
	}
	info := &nix.PathInfo{Path: want, Hash: hex, CA: "fixed:r:" + b32}
	if !nix.ContentAddressed(info, nix.StoreDir) {
		t.Errorf("ContentAddressed(%+v) = false, want true", info)
	}
	info.Hash = "sha256:" + nix.Base32(make([]byte, 32))
	if nix.ContentAddressed(info, nix.StoreDir) {
		t.Errorf("ContentAddressed with a NAR hash other than the CA's = true, want false")
	}
	for _, bad := range []string{"md5:00", "sha256:xyz", "sha256:" + hex[7:70], "sha256:e" + b32[8:]} {
		if _, err := nix.ParseSHA256(bad); !errors.Is(err, nix.ErrBadHash) {
			t.Errorf("ParseSHA256(%q) = %v, want ErrBadHash", bad, err)
		}
	}
}

// FuzzBase32: decoding what Base32 encodes gives the digest back.
func FuzzBase32(f *testing.F) {
	f.Add([]byte("vigil"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sum := sha256.Sum256(data)
		got, err := nix.ParseSHA256("sha256:" + nix.Base32(sum[:]))
		if err != nil || !bytes.Equal(got[:], sum[:]) {
			t.Fatalf("ParseSHA256(Base32(%x)) = %x, %v", sum, got, err)
		}
	})
}
