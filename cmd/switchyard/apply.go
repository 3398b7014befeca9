package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// exitCode ends the program with a code of its own, without a message
// (the command said what happened): apply --dry-run exits 2 when it
// would change something.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// routes are the management API's paths of each kind apply changes.
var routes = map[string]string{"source": "/admin/v1/sources", "destination": "/admin/v1/destinations",
	"workflow": "/admin/v1/workflows", cdp.ResourceAlertChannel: "/admin/v1/alert-channels", cdp.ResourceAlertRule: "/admin/v1/alert-rules",
	cdp.ResourceTrackingPlan: "/admin/v1/tracking-plans"}

// runApply makes a server hold a configuration file's sources,
// destinations, workflows and alerts through its management API: the file
// is read and checked as the server reads it (its environment variables
// expanded here), the server plans the changes (POST /admin/v1/plan),
// apply prints them and makes them one by one through the ordinary
// routes, in the plan's order. A second apply finds nothing to do.
func runApply(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c adminClient
	var file string
	var dry, prune bool
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	managementFlags(fs, &c.base, &c.token)
	fs.StringVar(&file, "f", "", "the configuration file (YAML, as switchyard serve reads it; required)")
	fs.BoolVar(&dry, "dry-run", false, "print what would change and change nothing (exit 2 if something would)")
	fs.BoolVar(&prune, "prune", false, "also remove what was created through the API and the file does not name")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if file == "" {
		return errors.New("apply: -f FILE is required")
	}
	cfg, err := config.Load(file, getenv, builtin.Registry)
	if err == nil {
		err = cfg.Validate(builtin.Registry)
	}
	if err != nil {
		return fmt.Errorf("apply: %s: %w", file, err)
	}
	resolveToken(&c.token, getenv)
	desired, err := yaml.Marshal(admin.Desired{Sources: cfg.Sources, Destinations: cfg.Destinations, Workflows: cfg.Workflows,
		Alerts: admin.DesiredAlerts{Channels: cfg.Alerts.Channels, Rules: cfg.Alerts.Rules}, Plans: cfg.TrackingPlans})
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	var plan admin.Plan
	path := "/admin/v1/plan"
	if prune {
		path += "?prune=true"
	}
	if err := c.send(ctx, "POST", path, "application/yaml", desired, &plan); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if len(plan.Changes) == 0 {
		fmt.Fprintf(stdout, "apply: nothing to do: the server holds the %s of %s as written\n", plural(plan.Unchanged, "item"), file)
		return nil
	}
	conflicts := 0
	for _, ch := range plan.Changes {
		printChange(stdout, ch)
		if ch.Conflict != "" {
			conflicts++
		}
	}
	fmt.Fprintf(stdout, "apply: %s, %d unchanged\n", plural(len(plan.Changes), "change"), plan.Unchanged)
	switch {
	case conflicts > 0:
		return fmt.Errorf("apply: %s cannot be made here: nothing was changed", plural(conflicts, "change"))
	case dry:
		return exitCode(2)
	}
	for i, ch := range plan.Changes {
		if err := applyChange(ctx, c, ch); err != nil {
			return fmt.Errorf("apply: %s %s: %w (%d of %d changes made)", ch.Kind, ch.ID, err, i, len(plan.Changes))
		}
	}
	fmt.Fprintf(stdout, "apply: made %s\n", plural(len(plan.Changes), "change"))
	return nil
}

// printChange writes one line per change: + added, ~ changed (with the
// fields), - removed, ! cannot be made; secrets only as changed or not.
func printChange(out io.Writer, ch admin.Change) {
	mark := map[string]string{"add": "+", "change": "~", "remove": "-"}[ch.Action]
	if ch.Conflict != "" {
		mark = "!"
	}
	line := fmt.Sprintf("%s %s %s", mark, strings.ReplaceAll(ch.Kind, "_", " "), ch.ID)
	if len(ch.Fields) > 0 {
		line += ": " + strings.Join(ch.Fields, ", ")
	}
	var secrets []string
	for _, k := range slices.Sorted(maps.Keys(ch.Secrets)) {
		secrets = append(secrets, k+" "+ch.Secrets[k])
	}
	if len(secrets) > 0 {
		line += " (secrets: " + strings.Join(secrets, ", ") + ")"
	}
	if ch.Conflict != "" {
		line += ": " + ch.Conflict
	}
	fmt.Fprintln(out, line)
}

// applyChange makes one change through its route.
func applyChange(ctx context.Context, c adminClient, ch admin.Change) error {
	base := routes[ch.Kind]
	switch ch.Action {
	case "add":
		return c.send(ctx, "POST", base, "application/json", ch.Body, nil)
	case "change":
		return c.send(ctx, "PUT", base+"/"+url.PathEscape(ch.ID), "application/json", ch.Body, nil)
	case "remove":
		return c.send(ctx, "DELETE", base+"/"+url.PathEscape(ch.ID), "", nil, nil)
	}
	return fmt.Errorf("unknown action %q", ch.Action)
}
