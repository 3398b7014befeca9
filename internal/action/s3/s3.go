// Package s3 is the s3 destination kind and its s3.put action: an object
// put to a bucket of any S3-compatible store (AWS S3, MinIO, SeaweedFS,
// Cloudflare R2, Google Cloud Storage's XML API …).
package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the s3 destination kind and s3.put.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "s3",
		Description: "A bucket of any S3-compatible object store.",
		Settings: []action.Setting{
			{Name: "endpoint", Required: true, Description: "The store's URL: https://s3.amazonaws.com, https://<account>.r2.cloudflarestorage.com, http://127.0.0.1:9000 …"},
			{Name: "bucket", Required: true, Description: "The bucket objects are put in."},
			{Name: "prefix", Description: "Prepended to every key (such as events/): steps cannot write outside it."},
			{Name: "region", Description: "The bucket's region; default us-east-1."},
			{Name: "access_key_id", Description: "The access key; none for a store that allows anonymous writes."},
			{Name: "secret_access_key", Secret: true, Description: "The secret key."},
			{Name: "path_style", Description: `"true" to address the bucket in the path (endpoint/bucket/key), as most self-hosted stores want; default: as the endpoint suits.`},
		},
		Check:    check,
		Connect:  connect,
		Batching: batching,
	},
	Actions: []*action.Spec{put},
}

var put = &action.Spec{
	Kind: "s3.put", Destination: "s3", EventBody: true,
	Description: "Puts the body (default: the triggering event, as JSON) as the object key (under the destination's prefix), " +
		"with content_type and metadata as x-amz-meta-* headers, plus x-amz-meta-idempotency-key set to the step's key. A " +
		"retried put writes the same object again. With the destination's batch, the calls whose keys share a folder (up to " +
		"the last /) go as one NDJSON object, a line per call, named <folder><batch key>.ndjson. " +
		`Output: {"bucket", "key", "etag", "version_id"}.`,
	Inputs: []action.Input{
		{Name: "key", Type: action.String, Required: true, Description: "The object's key under the prefix, such as 'orders/' + event.id + '.json'."},
		{Name: "body", Type: action.Any, Description: "A string is sent as it is; anything else as JSON. Default: the event."},
		{Name: "content_type", Type: action.String, Description: "The object's Content-Type; default application/json, or text/plain for a string body."},
		{Name: "metadata", Type: action.Object, Description: "User metadata (x-amz-meta-*)."},
	},
	Build: build,
}

func check(d *action.Destination) map[string]string {
	p := map[string]string{}
	if e := d.Get("endpoint"); e != "" {
		if msg := action.CheckURL(e); msg != "" {
			p["endpoint"] = msg
		} else if u, _ := url.Parse(e); u.Path != "" && u.Path != "/" {
			p["endpoint"] = "must be the store's URL without a path; the bucket is a setting of its own"
		}
	}
	if b := d.Get("bucket"); b != "" && (len(b) < 3 || len(b) > 63 || strings.ContainsFunc(b, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	})) {
		p["bucket"] = "must be 3-63 lowercase letters, digits, '.' or '-'"
	}
	if ps := d.Get("path_style"); ps != "" && ps != "true" && ps != "false" {
		p["path_style"] = `must be "true" or "false"`
	}
	if (d.Get("access_key_id") == "") != (d.Get("secret_access_key") == "") {
		p["access_key_id"] = "access_key_id and secret_access_key go together"
	}
	return p
}

// Key rules: S3 takes up to 1024 bytes of UTF-8.
const maxKey = 1024

func build(d *action.Destination, in map[string]any, key string, _ time.Time) (action.Call, error) {
	object := d.Get("prefix") + action.Text(in["key"])
	switch {
	case action.Text(in["key"]) == "":
		return action.Call{}, errors.New("key: is empty")
	case len(object) > maxKey || !utf8.ValidString(object):
		return action.Call{}, fmt.Errorf("key: must be UTF-8 of at most %d bytes with the prefix", maxKey)
	case strings.Contains("/"+object+"/", "/../") || strings.Contains("/"+object+"/", "/./"):
		return action.Call{}, fmt.Errorf("key: %q must not have . or .. segments", object)
	}
	body, contentType, meta, err := action.Message(in, "metadata")
	if err != nil {
		return action.Call{}, err
	}
	if ct := action.Text(in["content_type"]); ct != "" {
		contentType = ct
	}
	if meta == nil {
		meta = map[string]string{}
	}
	meta["Idempotency-Key"] = key
	h := http.Header{"Content-Type": {contentType}}
	for k, v := range meta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	line, err := json.Marshal(in["body"]) // a batch's line: JSON, a string as a JSON string
	if err != nil {
		return action.Call{}, fmt.Errorf("body: %w", err)
	}
	return action.Call{
		Request: putRequest(d, object, h, body, meta),
		Output:  action.JSONOutput,
		Part:    &action.Part{Group: object[:strings.LastIndex(object, "/")+1], Data: line},
	}, nil
}

// putRequest is the put of body as object, for the run log and the wire.
func putRequest(d *action.Destination, object string, h http.Header, body []byte, meta map[string]string) httpclient.Request {
	bucket := d.Get("bucket")
	opts := minio.PutObjectOptions{ContentType: h.Get("Content-Type"), UserMetadata: meta, DisableMultipart: true}
	return httpclient.Request{Method: http.MethodPut, URL: strings.TrimSuffix(d.Get("endpoint"), "/") + "/" + bucket + "/" + object,
		Header: h, Body: body,
		Send: func(ctx context.Context, c httpclient.Conn) (httpclient.Reply, error) {
			return c.(*conn).put(ctx, bucket, object, body, opts)
		}}
}

// batching writes a batch as one NDJSON object, a line per call, named
// <folder><batch key>.ndjson after the folder (up to the last /) of the
// calls' keys: calls to one folder share a batch.
var batching = &action.Batching{Join: func(d *action.Destination, folder string, parts []action.Part, key string) (httpclient.Request, error) {
	var body []byte
	for _, p := range parts {
		body = append(append(body, p.Data...), '\n')
	}
	h := http.Header{"Content-Type": {"application/x-ndjson"}, "X-Amz-Meta-Idempotency-Key": {key}}
	return putRequest(d, folder+key+".ndjson", h, body, map[string]string{"Idempotency-Key": key}), nil
}}

// conn is a destination's S3 client, over the destination's guarded
// dialer.
type conn struct {
	cl *minio.Client
	tr *http.Transport
}

func connect(_ context.Context, d *action.Destination, dial httpclient.DialFunc) (httpclient.Conn, error) {
	tr := Transport(dial)
	cl, err := Open(d.Settings, tr)
	if err != nil {
		return nil, err
	}
	return &conn{cl: cl, tr: tr}, nil
}

// Transport is an HTTP transport for a store that reaches the network
// only through dial.
func Transport(dial httpclient.DialFunc) *http.Transport {
	return &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: time.Minute, ForceAttemptHTTP2: true}
}

// Open returns a client of the store the settings describe (those of an
// s3 destination), over tr.
func Open(settings map[string]string, tr http.RoundTripper) (*minio.Client, error) {
	u, err := url.Parse(settings["endpoint"])
	if err != nil {
		return nil, errors.New("the endpoint does not parse")
	}
	lookup := minio.BucketLookupAuto
	switch settings["path_style"] {
	case "true":
		lookup = minio.BucketLookupPath
	case "false":
		lookup = minio.BucketLookupDNS
	}
	region := settings["region"]
	if region == "" {
		region = "us-east-1" // saves a lookup of the bucket's region before the first request
	}
	return minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(settings["access_key_id"], settings["secret_access_key"], ""),
		Secure: u.Scheme == "https", Transport: tr, Region: region, BucketLookup: lookup,
		MaxRetries: 1, // the run retries, and records each attempt
	})
}

func (c *conn) Close() error { c.tr.CloseIdleConnections(); return nil }

// put writes the object and answers with what the store said.
func (c *conn) put(ctx context.Context, bucket, key string, body []byte, opts minio.PutObjectOptions) (httpclient.Reply, error) {
	info, err := c.cl.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		if e := minio.ToErrorResponse(err); e.StatusCode != 0 {
			b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Message})
			return httpclient.Reply{Status: e.StatusCode, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, err
		}
		return httpclient.Reply{}, err
	}
	b, _ := json.Marshal(map[string]string{"bucket": info.Bucket, "key": info.Key, "etag": info.ETag, "version_id": info.VersionID})
	return httpclient.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, nil
}
