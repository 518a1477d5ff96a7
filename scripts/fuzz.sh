#!/bin/sh
# Run each libFuzzer target for SECONDS, starting from its seed corpus in
# fuzz/corpus/NAME. New inputs go to a scratch directory, not the repo; a
# crash is saved under O/fuzz/artifacts/ and stops the run with exit 1.
# Usage: scripts/fuzz.sh O SECONDS NAME...
set -eu
O=$1; secs=$2; shift 2
art="$O/fuzz/artifacts"
mkdir -p "$art"
for t in "$@"; do
	work="$O/fuzz/work-$t"
	mkdir -p "$work"
	echo "== fuzz $t for ${secs}s (seed corpus fuzz/corpus/$t, new inputs in $work)"
	start=$(date +%s)
	"$O/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$art/$t-" \
		"$work" "fuzz/corpus/$t" 2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_runs|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" || true
	if ls "$art/$t-"* >/dev/null 2>&1; then
		echo "fuzz $t: FOUND a crash: $(ls "$art/$t-"*)"
		exit 1
	fi
	echo "fuzz $t: $(( $(date +%s) - start ))s, no crash; $(ls "$work" | wc -l) new corpus inputs"
done
