package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/version"
)

// printVersion writes what `switchyard version` reports: the version, the
// commit it was built from and when, and the Go release.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "switchyard %s\n", version.String())
	if rev := version.Setting("vcs.revision"); rev != "" {
		if version.Setting("vcs.modified") == "true" {
			rev += " (with uncommitted changes)"
		}
		fmt.Fprintf(w, "  revision   %s\n", rev)
		fmt.Fprintf(w, "  committed  %s\n", version.Setting("vcs.time"))
	} else {
		fmt.Fprintln(w, "  revision   unknown (built outside a git checkout, or with -buildvcs=false)")
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			fmt.Fprintf(w, "  built      %s\n", st.ModTime().UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintf(w, "  go         %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

const usage = `switchyard: a self-hosted customer-event hub

Usage:
  switchyard serve [--config FILE] [--listen :8686] [--data-dir ./data] [--admin-listen ADDR]
                   [--durability process|fsync] [--postgres-url URL] [--nats-url URL] [--nats-prefix P]
                                        run the server (embedded engines unless URLs are given)
  switchyard tail [--url URL] [--token T] [--source ID] [--type T] [--filter CEL] [--json]
                                        follow the events a server stores, live
  switchyard listen --source ID --forward URL [--url URL] [--token T] [--type T] [--filter CEL] [--secret whsec_…]
                                        forward live events to a local app, signed (Standard Webhooks)
  switchyard backfill --workflow ID --since T [--until T] [--filter CEL] [--limit N] [--include-ran] [--from-archive] [--dry-run]
                                        run a workflow over stored events, with a progress line
  switchyard replay --source ID --since T [--until T] [--filter CEL] [--dry-run] [--force] [--from-archive] [--url URL] [--token T]
                                        re-parse captured requests with the source's current configuration
  switchyard export --since T [--until T] [--format parquet|ndjson] --to file:///dir|s3://bucket/prefix [--url URL] [--token T]
                                        write the events received in a range to files, as the archive does
  switchyard apply -f FILE [--dry-run] [--prune] [--url URL] [--token T]
                                        make a server hold a file's sources, destinations, workflows, alerts and tracking plans
                                        (exit 2 on --dry-run when something would change)
  switchyard plan infer --source ID --type T [--format json|yaml] [--out FILE] [--url URL] [--token T]
                                        a starting JSON Schema for an event type, from the event catalog
  switchyard send webhook --source ID --file BODY [--url URL] [--admin-url URL] [--token T] [--id ID]
                                        sign and send a webhook as its provider would
  switchyard bench [flags]              open-loop load generator
  switchyard config validate FILE       check a configuration file
  switchyard health [--url URL]         exit 0 if the node at URL is ready (GET /readyz)
  switchyard version                    version, revision and build time

Every command takes --help.
`

// errHelp ends a command that printed its help: the process exits 0.
var errHelp = flag.ErrHelp

// parseFlags parses a command's flags; --help prints them on stdout
// (and the command ends with errHelp), a bad flag prints them on stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage of switchyard %s:\n", fs.Name())
		fs.PrintDefaults()
	case err != nil:
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "%v\nUsage of switchyard %s:\n", err, fs.Name())
		fs.PrintDefaults()
	}
	return err
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" })
}

// run is the whole program behind main: it takes the process inputs as
// arguments so that tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], getenv, stdout, stderr)
	case "listen":
		return runListen(ctx, args[1:], getenv, stdout, stderr)
	case "backfill":
		return runBackfill(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	case "apply":
		return runApply(ctx, args[1:], getenv, stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], getenv, stdout, stderr)
	case "plan":
		return runPlan(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "health":
		return runHealth(ctx, args[1:], stdout, stderr)
	case "config":
		if wantsHelp(args[1:]) {
			fmt.Fprintln(stdout, configUsage)
			return nil
		}
		if len(args) != 3 || args[1] != "validate" {
			return errors.New(configUsage)
		}
		return validateConfig(args[2], getenv, stdout)
	case "version", "--version", "-v":
		printVersion(stdout)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

const configUsage = "usage: switchyard config validate FILE   (compiles every CEL expression and checks every reference)"
