// Command tasklist serves the task list.
//
//	tasklist            migrate the database, then serve (same as "serve")
//	tasklist serve      the same
//	tasklist migrate    apply the database migrations and exit
//	tasklist version    print the module version and VCS revision
//	tasklist help       list the commands and environment variables
//
// Configuration comes from the environment; see "tasklist help" or
// docs/configuration.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tasklist/tasklist/internal/app"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/logbuf"
	"github.com/tasklist/tasklist/internal/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneMemory(os.Getenv)
	// Logs are buffered and written a few times a second: a line per
	// request then costs no system call of its own.
	logs := logbuf.New(os.Stderr, logbuf.DefaultInterval)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, logs, nil)
	logs.Close()
	if err != nil {
		reportError(os.Stderr, err)
		os.Exit(1)
	}
}

// baseMemory is the Go heap the app needs besides its in-process cache:
// requests in flight, decoded lists, pages being rendered and compressed.
const baseMemory = 40 << 20

// tuneMemory sets the Go heap's soft limit (memoryBudget) and the
// collector's pace (gcPercent), each unless the environment, read through
// getenv, sets it (GOMEMLIMIT, GOGC).
func tuneMemory(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		if cfg, err := config.Load(getenv); err == nil { // run reports errors
			debug.SetMemoryLimit(memoryBudget(cfg))
		}
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// gcPercent is the collector's setting (GOGC) unless the environment sets
// one: a collection once the heap has grown by four times what was live
// after the last, rather than Go's default of once it has doubled. A page
// hit allocates a few kilobytes, most of them net/http's own, and little of
// it stays, so at Go's default the collector ran several times a second
// under load and took a tenth of the page hits' throughput
// (docs/benchmarks.md). The heap's soft limit (memoryBudget) still bounds
// it: near the limit the collector runs as often as it must.
const gcPercent = 400

// memoryBudget is the soft limit of the Go heap (GOMEMLIMIT) for cfg:
// baseMemory, plus the in-process cache's bound when that cache is used.
// Without it the garbage collector lets the heap grow to twice what is
// live, and a full in-process cache is most of what is live.
func memoryBudget(cfg config.Config) int64 {
	if cfg.Layers.Any() && cfg.CacheBackend() == "local" {
		return baseMemory + cfg.LocalCacheBytes
	}
	return baseMemory
}

// run is the whole program; main only supplies the process's environment
// (environ, NAME=value as os.Environ gives it). Help and version go to out,
// logs to logOut. When ready is not nil, it receives the listener's address
// once serving.
func run(ctx context.Context, args []string, environ []string, out, logOut io.Writer, ready chan<- string) error {
	cmd, done, err := command(args, out)
	if done {
		return err
	}
	getenv := lookup(environ)
	cfg, err := config.Load(getenv)
	if err = errors.Join(err, app.CheckNames(cfg)); err != nil {
		return err
	}
	log := newLogger(cfg, logOut)
	for _, w := range append(cfg.Warnings, config.Unknown(environ)...) {
		log.Warn(w)
	}

	if cmd == "migrate" {
		if err := app.Migrate(ctx, cfg, log); err != nil {
			return err
		}
		log.Info("database is up to date", "database", config.RedactURL(cfg.DatabaseURL))
		return nil
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.PprofAddr != "" {
		pctx, stopPprof := context.WithCancel(ctx)
		wait, err := startPprof(pctx, cfg.PprofAddr, log)
		if err != nil {
			stopPprof()
			return fmt.Errorf("TASKLIST_PPROF_ADDR: %w", err)
		}
		defer wait()
		defer stopPprof()
	}
	runCtx, stopRun := context.WithCancel(ctx)
	running := make(chan struct{})
	go func() {
		defer close(running)
		a.Run(runCtx)
	}()
	defer func() {
		stopRun()
		<-running
	}()
	ln, err := listen(cfg, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, ln, a.Handler(), ready)
}

// lookup returns os.Getenv over environ: the value of the first NAME=
// entry, "" when there is none.
func lookup(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
}

// readHeaderTimeout is how long a client has to send a request's headers:
// a slow client holding connections open is cut off after it.
const readHeaderTimeout = 5 * time.Second

// serve serves on ln until ctx is done, then shuts down gracefully: it
// drains for cfg.ShutdownDrain (see drain), then stops accepting
// connections, and in-flight requests get cfg.ShutdownTimeout to finish.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ln net.Listener, h http.Handler, ready chan<- string) error {
	d := &drain{next: newTurns(cfg.MaxRequests, h)}
	conns := newAccepted(ln, cfg.MaxConns)
	srv := &http.Server{
		Handler:           d,
		ConnState:         conns.connState,
		ReadHeaderTimeout: readHeaderTimeout,
		MaxHeaderBytes:    web.MaxHeaderBytes,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30*time.Second + cfg.SlowQuery,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("tasklist serving", "url", "http://"+displayAddr(ln.Addr()), "config", cfg)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(conns) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// One deadline for the drain and the shutdown: the stop takes at most
	// the two settings together (deploy/tasklist@.service's TimeoutStopSec
	// covers that), however long the requests from before the drain run.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownDrain+cfg.ShutdownTimeout)
	defer cancel()
	if cfg.ShutdownDrain > 0 {
		log.Info("draining", "for", cfg.ShutdownDrain)
		d.run(shutdownCtx, cfg.ShutdownDrain)
	}
	open, idle, longestIdle := conns.state()
	log.Info("shutting down", "grace", cfg.ShutdownTimeout, "connections", open, "idle", idle, "longest_idle", longestIdle)
	conns.stopping()
	// The stop is not http.Server.Shutdown's alone: net/http drops,
	// unanswered, a request it reads once Shutdown has begun, and a
	// connection accepted just before the stop has one coming (with
	// socket activation connections arrive until the very end; a POST a
	// proxy sent on one would get a 502). So the server turns keep-alives
	// off (closing its idle connections, and every other one after an
	// answer that says so), stops accepting, and waits until every
	// connection it accepted has had its request answered and is closed;
	// Shutdown then finds nothing left to close.
	srv.SetKeepAlivesEnabled(false)
	conns.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		return err
	}
	if err := conns.wait(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	late, idle, fresh := conns.unused()
	log.Info("stopped", "accepted_during_shutdown", late, "closed_idle", idle, "closed_before_a_request", fresh)
	return nil
}

// drain is the server's handler around the app's: while draining, every
// answer closes its connection and /healthz answers 503.
//
// Why: an instance that stops closes its idle keep-alive connections, and
// a request a proxy sends on one at that moment is lost; the proxy cannot
// tell whether it was served, so it never resends a POST (nginx answers
// 502). While draining, the instance still serves, but each connection it
// answers on is closed by that answer, and the proxy closes those it leaves
// idle after its own keep-alive timeout; once the drain outlasts that
// timeout, no connection of the proxy's is left for the shutdown to close.
// A request that began before the drain may answer without closing its
// connection, so the drain also lasts its whole length after the last of
// those has answered.
type drain struct {
	next     http.Handler
	draining atomic.Bool
	// before counts the requests that began before the drain and have not
	// answered.
	before atomic.Int64
}

func (d *drain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !d.draining.Load() {
		d.before.Add(1)
		defer d.before.Add(-1)
		d.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Connection", "close")
	if r.URL.Path == "/healthz" {
		http.Error(w, "draining: this instance is stopping", http.StatusServiceUnavailable)
		return
	}
	d.next.ServeHTTP(w, r)
}

// run drains: it returns once length has passed since the drain began and
// since the last request that began before it answered, or when ctx ends
// (those requests then go on under the shutdown, as any in flight).
func (d *drain) run(ctx context.Context, length time.Duration) {
	start := time.Now()
	d.draining.Store(true)
	var answered time.Time // since when none of those requests is left
	for {
		now := time.Now()
		if d.before.Load() > 0 { // one that saw no drain yet may still start
			answered = time.Time{}
		} else if answered.IsZero() {
			answered = now
		}
		settled := !answered.IsZero() && now.Sub(answered) >= length
		if now.Sub(start) >= length && settled {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", fmt.Sprint(tcp.Port))
}

// newLogger builds the process's logger: text or JSON lines on out, at
// cfg's level.
func newLogger(cfg config.Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		opts.ReplaceAttr = durationText
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// durationText writes a duration as the text log does ("1.5s"), not as
// slog's JSON handler does (a count of nanoseconds, 1500000000), so the
// two formats read alike.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
