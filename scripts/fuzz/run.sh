#!/bin/sh
# Run every libFuzzer target of a build for N seconds each over its seed
# corpus (docs/fuzzing.md). New inputs go to BUILD/fuzz-scratch/TARGET, never
# into fuzz/corpus; crashes to BUILD/fuzz-artifacts/. Fails on the first
# target that crashes, leaks or times out. Prints one summary line a target:
# TARGET execs= exec/s= cov= ft=
# Usage: scripts/fuzz/run.sh BUILD SECONDS [TARGET...]
set -eu
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
targets=${*:-$(cd "$src/fuzz" && ls ./*_fuzz.c | sed 's|^\./||; s|_fuzz\.c$||')}
mkdir -p "$build/fuzz-artifacts"
status=0
for t in $targets; do
	bin="$build/fuzz/${t}_fuzz"
	scratch="$build/fuzz-scratch/$t"
	log="$build/fuzz-scratch/$t.log"
	mkdir -p "$scratch"
	# -close_fd_mask=3: the targets' own output (CLI usage lines) is noise;
	# libFuzzer's report still goes to the log.
	if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=3 -timeout=25 \
		-rss_limit_mb=4096 -artifact_prefix="$build/fuzz-artifacts/$t-" \
		"$scratch" "$src/fuzz/corpus/$t" >"$log" 2>&1; then
		echo "fuzz: $t FAILED (log: $log)" >&2
		grep -E "ERROR|SUMMARY|artifact" "$log" >&2 || tail -20 "$log" >&2
		status=1
		continue
	fi
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	echo "$t execs=$execs exec/s=$rate cov=$cov ft=$ft"
done
exit $status
