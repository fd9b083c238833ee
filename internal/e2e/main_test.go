package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// built is the vigil binary, built once per test binary by vigilBinary.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// vigilBinary builds cmd/vigil (once) and returns the binary's path.
func vigilBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "vigil-e2e-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "vigil")
		out, err := exec.Command("go", "build", "-o", built.bin, "vigil/cmd/vigil").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build vigil/cmd/vigil: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
