#!/bin/sh
# Run every test binary given; print one summary line and fail if any failed.
# cmocka prints its own per-test lines; this adds the plain "N passed, N failed"
# closing line across all binaries.
pass=0; fail=0; failed=""
for t in "$@"; do
	echo "== $t"
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
[ -n "$failed" ] && echo "failed binaries:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
