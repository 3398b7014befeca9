package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/version"
)

const sendUsage = "usage: switchyard send webhook --source ID --file BODY [--url URL] [--admin-url URL] [--token TOKEN] [--content-type TYPE] [--id WEBHOOK_ID]"

// runSend sends something to a running server the way a client would.
// Today: `send webhook`, which signs a body as the source's provider signs
// it (Customer.io's v0, Standard Webhooks or the source's HMAC), so that a
// new source can be tried before the provider is pointed at it.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] != "webhook" && wantsHelp(args) {
		fmt.Fprintln(stdout, sendUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "webhook" {
		return errors.New(sendUsage)
	}
	fs := flag.NewFlagSet("send webhook", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8686", "the server's URL, where the webhook is sent")
	adminURL := fs.String("admin-url", "", "the management API's URL, where the source's secret is read, when admin.listen gives it a listener of its own (default: --url)")
	// The default is read after parsing: flag's help would print it.
	token := fs.String("token", "", "admin token, to read the source's secret (default $SWITCHYARD_ADMIN_TOKEN)")
	sourceID := fs.String("source", "", "the webhook source to send to")
	file := fs.String("file", "", "the body to send ('-' reads standard input)")
	contentType := fs.String("content-type", "application/json", "the body's Content-Type")
	id := fs.String("id", "", "the webhook-id of a Standard Webhooks source (default: a new id)")
	if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	if *token == "" {
		*token = getenv("SWITCHYARD_ADMIN_TOKEN")
	}
	if *sourceID == "" || *file == "" {
		return errors.New(sendUsage)
	}
	body, err := readInput(*file)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(*url, "/")
	src, err := fetchSource(ctx, strings.TrimSuffix(cmp.Or(*adminURL, *url), "/"), *token, *sourceID)
	if err != nil {
		return err
	}
	if *id == "" {
		*id = "msg_" + strings.ReplaceAll(cdp.NewID(), "-", "")
	}
	headers, err := hooks.Sign(src, body, time.Now(), *id)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/"+src.ID, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = headers
	req.Header.Set("Content-Type", *contentType)
	req.Header.Set("User-Agent", "switchyard-send/"+version.String())
	status, reply, err := do(req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d %s\n", status, reply)
	if status >= 300 {
		return fmt.Errorf("the server answered %d", status)
	}
	return nil
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// fetchSource reads the source, with its secret, from the management API.
func fetchSource(ctx context.Context, base, token, id string) (*cdp.Source, error) {
	var src cdp.Source
	if err := (adminClient{base, token}).call(ctx, "GET", "/admin/v1/sources/"+url.PathEscape(id), nil, &src); err != nil {
		return nil, fmt.Errorf("read source %s: %w", id, err)
	}
	return &src, nil
}

func do(req *http.Request) (int, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, bytes.TrimSpace(body), err
}
