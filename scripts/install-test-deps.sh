#!/usr/bin/env bash
# Installs the real peers Podium's tests talk to, when they are missing:
# ffmpeg/ffprobe, srt-live-transmit (srt-tools), and gcc with libsrt for the
# libsrt probe that reads SRT rejection codes. Debian packages only.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v srt-live-transmit >/dev/null || need+=(srt-tools)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/srt/srt.h ] || need+=(libsrt-openssl-dev)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
echo "installing test dependencies: ${need[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
