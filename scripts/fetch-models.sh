#!/bin/sh
# Fetch the face-api weights and demo photos from npm and verify them.
#
# The only download tvs ever makes: `npm pack @vladmandic/face-api@1.7.15`
# into a git-ignored folder, then model/ and demo/sample*.jpg are extracted to
# models/ and every file is checked against scripts/models.sha256 (committed).
# A missing or altered file stops the install with a clear message.
set -eu
VERSION=1.7.15
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/models"
sums="$top/scripts/models.sha256"

verify() {
	(cd "$dest" && sha256sum --quiet --strict -c "$sums") 2>&1
}

if [ -d "$dest" ] && verify >/dev/null 2>&1; then
	echo "models: $dest verified ($(wc -l < "$sums") files)"
	exit 0
fi

command -v npm >/dev/null || { echo "models: npm is required (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "models: npm pack @vladmandic/face-api@$VERSION"
(cd "$tmp" && npm pack --silent "@vladmandic/face-api@$VERSION" >/dev/null)
tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)
[ -n "$tgz" ] || { echo "models: npm pack produced no archive" >&2; exit 1; }
tar -xzf "$tgz" -C "$tmp" package/model package/demo
rm -rf "$dest"
mkdir -p "$dest/model" "$dest/demo"
# Only the files we have sums for are installed.
awk '{print $2}' "$sums" | while read -r f; do
	if [ ! -f "$tmp/package/$f" ]; then
		echo "models: $f missing from the npm package" >&2
		exit 1
	fi
	cp "$tmp/package/$f" "$dest/$f"
done
if ! out=$(verify); then
	echo "models: SHA-256 check FAILED; the package differs from the one tvs was built for:" >&2
	echo "$out" >&2
	rm -rf "$dest"
	exit 1
fi
echo "models: installed and verified $(wc -l < "$sums") files in $dest"
