#!/usr/bin/env bash
# Installs the real peers Podium's tests talk to, when they are missing:
# ffmpeg/ffprobe, srt-live-transmit (srt-tools), and gcc with libsrt for the
# libsrt probe that reads SRT rejection codes; the players broadcasters use
# (GStreamer, VLC 3, mpv) for the client tests; PostgreSQL for the catalog on
# PostgreSQL; for the portal's browser test,
# Chromium, Node.js and playwright-core (web/node_modules, from
# web/package-lock.json); versitygw, the S3-compatible server the archive's
# object-storage tests start, built with `go install` into Go's bin
# directory. Debian packages, the npm registry and the Go module proxy
# only: no browser is downloaded by any other means.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v srt-live-transmit >/dev/null || need+=(srt-tools)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/srt/srt.h ] || need+=(libsrt-openssl-dev)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
# GStreamer's srtsrc, for the client test of the SRT URL Podium hands out.
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools)
gst-inspect-1.0 srtsrc >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-bad)
# GStreamer's playbin3 on LL-HLS: hlsdemux2 and qtdemux (-good), the H.264
# and AAC decoders (-libav).
gst-inspect-1.0 hlsdemux2 >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-good)
gst-inspect-1.0 avdec_h264 >/dev/null 2>&1 || need+=(gstreamer1.0-libav)
# VLC 3 for the client tests: cvlc (vlc-bin), its HLS demuxer and TS muxer
# (vlc-plugin-base) and its SRT input (vlc-plugin-access-extra).
command -v cvlc >/dev/null || need+=(vlc-bin)
ls /usr/lib/*/vlc/plugins/demux/libadaptive_plugin.so >/dev/null 2>&1 || need+=(vlc-plugin-base)
ls /usr/lib/*/vlc/plugins/access/libaccess_srt_plugin.so >/dev/null 2>&1 || need+=(vlc-plugin-access-extra)
# mpv, over SRT and HLS.
command -v mpv >/dev/null || need+=(mpv)
# PostgreSQL 15 (initdb, postgres), for the store's tests on PostgreSQL.
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing test dependencies: ${need[*]}"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# playwright-core needs Node.js 20 or later (Debian 12's own nodejs is 18).
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
	echo "the portal's browser test needs Node.js 20 or later; this is $(node --version)" >&2
	exit 1
fi
if [ ! -f web/node_modules/playwright-core/package.json ]; then
	echo "installing web/node_modules (npm ci)"
	npm ci --prefix web --ignore-scripts --no-audit --no-fund >/dev/null
fi
# The archive's S3 tests look for versitygw on PATH and in $(go env GOPATH)/bin.
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if ! command -v versitygw >/dev/null && [ ! -x "$gobin/versitygw" ]; then
	echo "installing versitygw v1.8.0 into $gobin (go install)"
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
