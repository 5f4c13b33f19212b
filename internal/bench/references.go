package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
)

// ServeReference runs one of the bare handlers until ctx is done, as this
// program's subcommand how ("serve-bytes": ServeBytes with the contents of
// file; "serve-page": ServePage with the page WritePage wrote into file)
// on addr.
func ServeReference(ctx context.Context, how, file, addr string) error {
	switch how {
	case "serve-bytes":
		body, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		return ServeBytes(ctx, addr, body)
	case "serve-page":
		page, err := readPage(file)
		if err != nil {
			return err
		}
		return ServePage(ctx, addr, page)
	}
	return fmt.Errorf("bench: no reference %q", how)
}

// ServeBytes serves body as text/html at every path on addr until ctx is
// done: the three-header ceiling, the bare Go handler as the first runs
// measured it. It does what any handler must (a Content-Type and a
// Content-Length; net/http adds the Date) and nothing else: no logging,
// no middleware, no cache, no compression.
func ServeBytes(ctx context.Context, addr string, body []byte) error {
	length := strconv.Itoa(len(body))
	return serve(ctx, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	}))
}

// serve serves h on addr until ctx is done.
func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: h}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// startBare starts this program's "serve-bytes" with the page's identity
// body: the three-header ceiling.
func (r *runner) startBare(ctx context.Context) (*proc, string, error) {
	file := filepath.Join(r.work, "page.html")
	if err := os.WriteFile(file, r.page, 0o644); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	return r.startReference(ctx, "bare", addr, exec.Command(r.opts.Self, "serve-bytes", file, addr))
}

// startSame starts this program's "serve-page" with page, the response an
// app sent at the start of its mode: the same-response ceiling. It checks
// that the handler answers as the app did, byte for byte but the Date.
func (r *runner) startSame(ctx context.Context, name string, page Page) (*proc, string, error) {
	file := filepath.Join(r.work, name+".json")
	if err := writePage(file, page); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	p, base, err := r.startReference(ctx, name, addr, exec.Command(r.opts.Self, "serve-page", file, addr))
	if err != nil {
		return nil, "", err
	}
	if err := checkSame(ctx, addr, page); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// startReference starts cmd, a server that sends the page at addr, and
// waits until it does.
func (r *runner) startReference(ctx context.Context, name, addr string, cmd *exec.Cmd) (*proc, string, error) {
	p, err := r.procs.start(name, cmd)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := p.waitReady(ctx, base+"/", 30*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// nginxSite serves page.html for / on the address %[1]s from the folder
// %[2]s, where nginx runs.
const nginxSite = `types { text/html html; }
server {
	listen %[1]s;
	root %[2]s;
	location = / { try_files /page.html =404; }
}
`

// startNginx starts nginx serving the page as a static file, in one
// process (its memory is all of nginx's), configured as the tests run it
// (daemon.NginxCommand).
func (r *runner) startNginx(ctx context.Context) (*proc, string, error) {
	dir := filepath.Join(r.work, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "page.html"), r.page, 0o644); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cmd, err := daemon.NginxCommand(r.opts.Nginx, daemon.NginxOptions{Dir: dir, Site: fmt.Sprintf(nginxSite, addr, dir)})
	if err != nil {
		return nil, "", err
	}
	return r.startReference(ctx, "nginx", addr, cmd)
}
