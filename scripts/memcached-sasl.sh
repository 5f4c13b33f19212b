#!/usr/bin/env bash
# memcached-sasl.sh — a local MemCachier: memcached with SASL PLAIN
# authentication for one user, on a free 127.0.0.1 port.
#
#   scripts/memcached-sasl.sh USER [PASSWORD]
#
# starts it in the background (the password is generated unless given) and
# prints, on standard output, a comment with its process id and three lines
# to paste into a shell, or to eval:
#
#   # memcached with SASL PLAIN: pid 4242 (stop it: kill 4242), files in /tmp/memcached-sasl.XXXX
#   export MEMCACHIER_SERVERS=127.0.0.1:41234
#   export MEMCACHIER_USERNAME=USER
#   export MEMCACHIER_PASSWORD=...
#
#   scripts/memcached-sasl.sh --conf DIR USER < password
#
# only writes the SASL configuration for USER into DIR (sasldb2 and
# memcached.conf); memcached started with -S and SASL_CONF_PATH=DIR uses it.
# The tests (internal/testenv) start their SASL servers with this, so the
# script and the tests share one recipe.
#
# Needs memcached and saslpasswd2 (Debian: apt-get install memcached
# sasl2-bin); MEMCACHED and SASLPASSWD2 may name them.
set -euo pipefail

die() { echo "memcached-sasl.sh: $*" >&2; exit 1; }
usage() { die "usage: memcached-sasl.sh USER [PASSWORD] | memcached-sasl.sh --conf DIR USER < password"; }
# find NAME [ENV_VALUE]: the program ENV_VALUE names, else NAME on PATH or in /usr/sbin.
find_program() {
	local name=$1 given=${2:-} p
	if [[ -n $given ]]; then echo "$given"; return; fi
	p=$(type -P "$name") && { echo "$p"; return; }
	[[ -x /usr/sbin/$name ]] && { echo "/usr/sbin/$name"; return; }
	die "$name not found (Debian: apt-get install memcached sasl2-bin)"
}

# sasl_conf DIR USER PASSWORD: the recipe. saslpasswd2 stores the user in a
# database of its own, for the application name "memcached"; the
# configuration allows PLAIN only (what MemCachier and tasklist speak) and
# points at that database.
sasl_conf() {
	local dir=$1 user=$2 password=$3 saslpasswd2
	saslpasswd2=$(find_program saslpasswd2 "${SASLPASSWD2:-}")
	printf '%s' "$password" | "$saslpasswd2" -a memcached -c -p -f "$dir/sasldb2" "$user"
	printf 'mech_list: plain\nsasldb_path: %s\n' "$dir/sasldb2" >"$dir/memcached.conf"
}

if [[ ${1:-} == --conf ]]; then
	(($# == 3)) || usage
	sasl_conf "$2" "$3" "$(cat)"
	exit 0
fi
(($# == 1 || $# == 2)) || usage
[[ $1 != -* ]] || usage
user=$1
password=${2:-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)}
memcached=$(find_program memcached "${MEMCACHED:-}")

dir=$(mktemp -d "${TMPDIR:-/tmp}/memcached-sasl.XXXXXX")
sasl_conf "$dir" "$user" "$password"

args=(-S -l 127.0.0.1 -U 0)
[[ $(id -u) != 0 ]] || args+=(-u root) # memcached refuses root without -u

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port free a moment ago may be taken before memcached binds it: then
# memcached exits, and another port is tried.
for _ in $(seq 20); do
	port=$((20000 + RANDOM % 40000))
	answers "$port" && continue
	SASL_CONF_PATH=$dir nohup "$memcached" "${args[@]}" -p "$port" </dev/null >"$dir/memcached.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		if answers "$port"; then
			echo "# memcached with SASL PLAIN: pid $pid (stop it: kill $pid), files in $dir"
			echo "export MEMCACHIER_SERVERS=127.0.0.1:$port"
			echo "export MEMCACHIER_USERNAME=$(printf '%q' "$user")"
			echo "export MEMCACHIER_PASSWORD=$(printf '%q' "$password")"
			exit 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
done
die "memcached did not start; its last words: $(cat "$dir/memcached.log")"
