package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client for one connection. The
// load generator shares the machine with the server it measures, so it
// must spend as little CPU per request as possible: it writes prebuilt
// request bytes and reads just the status line, the headers it needs and
// the body. net/http's client costs about three times as much.
type conn struct {
	addr string
	path string // default request path
	head []byte // headers after the request line, up to Content-Length's value
	c    net.Conn
	r    *bufio.Reader
	w    []byte
}

func newConn(target, contentType string, header []string) (*conn, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("bench: only http:// URLs are supported, not %q", target)
	}
	head := fmt.Appendf(nil, "Host: %s\r\nContent-Type: %s\r\n", u.Host, contentType)
	for _, h := range header {
		head = fmt.Appendf(head, "%s\r\n", h)
	}
	head = append(head, "Content-Length: "...)
	return &conn{addr: u.Host, path: u.RequestURI(), head: head}, nil
}

// post sends body to path ("" for the default), with extra header lines,
// and returns the response status. A failed connection is closed and
// redialled on the next call.
func (c *conn) post(path string, extra []string, body []byte) (int, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.c, c.r = nc, bufio.NewReaderSize(nc, 16<<10)
	}
	if path == "" {
		path = c.path
	}
	c.w = append(append(append(c.w[:0], "POST "...), path...), " HTTP/1.1\r\n"...)
	for _, h := range extra {
		c.w = append(append(c.w, h...), "\r\n"...)
	}
	c.w = append(c.w, c.head...)
	c.w = strconv.AppendInt(c.w, int64(len(body)), 10)
	c.w = append(c.w, "\r\n\r\n"...)
	c.w = append(c.w, body...)
	_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(c.w); err != nil {
		c.close()
		return 0, err
	}
	status, err := c.readResponse()
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

var errMalformed = errors.New("bench: malformed HTTP response")

func (c *conn) readResponse() (int, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errMalformed
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = c.skipChunked()
	case length >= 0:
		_, err = c.r.Discard(length)
	default:
		_, err = io.Copy(io.Discard, c.r) // body ends with the connection
		closing = true
	}
	if err == nil && closing {
		c.close()
	}
	return status, err
}

func (c *conn) skipChunked() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return errMalformed
		}
		if _, err := c.r.Discard(int(size) + 2); err != nil { // chunk and its CRLF
			return err
		}
		if size == 0 {
			return nil
		}
	}
}
