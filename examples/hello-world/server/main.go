// Command server is hello-world's tiny HTTPS server. It reads hello.conf
// (rendered by bootstrap from hello.conf.mustache) for its greeting, listen
// address and TLS files (written by tlsprov), and serves:
//
//	GET /        "<greeting> from <name> (instance N)"
//	GET /health  "ok"
//
// It exits on SIGTERM.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func readConf(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	conf := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not key=value", path, line)
		}
		conf[k] = v
	}
	return conf, sc.Err()
}

func run() error {
	conf, err := readConf("hello.conf")
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(conf["cert"], conf["key"])
	if err != nil {
		return fmt.Errorf("loading TLS files: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from %s (instance %s)\n", conf["greeting"], conf["name"], conf["instance"])
	})
	srv := &http.Server{Addr: conf["listen"], Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServeTLS("", "") }()
	fmt.Printf("serving %s on %s\n", conf["name"], conf["listen"])
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
