//go:build linux

package supervise

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// InterpreterError explains an execve(2) ENOENT for a file that exists:
// what is missing is the program that runs it — the interpreter of its
// "#!" line, or an ELF program's dynamic loader. The kernel says only
// "no such file or directory", naming nothing, which sends users hunting
// for a file that is right there (a script saved with Windows line ends
// asks for "/bin/sh\r": GoteoFoundation/goteo#632, podman#22779).
type InterpreterError struct {
	Path        string // the program that was run
	Interpreter string // what it asks for, as written
	Script      bool   // a "#!" line (else an ELF PT_INTERP)
	Err         error  // the system error, ENOENT
}

func (e *InterpreterError) Error() string {
	if !e.Script {
		return fmt.Sprintf("the file is there, but its dynamic loader %s is not (a program built for another C library or architecture?): %v", e.Interpreter, e.Err)
	}
	if i := bytes.IndexByte([]byte(e.Interpreter), '\r'); i >= 0 {
		return fmt.Sprintf("the file is there, but its #! line asks for %q: the script has Windows (CRLF) line ends; convert them to LF (dos2unix, or sed -i 's/\\r$//'): %v", e.Interpreter, e.Err)
	}
	return fmt.Sprintf("the file is there, but the interpreter its #! line names, %s, is not: %v", e.Interpreter, e.Err)
}

// Unwrap returns the system error.
func (e *InterpreterError) Unwrap() error { return e.Err }

// ExplainExecError (its message leaves naming path to the caller) returns err as an *InterpreterError when execve(2) of
// path failed with ENOENT though path is there and names a missing
// interpreter or loader; otherwise err unchanged.
func ExplainExecError(path string, err error) error {
	if !errors.Is(err, syscall.ENOENT) {
		return err
	}
	f, ferr := os.Open(path)
	if ferr != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line := head[2:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimLeft(line, " \t")
		if i := bytes.IndexAny(line, " \t"); i >= 0 {
			line = line[:i]
		}
		if len(line) == 0 {
			return err
		}
		if _, serr := os.Stat(string(line)); serr == nil {
			return err // there after all: not what failed
		}
		return &InterpreterError{Path: path, Interpreter: string(line), Script: true, Err: err}
	}
	ef, eerr := elf.NewFile(f)
	if eerr != nil {
		return err
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, rerr := io.ReadAll(p.Open())
		if rerr != nil {
			return err
		}
		interp := string(bytes.TrimRight(b, "\x00"))
		if _, serr := os.Stat(interp); serr == nil {
			return err
		}
		return &InterpreterError{Path: path, Interpreter: interp, Err: err}
	}
	return err
}
