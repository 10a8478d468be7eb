#!/usr/bin/env bash
# Vendors the portal's third-party browser libraries from their npm packages
# (pinned in web/package.json and web/package-lock.json) into
# internal/web/static/vendor/, and records their exact versions and sha256 in
# internal/web/static/vendor/VERSIONS. The vendored files are committed, so
# `go build` needs no JavaScript toolchain; run this after changing a version.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --prefix web --ignore-scripts --no-audit --no-fund

vendor=internal/web/static/vendor
mkdir -p "$vendor"
cp web/node_modules/hls.js/dist/hls.min.js "$vendor/hls.min.js"
cp web/node_modules/hls.js/LICENSE "$vendor/hls.js.LICENSE.txt"

version() { node -p "require('./web/node_modules/$1/package.json').version"; }
{
	echo "# Made by scripts/vendor-web.sh from web/package-lock.json. Do not edit."
	echo "# package version file sha256"
	for f in hls.min.js hls.js.LICENSE.txt; do
		echo "hls.js $(version hls.js) $f $(sha256sum "$vendor/$f" | cut -d' ' -f1)"
	done
} >"$vendor/VERSIONS"
cat "$vendor/VERSIONS"
