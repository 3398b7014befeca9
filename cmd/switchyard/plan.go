package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"

	"go.yaml.in/yaml/v3"
)

const planUsage = "usage: switchyard plan infer --source ID --type T [--format json|yaml] [--out FILE] [--url URL] [--token T]"

// runPlan serves `switchyard plan infer`: a starting JSON Schema for one
// event type of one source, inferred by the server from its event catalog
// (GET /admin/v1/catalog/schema), printed as JSON or as the YAML of a
// tracking plan's entry, to paste under tracking_plans and tighten.
func runPlan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "infer" {
		if wantsHelp(args) {
			fmt.Fprintln(stdout, planUsage)
			return nil
		}
		return errors.New(planUsage)
	}
	var c adminClient
	var source, typ, format, out string
	fs := flag.NewFlagSet("plan infer", flag.ContinueOnError)
	managementFlags(fs, &c.base, &c.token)
	fs.StringVar(&source, "source", "", "the source (required)")
	fs.StringVar(&typ, "type", "", "the event type (required)")
	fs.StringVar(&format, "format", "json", "json (the schema) or yaml (a tracking plan's events entry, schema included)")
	fs.StringVar(&out, "out", "", "write to this file instead of standard output")
	if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	resolveToken(&c.token, getenv)
	if source == "" || typ == "" {
		return errors.New("plan infer: --source and --type are required")
	}
	if format != "json" && format != "yaml" {
		return fmt.Errorf("plan infer: --format must be json or yaml, not %q", format)
	}
	var schema map[string]any
	q := url.Values{"source": {source}, "type": {typ}}
	if err := c.call(ctx, "GET", "/admin/v1/catalog/schema?"+q.Encode(), nil, &schema); err != nil {
		return fmt.Errorf("plan infer: %w", err)
	}
	var data []byte
	var err error
	if format == "json" {
		data, err = json.MarshalIndent(schema, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(map[string]any{"events": map[string]any{typ: map[string]any{"properties": schema}}})
	}
	if err != nil {
		return fmt.Errorf("plan infer: %w", err)
	}
	if out == "" {
		_, err = stdout.Write(data)
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("plan infer: %w", err)
	}
	fmt.Fprintf(stderr, "wrote the schema of %s events of source %s to %s\n", typ, source, out)
	return nil
}
