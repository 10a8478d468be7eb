#!/usr/bin/env bash
# Generates the demo feeds' sample transport streams in internal/demo/samples
# with ffmpeg: 4.8 s of 1280x720 50p H.264 (a keyframe every 48 frames, closed
# GOPs) with the feed's name and a running clock burned in, an AAC-LC stereo
# track and an AC-3 stereo track. 4.8 s is 240 video frames, 225 AAC frames
# and 150 AC-3 frames at 48 kHz, so each file loops without a gap or an
# overlap in any track (internal/tsloop shifts the timestamps by 4.8 s a pass).
# AAC's encoder adds a frame of priming: its input is one frame (1024 samples)
# short, so that it outputs exactly 225 frames.
set -euo pipefail
cd "$(dirname "$0")/.."
out=internal/demo/samples
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
mono=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# id|name|hue shift|tone of track 1 (Hz)|tone of track 2 (Hz)
while IFS='|' read -r id name hue tone1 tone2; do
	printf '%s' "$name" >"$tmp/$id.txt"
	ffmpeg -nostdin -v error -y \
		-f lavfi -i "testsrc2=size=1280x720:rate=50:duration=4.8,hue=h=$hue,
drawbox=x=0:y=560:w=1280:h=160:color=black@0.6:t=fill,
drawtext=fontfile=$font:textfile=$tmp/$id.txt:fontsize=44:fontcolor=white:x=40:y=585,
drawtext=fontfile=$mono:text='%{pts\:hms}':fontsize=56:fontcolor=yellow:x=40:y=640,
drawtext=fontfile=$mono:text='$id':fontsize=32:fontcolor=white:x=w-tw-40:y=655" \
		-f lavfi -i "sine=frequency=$tone1:sample_rate=48000,atrim=end_sample=$((230400 - 1024))" \
		-f lavfi -i "sine=frequency=$tone2:sample_rate=48000,atrim=end_sample=230400" \
		-map 0:v -map 1:a -map 2:a \
		-c:v libx264 -preset slow -profile:v high -pix_fmt yuv420p -b:v 1200k -maxrate 1500k -bufsize 1500k \
		-g 48 -keyint_min 48 -sc_threshold 0 -x264-params open-gop=0 \
		-c:a:0 aac -b:a:0 128k -ac:a:0 2 -metadata:s:a:0 language=eng \
		-c:a:1 ac3 -b:a:1 192k -ac:a:1 2 -metadata:s:a:1 language=fra \
		-metadata service_name="$name" -metadata service_provider=Podium \
		-mpegts_pmt_start_pid 0x1000 -mpegts_start_pid 0x100 -f mpegts "$out/$id.ts"
	frames=$(ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets -of csv=p=0 "$out/$id.ts" </dev/null | awk '!seen[$0]++' | tr '\n' ' ')
	printf '%-16s %8d bytes  packets per stream: %s\n' "$id" "$(stat -c %s "$out/$id.ts")" "$frames"
done <<'FEEDS'
ath-100m-final|Athletics — Men's 100m Final|0|440|660
swm-200fr-heats|Swimming — Women's 200m Freestyle Heats|90|523|784
venue-ols-mlf|Olympic Stadium — Multilateral|180|587|880
bkb-gold-game|Basketball — Gold Medal Game|270|659|988
FEEDS
