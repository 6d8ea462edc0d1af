#!/bin/bash
# The server's CPU per device as its database grows (docs/sim.md,
# MEASUREMENTS "Scale"): one `openmcim server --demo --dir D`, then B
# runs of `openmcim sim --devices N --server-dir D` one after the other;
# after each, one JSON line: the batch, the server's CPU ticks
# over it (/proc/PID/stat, user + system), ms per device, the simulator's
# ms per device, provisions per second, the database's size on disk and
# the server's peak RSS so far.
# With DB_CONF set (lines such as "cache_size = 2000"), the demo server is
# restarted with `--config D/server.conf` and those lines in its [db].
# usage: [DB_CONF=...] scripts/bench/sim_batches.sh OPENMCIM BATCHES DEVICES
set -eu
BIN=$1
B=$2
N=$3
D=$(mktemp -d /tmp/omc-batches-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait
	cat "$D/r1.err" >&2 2>/dev/null || true # the server's log (errors only)
	rm -rf "$D"
}
trap cleanup EXIT
wait_map() { # the server's role map in D/dep/urls.json, within 60 s
	for _ in $(seq 1 600); do
		grep -q . "$D/dep/urls.json" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no role map in $D/dep/urls.json" >&2
	cat "$D/r1.err" >&2
	exit 3
}
"$BIN" server --demo --dir "$D/dep" --log-level err >"$D/r1.out" 2>"$D/r1.err" &
pid=$!
wait_map
if [ -n "${DB_CONF:-}" ]; then
	kill "$pid"
	wait "$pid" || true
	printf '\n[db]\n%s\n' "$DB_CONF" >>"$D/dep/server.conf"
	: >"$D/dep/urls.json"
	"$BIN" server --config "$D/dep/server.conf" --log-level err >"$D/dep/urls.json" 2>"$D/r1.err" &
	pid=$!
	wait_map
fi
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
for b in $(seq 1 "$B"); do
	c0=$(cpu)
	rc=0
	out=$("$BIN" sim --devices "$N" --server-dir "$D/dep" --json) || rc=$?
	[ "$rc" -eq 0 ] || echo "batch $b: openmcim sim exited $rc: $out" >&2
	c1=$(cpu)
	db=$(du -cb "$D"/dep/*.db* 2>/dev/null | awk 'END{print $1}')
	rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
	echo "$out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
b, n, t, hz, db, rss = map(int, sys.argv[1:7])
print(json.dumps({"batch": b, "devices": n, "server_ticks": t, "server_ms_per_device": round(t * 1000 / hz / n, 2),
                  "sim_ms_per_device": r.get("sim_cpu_ms_per_device"), "rate": r.get("provision_rate_per_s"),
                  "ok": r.get("invariants_ok"), "db_bytes": db, "server_peak_rss_kb": rss}))' "$b" "$N" "$((c1 - c0))" "$hz" "$db" "$rss"
done
