// Command testreport summarizes `go test -json` for CI (see
// internal/testreport):
//
//	go test -json ./... | go run ./scripts/testreport -require keytool,openssl
//
// It exits 1 when a test failed, a package did not build, a result was
// cached, or a test skipped for want of a tool named by -require. With
// -summary FILE the end of the report (skips, errors, totals) goes to FILE
// instead of stdout, for a caller that prints it last.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskkit/taskkit/internal/testreport"
)

func main() {
	require := flag.String("require", "", "comma-separated tools CI installs: a test skipped for want of one fails the run")
	summary := flag.String("summary", "", "write the skips, errors and totals to this file instead of stdout")
	flag.Parse()
	s, err := testreport.Read(os.Stdin, os.Stdout, strings.FieldsFunc(*require, func(r rune) bool { return r == ',' || r == ' ' }))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	out := os.Stdout
	if *summary != "" {
		f, err := os.Create(*summary)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(1)
		}
		defer f.Close()
		out = f
	}
	s.Write(out)
	if !s.OK() {
		out.Close()
		os.Exit(1)
	}
}
