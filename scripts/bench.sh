#!/bin/sh
# make bench: tvs's figures, then face-api's harness on the same photos in
# the same script, and the ratios between them. Nothing is asserted.
set -eu
O=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/fetch-models.sh >/dev/null
echo "== kernels ($O/bench/bench_kernels)"
"$O/bench/bench_kernels"
echo
echo "== int8 1x1 convs ($O/bench/bench_qconv)"
"$O/bench/bench_qconv"
echo
echo "== 1:N search against FAISS IndexFlatIP ($O/bench/bench_search)"
"$O/bench/bench_search"
echo
echo "== the service under load: 420-traveler gallery, 640x480 captures over HTTP ($O/bench/bench_serve)"
"$O/bench/bench_serve"
echo
echo "== 1, 2 and 3 nodes on one PostgreSQL store, captures round-robin ($O/bench/bench_nodes)"
if [ -n "${TVS_TEST_PG:-}" ] || ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
	command -v initdb >/dev/null 2>&1 || [ -n "${PG_BINDIR:-}" ]; then
	TVS_BIN="$O/tvs" scripts/with-pg.sh "$O/bench/bench_nodes"
else
	echo "(no PostgreSQL server binaries: apt-get install postgresql, or set PG_BINDIR or TVS_TEST_PG; bench_nodes skipped)"
fi
echo
echo "== the audit chain: appends/s with 1, 2, 4 and 8 writer threads, SQLite and PostgreSQL ($O/bench/bench_audit)"
# without PostgreSQL binaries with-pg.sh says so and runs it anyway: SQLite only
scripts/with-pg.sh "$O/bench/bench_audit"
echo
echo "== face engine ($O/bench/bench_face)"
"$O/bench/bench_face" "$O/bench/face.json"
scripts/parity-vectors.sh >/dev/null || true
ref=build/faceref
if [ -f "$ref/node_modules/@vladmandic/face-api/package.json" ]; then
	echo
	echo "== face-api 1.7.15 on tfjs-wasm (1 thread), same photos, same machine, same script"
	(cd models && node "$top/$ref/ref.mjs" --repeat 5 --warmup 1 demo/sample1.jpg demo/sample2.jpg \
		demo/sample3.jpg demo/sample4.jpg demo/sample5.jpg demo/sample6.jpg) > "$O/bench/ref.jsonl" 2>/dev/null
	node "$ref/bench.mjs" --iters 10 > "$O/bench/refnets.txt" 2>/dev/null
	node bench/ratio.mjs "$O/bench/face.json" "$O/bench/ref.jsonl" "$O/bench/refnets.txt"
else
	echo "(node or ../shared/faceref unavailable: no face-api comparison)"
fi
