#!/usr/bin/env bash
# Generates the demo feeds' sample transport streams in internal/demo/samples
# with ffmpeg (5.1, with libx264 and the DejaVu fonts).
#
# Each sample is 4.8 s: 240 frames of 1280x720 50p H.264 (a keyframe every 48
# frames, closed GOPs) with the feed's name and a running clock burned in,
# two tracks of 225 frames of AAC-LC stereo (eng, then fra: the two
# renditions a browser can switch between over HLS) and 150 frames of AC-3
# stereo (eng; SRT only, browsers do not decode it), all at 48 kHz. Every track fills the 4.8 s exactly, so that internal/tsloop loops
# the file without a gap or an overlap by shifting every timestamp by 4.8 s a
# pass.
#
# Audio encoders prime (AAC's adds a whole frame before the signal, AC-3's
# 256 samples) and pad the last frame, and a tone cut at an arbitrary point
# jumps in phase: a dropout and a click at every loop boundary. So each tone
# repeats exactly every 4.8 s (a multiple of 5 Hz: whole cycles), three
# periods of it are encoded, and exactly one period of frames is copied out
# of the middle: on the wrap, the frame before the first is the same as in
# the encoder's eyes.
# x264 runs on one thread: with more, its output depends on their timing and
# the samples would change on every run.
#
# Usage: scripts/make-samples.sh
set -euo pipefail
cd "$(dirname "$0")/.."

out=internal/demo/samples
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
mono=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
rate=48000
loop=4.8
loop_samples=230400 # 4.8 s at 48 kHz
video_frames=240 # 4.8 s at 50 fps
aac_frames=225   # 4.8 s of 1024-sample frames
ac3_frames=150   # 4.8 s of 1536-sample frames

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# audio FREQ CODEC BITRATE FRAMES OUT encodes three loops of a FREQ Hz tone
# and keeps FRAMES frames (one loop) from the middle.
audio() {
	local freq=$1 codec=$2 bitrate=$3 frames=$4 dst=$5
	ff -f lavfi -i "sine=frequency=$freq:sample_rate=$rate,atrim=end_sample=$((3 * loop_samples))" \
		-ac 2 -c:a "$codec" -b:a "$bitrate" -f nut "$tmp/full.nut"
	ff -i "$tmp/full.nut" -ss "$loop" -frames:a "$frames" -c copy -f nut "$dst"
}

# id|name|hue shift (degrees)|AAC eng tone|AAC fra tone|AC-3 tone (Hz)
while IFS='|' read -r id name hue tone_aac tone_aac2 tone_ac3; do
	printf '%s' "$name" >"$tmp/name.txt"
	ff -f lavfi -i "testsrc2=size=1280x720:rate=50,hue=h=$hue,
drawbox=x=0:y=560:w=1280:h=160:color=black@0.6:t=fill,
drawtext=fontfile=$font:textfile=$tmp/name.txt:fontsize=44:fontcolor=white:x=40:y=585,
drawtext=fontfile=$mono:text='%{pts\:hms}':fontsize=56:fontcolor=yellow:x=40:y=640,
drawtext=fontfile=$mono:text='$id':fontsize=32:fontcolor=white:x=w-tw-40:y=655" \
		-frames:v "$video_frames" -threads 1 \
		-c:v libx264 -preset slow -profile:v high -pix_fmt yuv420p \
		-b:v 1200k -maxrate 1500k -bufsize 1500k \
		-g 48 -keyint_min 48 -sc_threshold 0 -x264-params open-gop=0 \
		-f nut "$tmp/video.nut"
	audio "$tone_aac" aac 128k "$aac_frames" "$tmp/aac.nut"
	audio "$tone_aac2" aac 128k "$aac_frames" "$tmp/aac2.nut"
	audio "$tone_ac3" ac3 192k "$ac3_frames" "$tmp/ac3.nut"
	ff -i "$tmp/video.nut" -i "$tmp/aac.nut" -i "$tmp/aac2.nut" -i "$tmp/ac3.nut" \
		-map 0:v -map 1:a -map 2:a -map 3:a -c copy \
		-metadata:s:a:0 language=eng -metadata:s:a:1 language=fra -metadata:s:a:2 language=eng \
		-metadata service_name="$name" -metadata service_provider=Podium \
		-mpegts_pmt_start_pid 0x1000 -mpegts_start_pid 0x100 -pcr_period 20 \
		-f mpegts "$out/$id.ts"
	counts=$(ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets \
		-of csv=p=0 "$out/$id.ts" </dev/null | awk 'NF && !seen[$0]++' | paste -sd' ')
	want="h264,$video_frames aac,$aac_frames ac3,$ac3_frames"
	if [[ $counts != "$want" ]]; then
		echo "$id: frames per track are $counts, want $want: it would not loop seamlessly" >&2
		exit 1
	fi
	printf '%-16s %8d bytes  frames per track: %s\n' "$id" "$(stat -c %s "$out/$id.ts")" "$counts"
done <<'FEEDS'
ath-100m-final|Athletics — Men's 100m Final|0|440|550|660
swm-200fr-heats|Swimming — Women's 200m Freestyle Heats|90|520|650|780
venue-ols-mlf|Olympic Stadium — Multilateral|180|590|740|885
bkb-gold-game|Basketball — Gold Medal Game|270|660|825|990
FEEDS
