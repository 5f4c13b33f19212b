package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
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
	return r.startReference(ctx, "bare", addr, r.opts.Self, "serve-bytes", file, addr)
}

// startReference starts a server that sends the page at addr and waits
// until it does.
func (r *runner) startReference(ctx context.Context, name, addr, bin string, args ...string) (*proc, string, error) {
	p, err := r.procs.start(name, bin, nil, args...)
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

// nginxConf serves page.html for / from the folder nginx runs in, in one
// process without a master, logging only errors; the temp paths keep it
// out of the system's folders.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  types { text/html html; }
  server {
    listen %[2]s;
    root %[1]s;
    location = / { try_files /page.html =404; }
  }
}
`

// startNginx starts nginx serving the page as a static file.
func (r *runner) startNginx(ctx context.Context) (*proc, string, error) {
	dir := filepath.Join(r.work, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	// nginx may read as another user when started as root.
	os.Chmod(r.work, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "page.html"), r.page, 0o644); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr), 0o644); err != nil {
		return nil, "", err
	}
	return r.startReference(ctx, "nginx", addr, r.opts.Nginx, "-p", dir, "-c", conf)
}
