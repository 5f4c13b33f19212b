package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// healthTimeout bounds each check, so /healthz answers even when a
// dependency hangs.
const healthTimeout = 2 * time.Second

type healthReport struct {
	Status string `json:"status"` // ok, degraded or unavailable
	// Serving names the check whose dependency serves in the place of a
	// failing critical one (see HealthCheck.Fallback): "cache" while the
	// database is down and the cache answers.
	Serving string                 `json:"serving,omitempty"`
	Checks  map[string]checkResult `json:"checks"`
}

type checkResult struct {
	Status string `json:"status"` // up or down
}

// healthz runs every check at once and reports them as JSON: 200 when all
// critical checks pass (even if others fail: "degraded"), or when a failing
// critical check's fallback passes ("degraded", and "serving" names the
// fallback), else 503. Anyone may ask, so the answer is up or down and
// nothing more: why a check failed (addresses, driver messages) goes to
// the log, one line per failing check.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	report := healthReport{Status: "ok", Checks: make(map[string]checkResult, len(s.health))}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, c := range s.health {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			res := checkResult{Status: "up"}
			if err := c.Check(ctx); err != nil {
				res.Status = "down"
				s.log.WarnContext(r.Context(), "healthz: check failed", "check", c.Name, "critical", c.Critical, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			report.Checks[c.Name] = res
		})
	}
	wg.Wait()
	degrade := func() {
		if report.Status == "ok" {
			report.Status = "degraded"
		}
	}
	for _, c := range s.health {
		switch {
		case report.Checks[c.Name].Status == "up":
		case c.Critical && c.Fallback != "" && report.Checks[c.Fallback].Status == "up":
			report.Serving = c.Fallback
			degrade()
		case c.Critical:
			report.Status = "unavailable"
		default:
			degrade()
		}
	}
	status := http.StatusOK
	if report.Status == "unavailable" {
		status, report.Serving = http.StatusServiceUnavailable, ""
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(report)
}
