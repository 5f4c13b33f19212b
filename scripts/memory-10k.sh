#!/usr/bin/env bash
# memory-10k.sh — peak memory of tasklist serving a list of 10,000 tasks
# with 200-character names (the list's cap, TASKLIST_MAX_TASKS), for each
# caching layer set, under 200 concurrent GET / and then 100 clients that
# send requests and never read the answers. In-process cache, SQLite, one
# instance on 127.0.0.1. Prints one Markdown table row per layer set.
#
#   scripts/memory-10k.sh [PORT]
#
# Needs sqlite3, curl and python3; builds tasklist into a temporary folder
# and stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-18181}
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/tasklist" ./cmd/tasklist
db=$tmp/big.db
DATABASE_URL=sqlite:$db "$tmp/tasklist" migrate >/dev/null 2>&1
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000)
  INSERT INTO tasks (name, done, created_at, updated_at)
  SELECT printf('%05d ', i) || substr(replace(hex(zeroblob(200)), '0', 'x'), 1, 194), 0, datetime('now'), datetime('now') FROM n;
  UPDATE tasklist_meta SET revision = revision + 1;"

# noread opens 100 connections, sends 20 requests on each and reads nothing.
noread() {
	python3 - "$port" <<'PY'
import socket, sys, time
socks = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 20)
    socks.append(s)
time.sleep(5)
PY
}

echo "| layers | page bytes | first GET / | peak RSS, 200 concurrent GET / | peak RSS so far, after 100 clients not reading as well |"
echo "| --- | --- | --- | --- | --- |"
for layers in none query query,fragment query,fragment,page; do
	DATABASE_URL=sqlite:$db TASKLIST_ADDR=127.0.0.1:$port TASKLIST_CACHE_LAYERS=$layers TASKLIST_LOG_LEVEL=warn \
		"$tmp/tasklist" >"$tmp/log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
	first=$(curl -s -o "$tmp/page" -w '%{time_total}' "http://127.0.0.1:$port/")
	bytes=$(wc -c <"$tmp/page")
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" & done
	wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
	concurrent=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	noread
	notreading=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	printf '| %s | %d | %.3f s | %d MiB | %d MiB |\n' "$layers" "$bytes" "$first" $((concurrent / 1024)) $((notreading / 1024))
done
