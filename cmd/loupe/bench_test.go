package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The load command runs end to end, briefly, so that it cannot rot: every
// phase runs, no request fails, and the report has its tables. No timing
// is asserted: the figures depend on the machine.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three one-second load phases")
	}
	db := filepath.Join(t.TempDir(), "bench.db")
	code, out, errOut := runCLI(t, "", "bench", "--labelers", "4", "--duration", "1s", "--items", "500", "--db", db)
	if code != 0 {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"phase", "request", "count", "p50", "p90", "p99", "max", "pairs/s",
		"baseline (bare handler)", "baseline (raw sqlite)", "loupe ",
		"ratio loupe/baseline (bare handler)", "ratio loupe/baseline (raw sqlite)",
		"non-2xx responses: 0, requests without an answer: 0, SQLITE_BUSY: 0, server errors logged: 0",
		"target (brief)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// --db keeps the database it was given.
	if _, err := os.Stat(db); err != nil {
		t.Errorf("--db file: %v", err)
	}
}

func TestBenchFlags(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "existing.db")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--sync", "FAST"}, 2, "--sync must be FULL or NORMAL"},
		{[]string{"--labelers", "0"}, 2, "--labelers must be between"},
		{[]string{"--duration", "0s"}, 2, "--duration must be more than 0"},
		{[]string{"--think", "-1s"}, 2, "--think must not be negative"},
		{[]string{"--db", existing}, 1, "already exists"},
		{[]string{"extra"}, 2, "takes 0 argument"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, "", append([]string{"bench"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	code, out, _ := runCLI(t, "", "bench", "--help")
	if code != 0 || !strings.Contains(out, "--labelers") {
		t.Errorf("bench --help: exit %d, output %q", code, out)
	}
}
