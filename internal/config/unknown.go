package config

import (
	"fmt"
	"slices"
	"strings"
)

// ownPrefixes start the names of tasklist's variables, and of the
// tutorial's MemCachier ones it reads.
var ownPrefixes = []string{"TASKLIST_", "MEMCACHIER_", "MEMCACHE_"}

// toolVars are variables with tasklist's prefix that the program does not
// read but its tests and benchmark do (scripts/test.sh exports the
// TASKLIST_TEST_ ones): an environment set up for them is not warned about.
// A name ending in "_" stands for every name it starts.
var toolVars = []string{"TASKLIST_TEST_", "TASKLIST_BENCH_", "TASKLIST_SOAK", "TASKLIST_SCREENSHOT_DIR"}

// Unknown returns a warning for each variable of environ (NAME=value, as
// os.Environ gives them) whose name starts like tasklist's own —
// TASKLIST_, MEMCACHIER_ or MEMCACHE_ — but that tasklist does not read, with
// the known name nearest to it: a misspelled variable
// (TASKLIST_INVALIDATON=delete) would otherwise be ignored without a word,
// and the program run with the default. Values are never quoted. It is
// safe for concurrent use.
func Unknown(environ []string) []string {
	var warnings []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if seen[name] || known(name) || !slices.ContainsFunc(ownPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		seen[name] = true
		warnings = append(warnings, fmt.Sprintf("%s is not a variable tasklist reads, so it is ignored; the nearest one that is: %s (tasklist help lists them all)", name, nearest(name)))
	}
	return warnings
}

// known reports whether tasklist or its tools read the variable name.
func known(name string) bool {
	for _, v := range vars {
		if v.Name == name {
			return true
		}
	}
	for _, t := range toolVars {
		if name == t || (strings.HasSuffix(t, "_") && strings.HasPrefix(name, t)) {
			return true
		}
	}
	return false
}

// nearest returns the name of Vars closest to name in edit distance, the
// first of the table on a tie.
func nearest(name string) string {
	best, bestDist := "", -1
	for _, v := range vars {
		if d := editDistance(name, v.Name); bestDist < 0 || d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
