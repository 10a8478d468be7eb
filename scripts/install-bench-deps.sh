#!/usr/bin/env bash
# Installs what `make bench` needs beyond the tests' peers: nginx (the
# static-file baseline of the HLS bench) and wrk (its load generator).
# Debian packages only.
set -euo pipefail

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
echo "installing bench dependencies: ${need[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
