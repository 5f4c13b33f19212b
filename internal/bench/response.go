package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Page is the app's answer to GET / both ways a client asks for it: the
// raw responses (status line, headers and body, exactly as read from the
// connection) to wrk's request without and with Accept-Encoding: gzip.
// The same-response ceiling sends it back (ServePage).
type Page struct {
	Identity, Gzip []byte
}

// Errors of a page the same-response ceiling cannot send as the app did.
var (
	errNotOK      = errors.New("bench: GET / did not answer 200")
	errNoLength   = errors.New("bench: GET / has no Content-Length (a chunked body): the bare handler could not send the same bytes")
	errGzipBody   = errors.New("bench: the gzip response does not decode to the identity response's body")
	errNotSame    = errors.New("bench: the bare handler's response differs from the app's")
	errTrailBytes = errors.New("bench: bytes after the response")
)

// response is one raw response, parsed.
type response struct {
	status int
	// header holds every header the app sent except Date, which each
	// server writes itself, the time it answers.
	header http.Header
	body   []byte
}

// capturePage asks the server at addr (host:port) for GET / both ways, as
// wrk does, and checks that the two are one page: the gzip body decodes
// to the identity body (or the server sends identity to both).
func capturePage(ctx context.Context, addr string) (Page, error) {
	var p Page
	var err error
	if p.Identity, err = rawGet(ctx, addr, false); err != nil {
		return p, err
	}
	if p.Gzip, err = rawGet(ctx, addr, true); err != nil {
		return p, err
	}
	id, gz, err := p.parse()
	if err != nil {
		return p, err
	}
	body := gz.body
	if gz.header.Get("Content-Encoding") == "gzip" {
		if body, err = gunzip(gz.body); err != nil {
			return p, fmt.Errorf("%w: %v", errGzipBody, err)
		}
	}
	if !bytes.Equal(body, id.body) {
		return p, errGzipBody
	}
	return p, nil
}

// rawGet sends wrk's request for / to addr on a connection of its own
// (Host, and Accept-Encoding: gzip when gz) and returns the response's
// bytes as read.
func rawGet(ctx context.Context, addr string, gz bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n"
	if gz {
		req += "Accept-Encoding: gzip\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("GET / at %s: %w", addr, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("GET / at %s: %w", addr, err)
	}
	if br.Buffered() > 0 {
		return nil, fmt.Errorf("GET / at %s: %w", addr, errTrailBytes)
	}
	return raw.Bytes(), nil
}

// parse parses both of p's responses.
func (p Page) parse() (id, gz response, err error) {
	if id, err = parseResponse(p.Identity); err == nil {
		gz, err = parseResponse(p.Gzip)
	}
	return id, gz, err
}

// parseResponse parses a raw response that must be a 200 with a
// Content-Length.
func parseResponse(raw []byte) (response, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return response{}, fmt.Errorf("%w: %s", errNotOK, resp.Status)
	case len(resp.TransferEncoding) > 0 || resp.Header.Get("Content-Length") == "":
		return response{}, errNoLength
	}
	resp.Header.Del("Date")
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// pageHandler sends page: the gzip response to a request whose
// Accept-Encoding names gzip, the identity one to any other. It does
// nothing else; its header values are shared by every response (full
// slices, so that nothing appends to them in place).
func pageHandler(page Page) (http.Handler, error) {
	id, gz, err := page.parse()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := &id
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			resp = &gz
		}
		h := w.Header()
		for k, v := range resp.header {
			h[k] = v[:len(v):len(v)]
		}
		w.WriteHeader(resp.status)
		w.Write(resp.body)
	}), nil
}

// ServePage serves page at every path on addr until ctx is done: the bare
// Go handler sending the same response as the app (see pageHandler).
func ServePage(ctx context.Context, addr string, page Page) error {
	h, err := pageHandler(page)
	if err != nil {
		return err
	}
	return serve(ctx, addr, h)
}

// readPage reads a page writePage wrote.
func readPage(file string) (Page, error) {
	var p Page
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	return p, err
}

// writePage writes page into file, for the bare handler's process.
func writePage(file string, page Page) error {
	b, err := json.Marshal(page)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// checkSame asks the server at addr for GET / both ways and checks that it
// answers page byte for byte, but for the Date header's value.
func checkSame(ctx context.Context, addr string, page Page) error {
	got, err := capturePage(ctx, addr)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name      string
		want, got []byte
	}{
		{"identity", page.Identity, got.Identity}, {"gzip", page.Gzip, got.Gzip},
	} {
		if !bytes.Equal(withoutDate(c.want), withoutDate(c.got)) {
			return fmt.Errorf("%w (%s):\n%s\nwant:\n%s", errNotSame, c.name, head(c.got), head(c.want))
		}
	}
	return nil
}

// withoutDate is raw with the value of its Date header blanked out (the
// header section only).
func withoutDate(raw []byte) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return raw
	}
	i := bytes.Index(raw[:end], []byte("\r\nDate: "))
	if i < 0 {
		return raw
	}
	j := i + 2 + bytes.Index(raw[i+2:], []byte("\r\n"))
	return append(append(append([]byte(nil), raw[:i]...), "\r\nDate: -"...), raw[j:]...)
}

// head is the header section of a raw response, for error messages.
func head(raw []byte) string {
	h, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	return string(h)
}
