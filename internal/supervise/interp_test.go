//go:build linux

package supervise

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// brokenLoaderCopy copies an ELF program of this machine with its dynamic
// loader's name changed to one that does not exist; "" when none is
// dynamically linked.
func brokenLoaderCopy(t *testing.T, dir string) (path, loader string) {
	t.Helper()
	for _, p := range []string{"/bin/true", "/usr/bin/true", "/bin/sh"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		var interp string
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				b := make([]byte, prog.Filesz)
				prog.ReadAt(b, 0)
				interp = string(bytes.TrimRight(b, "\x00"))
			}
		}
		f.Close()
		if interp == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		missing := interp[:len(interp)-1] + "Z" // same length: the header's offsets hold
		out := filepath.Join(dir, "prog")
		if err := os.WriteFile(out, bytes.Replace(data, []byte(interp), []byte(missing), 1), 0o755); err != nil {
			t.Fatal(err)
		}
		return out, missing
	}
	return "", ""
}

// TestStartExplainsAMissingInterpreter: execve(2) says ENOENT, "no such
// file or directory", when what is missing is the interpreter of a
// script's #! line — "/bin/sh\r" for a script saved with Windows line ends
// — or an ELF program's loader; the error said just that, for a file that
// is there (GoteoFoundation/goteo#632: two hours lost on it). It now names
// what is missing, and the exit code is 126, as bash's "bad interpreter".
func TestStartExplainsAMissingInterpreter(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	elfProg, loader := brokenLoaderCopy(t, dir)
	tests := []struct {
		name string
		path string
		code int
		want string // in the error; "" for none of the explanations
	}{
		{"CRLF line ends", write("crlf.sh", "#!/bin/sh\r\necho hi\r\n"), 126, `its #! line asks for "/bin/sh\r": the script has Windows (CRLF) line ends`},
		{"CRLF after an argument", write("crlfarg.sh", "#!/bin/sh -e\r\necho hi\r\n"), 0, ""},
		{"missing interpreter", write("py.sh", "#! /opt/nowhere/python3 -u\nprint(1)\n"), 126, "the interpreter its #! line names, /opt/nowhere/python3, is not"},
		{"missing file", filepath.Join(dir, "nope"), 127, ""},
		{"loader of an ELF program", elfProg, 126, "its dynamic loader " + loader + " is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path == "" {
				t.Skip("no dynamically linked program found to copy")
			}
			p, err := Start(Spec{Path: tt.path})
			if tt.code == 0 {
				// "/bin/sh" with the argument "-e\r" runs: the kernel splits
				// the #! line at the first blank, so nothing is missing.
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				<-p.Done()
				return
			}
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("Start: %v, want a StartError", err)
			}
			if !errors.Is(err, syscall.ENOENT) {
				t.Errorf("%v does not wrap ENOENT", err)
			}
			if se.ExitCode() != tt.code {
				t.Errorf("exit code %d, want %d", se.ExitCode(), tt.code)
			}
			var ie *InterpreterError
			if tt.want == "" {
				if errors.As(err, &ie) {
					t.Errorf("explained a missing file: %v", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}
