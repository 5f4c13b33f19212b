//go:build race

package bench

func init() { raceFlags = []string{"-race"} }
