#!/bin/sh
# Make bit-level parity vectors with the reference harness (face-api in Node):
# the exact RGB that face-api decoded for each demo photo, and the inputs and
# descriptor of its largest face, written to build/parity/.
#
# Needs node/npm and ../shared/faceref; without them it says so and exits 0,
# and the parity tests that need the vectors skip.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ref="$top/../shared/faceref"
out="$top/build/parity"
work="$top/build/faceref"

if [ -f "$out/.done" ]; then
	exit 0
fi
if [ ! -f "$ref/ref.mjs" ]; then
	echo "parity-vectors: $ref not found; parity tests on face-api's own RGB will skip"
	exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "parity-vectors: node/npm not installed; parity tests on face-api's own RGB will skip"
	exit 0
fi
"$top/scripts/fetch-models.sh" >/dev/null
mkdir -p "$work" "$out"
# ../shared is read-only: install the harness's packages in a copy.
cp -r "$ref/." "$work/"
chmod -R u+w "$work"
if [ ! -d "$work/node_modules/@vladmandic/face-api" ]; then
	echo "parity-vectors: npm ci in $work"
	(cd "$work" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || {
		echo "parity-vectors: npm ci failed; parity tests on face-api's own RGB will skip"
		exit 0
	}
fi
(cd "$top/models" && node "$work/ref.mjs" --all-descriptors --no-stages --dump-dir "$out" \
	demo/sample1.jpg demo/sample2.jpg demo/sample3.jpg demo/sample4.jpg demo/sample5.jpg \
	demo/sample6.jpg > "$out/reference.jsonl" 2>/dev/null)
# The same reference run over the dumped RGB, so both inputs have expected output.
(cd "$out" && node "$work/ref.mjs" --all-descriptors --no-stages sample1.image.ppm sample2.image.ppm \
	sample3.image.ppm sample4.image.ppm sample5.image.ppm sample6.image.ppm > reference-ppm.jsonl 2>/dev/null)
(cd "$out" && node "$work/ref.mjs" --tiny --all-descriptors --no-stages sample1.image.ppm sample2.image.ppm \
	sample3.image.ppm sample4.image.ppm sample5.image.ppm sample6.image.ppm > reference-tiny-ppm.jsonl 2>/dev/null)
touch "$out/.done"
echo "parity-vectors: wrote $out"
