package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/config"
)

// serveFlags are the flags of serve; set ones override the file.
type serveFlags struct {
	configPath string
	overrides  map[string]string
}

func parseServeFlags(args []string, stdout, stderr io.Writer) (*serveFlags, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := &serveFlags{overrides: map[string]string{}}
	fs.StringVar(&f.configPath, "config", "", "configuration file (YAML); none = defaults")
	names := map[string]string{
		"listen":       "address of the main listener (default :8686)",
		"data-dir":     "directory of the embedded store and event log (default ./data)",
		"admin-listen": "separate address for the management API (default: the main listener)",
		"postgres-url": "PostgreSQL store instead of the embedded SQLite",
		"nats-url":     "external NATS JetStream instead of the embedded one",
		"nats-prefix":  "prefix of the stream names and subjects on a shared NATS",
		"durability":   "process (default) or fsync",
		"log-format":   "text (default) or json; JSON lines logged inside a trace carry trace_id and span_id",
	}
	vals := map[string]*string{}
	for name, help := range names {
		vals[name] = fs.String(name, "", help)
	}
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) {
		if v, ok := vals[fl.Name]; ok {
			f.overrides[fl.Name] = *v
		}
	})
	return f, nil
}

// loadConfig reads the file (if any), applies flag overrides, validates.
func loadConfig(f *serveFlags, getenv func(string) string) (*config.Config, error) {
	cfg := config.Default()
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath, getenv, builtin.Registry); err != nil {
			return nil, err
		}
	}
	for name, v := range f.overrides {
		switch name {
		case "listen":
			cfg.Listen = v
		case "data-dir":
			cfg.DataDir = v
		case "admin-listen":
			cfg.Admin.Listen = v
		case "postgres-url":
			cfg.PostgresURL = v
		case "nats-url":
			cfg.NATSURL = v
		case "nats-prefix":
			cfg.NATSPrefix = v
		case "durability":
			cfg.Durability = v
		case "log-format":
			cfg.Log.Format = v
		}
	}
	if err := cfg.Validate(builtin.Registry); err != nil {
		return nil, err
	}
	return cfg, nil
}

func validateConfig(path string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(path, getenv, builtin.Registry)
	if err != nil {
		return err
	}
	if err := cfg.Validate(builtin.Registry); err != nil {
		return err
	}
	steps := 0
	for _, w := range cfg.Workflows {
		steps += len(w.Steps)
	}
	fmt.Fprintf(stdout, "%s: ok: %s, %s, %s with %s, %s to %s; every CEL expression compiled, every reference resolved\n", path,
		plural(len(cfg.Sources), "source"), plural(len(cfg.Destinations), "destination"), plural(len(cfg.Workflows), "workflow"), plural(steps, "step"),
		plural(len(cfg.Alerts.Rules), "alert rule"), plural(len(cfg.Alerts.Channels), "channel"))
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
