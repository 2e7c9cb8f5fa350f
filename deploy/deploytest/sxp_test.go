package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	sxpOnce sync.Once
	sxpBin  string
	sxpErr  error
	sxpOut  []byte
)

// buildSxp builds the sxp binary once per test run and returns its path.
func buildSxp(t *testing.T) string {
	t.Helper()
	sxpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sxp-deploytest-bin-")
		if err != nil {
			sxpErr = err
			return
		}
		sxpBin = filepath.Join(dir, "sxp")
		build := exec.Command("go", "build", "-o", sxpBin, "./cmd/sxp")
		build.Dir = repoRoot(t)
		sxpOut, sxpErr = build.CombinedOutput()
	})
	if sxpErr != nil {
		t.Fatalf("go build ./cmd/sxp: %v\n%s", sxpErr, sxpOut)
	}
	return sxpBin
}
