#!/usr/bin/env bash
# test.sh — tasklist's test command: prepares what the tests need, then runs
# gofmt, go vet and go test -race. Run it from anywhere; CI runs it via .ci/run.
#
#   scripts/test.sh                          everything: go test -race -count=1 ./...
#   scripts/test.sh -run TestX               those flags, all packages
#   scripts/test.sh ./internal/cache/...     those packages (vet and gofmt too)
#   scripts/test.sh -v -run TestX ./internal/web
#
# Arguments go to `go test` after -race -count=1. An argument that starts with
# ./ or ../, is ".", or starts with the module path is a package pattern; with
# none, ./... is tested. gofmt and go vet check the same packages.
#
# Before testing it:
#  - installs memcached, sasl2-bin (saslpasswd2), chromium, wrk (for the
#    benchmark harness's smoke test) and nginx (nginx-light, for the soak test) with apt-get when they are missing and it
#    runs as root (otherwise it warns and goes on);
#  - starts the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust) and
#    MariaDB (127.0.0.1:3306, root, no password) if installed but not answering,
#    and creates database "test" on each;
#  - exports TASKLIST_TEST_{POSTGRES_URL,MYSQL_URL,MEMCACHED,SASLPASSWD2,CHROMIUM,WRK,NGINX}
#    for what is there. A variable already set is kept (point it at your own
#    server). Tests skip what is missing, or fail under CI=true.
# Tests start their own memcached processes on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*"; }
warn() { echo "test.sh: warning: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
# first_exe NAME... prints the first NAME found on PATH or as an executable path.
first_exe() {
	local n p
	for n in "$@"; do
		p=$(type -P "$n") || p=$n
		if [[ $p == /* && -f $p && -x $p ]]; then echo "$p"; return 0; fi
	done
	return 1
}
# wait_for DESC CMD... retries CMD for up to 30 s.
wait_for() {
	local desc=$1 i
	shift
	for i in $(seq 30); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	warn "$desc did not answer within 30 s"
	return 1
}

# --- programs -----------------------------------------------------------------
missing=()
first_exe memcached >/dev/null || missing+=(memcached)
first_exe saslpasswd2 /usr/sbin/saslpasswd2 >/dev/null || missing+=(sasl2-bin)
first_exe chromium chromium-browser >/dev/null || missing+=(chromium fonts-liberation)
first_exe wrk >/dev/null || missing+=(wrk)
first_exe nginx /usr/sbin/nginx >/dev/null || missing+=(nginx-light)
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && have apt-get; then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
			warn "apt-get could not install ${missing[*]}"
	else
		warn "missing ${missing[*]} (run as root with apt-get, or install them); their tests will skip"
	fi
fi

export TASKLIST_TEST_MEMCACHED=${TASKLIST_TEST_MEMCACHED:-$(first_exe memcached || true)}
export TASKLIST_TEST_SASLPASSWD2=${TASKLIST_TEST_SASLPASSWD2:-$(first_exe saslpasswd2 /usr/sbin/saslpasswd2 || true)}
export TASKLIST_TEST_CHROMIUM=${TASKLIST_TEST_CHROMIUM:-$(first_exe chromium chromium-browser || true)}
export TASKLIST_TEST_WRK=${TASKLIST_TEST_WRK:-$(first_exe wrk || true)}
export TASKLIST_TEST_NGINX=${TASKLIST_TEST_NGINX:-$(first_exe nginx /usr/sbin/nginx || true)}

# --- databases ----------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2; }
if [[ -z ${TASKLIST_TEST_POSTGRES_URL:-} ]] && have pg_isready; then
	if ! pg_up && have pg_ctlcluster && [[ -n $(ls /etc/postgresql 2>/dev/null) ]]; then
		say "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
		wait_for PostgreSQL pg_up || true
	fi
	if pg_up; then
		psql -q -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 ||
			psql -q -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE test'
		export TASKLIST_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
	fi
fi

my_up() { mysqladmin --connect-timeout=2 -h 127.0.0.1 -P 3306 -u root ping; }
if [[ -z ${TASKLIST_TEST_MYSQL_URL:-} ]] && have mysqladmin; then
	if ! my_up >/dev/null 2>&1 && [[ -x /usr/sbin/mariadbd ]]; then
		say "starting MariaDB"
		[[ $(id -u) == 0 ]] && install -d -o mysql -g mysql /run/mysqld 2>/dev/null || true
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
		wait_for MariaDB my_up || true
	fi
	if my_up >/dev/null 2>&1; then
		mysql -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test'
		export TASKLIST_TEST_MYSQL_URL='mysql://root@127.0.0.1:3306/test'
	fi
fi

for v in POSTGRES_URL MYSQL_URL MEMCACHED SASLPASSWD2 CHROMIUM WRK NGINX; do
	v=TASKLIST_TEST_$v
	if [[ -n ${!v:-} ]]; then say "$v=${!v}"; else unset "$v"; warn "$v not set: those tests skip (fail under CI=true)"; fi
done

# --- checks -------------------------------------------------------------------
have go || { say "FAIL (go is not on PATH)"; exit 1; }
fail() { say "FAIL ($1)"; exit 1; }

root=$(go list -m -f '{{.Dir}}')
module=$(go list -m)
pkgs=()
for a in "$@"; do
	[[ $a == ./* || $a == ../* || $a == . || $a == "$module"* ]] && pkgs+=("$a")
done
test_args=("$@")
if ((${#pkgs[@]} == 0)); then
	pkgs=(./...)
	test_args+=(./...)
fi

race=(-race)
if [[ $(go env CGO_ENABLED) != 1 ]]; then
	warn "cgo is off (no C compiler?): testing without -race"
	race=()
fi

# gofmt: the Go files git knows (tracked, or new and not ignored) in the packages under test.
declare -A in_pkg
while IFS= read -r d; do in_pkg[${d#"$root"}/]=1; done < <(go list -e -f '{{.Dir}}' "${pkgs[@]}")
go_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard -- '*.go'
	else
		find . -name '*.go' -not -path './.git/*' -printf '%P\0'
	fi
}
files=()
while IFS= read -r -d '' f; do
	d=/${f%/*}/
	[[ $f == */* ]] || d=/
	[[ -f $f && -n ${in_pkg[$d]:-} ]] && files+=("$f")
done < <(go_files)
say "gofmt -l (${#files[@]} files)"
unformatted=
if ((${#files[@]})); then unformatted=$(gofmt -l "${files[@]}") || fail "gofmt"; fi
if [[ -n $unformatted ]]; then
	echo "$unformatted"
	fail "gofmt: run gofmt -w on the files above"
fi

say "go vet ${pkgs[*]}"
go vet "${pkgs[@]}" || fail "go vet"

say "go test ${race[*]} -count=1 ${test_args[*]}"
go test "${race[@]}" -count=1 "${test_args[@]}" || fail "go test"

say "PASS (gofmt, go vet, go test ${race[*]})"
