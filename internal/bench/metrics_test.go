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
tasklist_http_requests_total{code="200",method="GET"} 1000
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"list": 3, "page": 2, "revision": 5}, m.dbQueries); diff != "" {
		t.Errorf("db queries (-want +got):\n%s", diff)
	}
	if m.cacheOps != 110 || m.queries() != 10 || m.queries(slowKinds...) != 5 {
		t.Errorf("cache ops %v, queries %v, slow %v; want 110, 10, 5", m.cacheOps, m.queries(), m.queries(slowKinds...))
	}
	if _, err := parseMetrics(strings.NewReader(`tasklist_db_queries_total{kind="list"} many`)); err == nil {
		t.Error("a value that is not a number was accepted")
	}
}
