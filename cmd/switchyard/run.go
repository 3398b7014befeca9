package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `switchyard: a self-hosted customer-event hub

Usage:
  switchyard serve [--config FILE] [--listen :8686] [--data-dir ./data] [--admin-listen ADDR]
  switchyard tail [--url URL] [--source ID] [--type T] [--filter CEL] [--json]
                                        follow the events a server stores, live
  switchyard send webhook --source ID --file BODY [--url URL]
                                        sign and send a webhook as its provider would
  switchyard bench [flags]              open-loop load generator (switchyard bench -h)
  switchyard config validate FILE       check a configuration file
  switchyard version
`

// run is the whole program behind main: it takes the process inputs as
// arguments so that tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], getenv, stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) != 3 || args[1] != "validate" {
			return errors.New("usage: switchyard config validate FILE")
		}
		return validateConfig(args[2], getenv, stdout)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "switchyard %s\n", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
