#!/usr/bin/env bash
# bench.sh — tasklist's benchmark: one command, one machine, one run.
#
#   scripts/bench.sh             every mode (about 15 minutes on 2 cores)
#   scripts/bench.sh --quick     the modes the targets name, 3 s each (about 2 minutes)
#   scripts/bench.sh -h          the flags of go run ./cmd/tasklist-bench
#
# Arguments go to `go run ./cmd/tasklist-bench`, which builds tasklist, starts
# it in each caching mode with the in-process cache and with a memcached it
# starts, on SQLite (and PostgreSQL and MariaDB when they answer on
# 127.0.0.1), drives it with wrk without and with Accept-Encoding: gzip, each
# mode right after a bare Go handler sending the very response the app sent
# (and one sending its body with three headers; nginx, when installed), times
# the adds of a mixed load, runs a cold-start stampede, and writes results.md,
# results.svg and results.json into bench-results/UTC-TIME/; results.md names
# each target missed with a CPU profile of its mode.
# Everything listens on 127.0.0.1 and is stopped, by process id, at the end
# or on Ctrl-C. docs/benchmarks.md explains the figures and the targets.
#
# Before that it installs wrk and memcached with apt-get when they are
# missing and it runs as root (otherwise it says what to install).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bench.sh: $*" >&2; }
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		say "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
		exit 1
	fi
fi
command -v go >/dev/null 2>&1 || { say "go is not on PATH"; exit 1; }
exec go run ./cmd/tasklist-bench "$@"
