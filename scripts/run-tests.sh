#!/bin/sh
# Run every cmocka test binary given, then print one closing line with the
# test counts summed over all binaries ("N passed, N failed, N skipped").
# A binary that crashes or exits non-zero without cmocka's summary counts as
# one failure, so a crash can never pass silently.
pass=0; fail=0; skip=0; failed=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "== $t"
	"$t" > "$log" 2>&1
	rc=$?
	cat "$log"
	# a binary may run several groups: add up every summary line
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {if (NR) print s}')
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {if (NR) print s}')
	s=$(sed -n 's/.*\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {if (NR) print s}')
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
	if [ "$rc" -ne 0 ]; then
		[ -z "$f" ] && fail=$((fail + 1))
		failed="$failed $t"
	fi
done
[ -n "$failed" ] && echo "failed binaries:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ -z "$failed" ]
