#!/bin/sh
# Install everything tvs needs on Debian 12, fetch and verify the models, and
# build. Debian packages and npm are the only sources; nothing else is
# downloaded. Run as root (or through sudo).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PKGS="build-essential pkg-config clang libclang-rt-14-dev libturbojpeg0-dev libpng-dev \
libopenblas-dev libjansson-dev libcmocka-dev libcairo2-dev libfaiss-dev g++ ca-certificates \
libmicrohttpd-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev openssl libpq-dev postgresql"

# the officer console's browser tests drive Debian's headless Chromium
PKGS="$PKGS chromium"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
	echo "install: apt-get install$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
"$top/scripts/fetch-models.sh"
# playwright-core for the browser tests, at the version package-lock.json
# pins; it drives the chromium above and downloads no browser of its own
if [ ! -d "$top/node_modules/playwright-core" ]; then
	echo "install: npm ci (playwright-core)"
	(cd "$top" && npm ci --silent --no-audit --no-fund)
fi
make -C "$top" -j"$(nproc)"
