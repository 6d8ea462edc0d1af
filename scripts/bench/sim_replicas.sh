#!/bin/bash
# openmcim sim against R replicas of one demo deployment on one database
# (docs/sim.md, MEASUREMENTS "Replicas"): the first replica is
# `openmcim server --demo --dir D [--db URI]`, the others `openmcim server
# --config D/server.conf`; the simulator's JSON line, then one line with the
# servers' CPU ticks over the run and the sum of their peak RSS. Without URI
# the database is one SQLite file; with it, that empty PostgreSQL database.
# usage: scripts/bench/sim_replicas.sh OPENMCIM REPLICAS DEVICES [URI]
set -eu
BIN=$1
R=$2
N=$3
URI=${4:-}
D=$(mktemp -d /tmp/omc-replicas-XXXXXX)
pids=()
maps=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait
	rm -rf "$D"
}
trap cleanup EXIT
wait_for() { # a whole line in $1, within 60 s
	for _ in $(seq 1 600); do
		grep -q . "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no role map in $1" >&2
	exit 3
}
"$BIN" server --demo --dir "$D/dep" ${URI:+--db "$URI"} --log-level err >"$D/r1.out" 2>"$D/r1.err" &
pids+=($!)
wait_for "$D/dep/urls.json"
maps+=("$D/dep/urls.json")
for r in $(seq 2 "$R"); do
	"$BIN" server --config "$D/dep/server.conf" --log-level err >"$D/r$r.out" 2>"$D/r$r.err" &
	pids+=($!)
	wait_for "$D/r$r.out"
	maps+=("$D/r$r.out")
done
cpu() {
	local t=0
	for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
c0=$(cpu)
list=$(IFS=,; echo "${maps[*]}")
"$BIN" sim --devices "$N" --server-dir "$D/dep" --server "$list" --json
c1=$(cpu)
rss=0
for p in "${pids[@]}"; do rss=$((rss + $(awk '/VmHWM/{print $2}' "/proc/$p/status"))); done
echo "{\"replicas\":$R,\"server_cpu_ticks\":$((c1 - c0)),\"clk_tck\":$(getconf CLK_TCK),\"server_rss_kb_sum\":$rss}"
