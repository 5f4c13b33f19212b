package bench

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP tasklist_db_queries_total Database queries sent, by kind.
# TYPE tasklist_db_queries_total counter
tasklist_db_queries_total{kind="list"} 3
tasklist_db_queries_total{kind="page"} 2
tasklist_db_queries_total{kind="revision"} 5
tasklist_cache_operations_total{layer="page",operation="get",result="hit"} 100
tasklist_cache_operations_total{layer="query",operation="set",result="ok"} 1e+01
tasklist_http_requests_total{code="200",route="GET /{$}"} 1000
tasklist_http_requests_total{code="304",route="GET /{$}"} 7 1700000000000
tasklist_http_requests_total{route="GET /a \"b\", {c}",code="200"} 3
tasklist_http_requests_total{code="200",route="GET /metrics"} 50
tasklist_http_requests_total{code="303",route="POST /add"} 20
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"list": 3, "page": 2, "revision": 5}, m.dbQueries); diff != "" {
		t.Errorf("db queries (-want +got):\n%s", diff)
	}
	if m.cacheOps != 110 || m.queries() != 10 || m.queries(slowKinds...) != 5 || m.reads != 1010 {
		t.Errorf("cache ops %v, queries %v, slow %v, reads %v; want 110, 10, 5, 1010", m.cacheOps, m.queries(), m.queries(slowKinds...), m.reads)
	}
	for _, bad := range []string{`tasklist_db_queries_total{kind="list"} many`, `tasklist_db_queries_total{kind="list} 3`, `tasklist_db_queries_total{kind="list"}`} {
		if _, err := parseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
