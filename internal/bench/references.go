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

// ServeBytes serves body as text/html at every path on addr until ctx is
// done: the bare Go handler, the ceiling a page hit can approach. It does
// what any handler must (a Content-Type and a Content-Length) and nothing
// else: no logging, no middleware, no cache.
func ServeBytes(ctx context.Context, addr string, body []byte) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(body))
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", length)
			w.Write(body)
		}),
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// startBare starts this program's "serve-bytes" with the page.
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
