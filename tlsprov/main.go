// Command tlsprov turns TLS secrets into the files servers load — PEM, a JKS
// keystore and truststore, PKCS#12 — and can create a CA and issue
// certificates. The code is in internal/tlsprov; see docs/tlsprov.md.
//
// Exit codes: 0 success, 1 unexpected failure, 2 usage, 3 input missing or
// malformed, 4 inputs invalid (key mismatch, untrusted chain, expired leaf),
// 5 writing failed (nothing left behind) or would overwrite a CA.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/tlsprov"
)

func main() {
	os.Exit(tlsprov.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
