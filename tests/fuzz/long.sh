#!/usr/bin/env bash
# `make fuzz-long`: every fuzz target for FUZZ_LONG_SECONDS (default 600) on its corpus,
# FUZZ_JOBS targets at a time. New inputs that add coverage are merged into
# tests/fuzz/corpus/<target>/ (commit them); a crash, leak, timeout or sanitizer report
# fails the run and leaves its input in build/fuzz/long-<target>-*. The executions each
# target reached are printed at the end and kept in build/fuzz/long-report.txt.
set -uo pipefail

seconds=${FUZZ_LONG_SECONDS:-600}
jobs=${FUZZ_JOBS:-$(nproc)}
out=build/fuzz
report=$out/long-report.txt

run_one() {
	local t=$1 n
	n=$(basename "$t")
	rm -rf "$out/long-$n"
	mkdir -p "$out/long-$n" "tests/fuzz/corpus/$n"
	"$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$out/long-$n-" "$out/long-$n" "tests/fuzz/corpus/$n" \
		>"$out/long-$n.log" 2>&1
	echo $? >"$out/long-$n.rc"
}

pids=()
for t in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		sleep 1
	done
	echo "== $(basename "$t"): ${seconds}s"
	run_one "$t" &
	pids+=($!)
done
wait "${pids[@]}"

fail=0
: >"$report"
for t in "$@"; do
	n=$(basename "$t")
	rc=$(cat "$out/long-$n.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/long-$n.log" | tail -1)
	before=$(find "tests/fuzz/corpus/$n" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		"$t" -merge=1 "tests/fuzz/corpus/$n" "$out/long-$n" >"$out/long-$n.merge.log" 2>&1 || rc=1
	fi
	after=$(find "tests/fuzz/corpus/$n" -type f | wc -l)
	line="$n: ${seconds}s, ${execs:-?} executions, corpus $before -> $after, $([ "$rc" -eq 0 ] && echo ok || echo FAILED)"
	echo "$line" | tee -a "$report"
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$out/long-$n.log" | head -20
		fail=1
	fi
done
exit $fail
