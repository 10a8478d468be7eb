package main

import (
	"reflect"
	"testing"
)

// The examples of RFC 8216bis (section 9), as a low-latency fMP4 server writes them.
const multivariantExample = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="eng",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,URI="audio-0.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="fra",LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,URI="audio-1.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="audio"

video.m3u8
`

const mediaExample = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:00.000Z
#EXTINF:0.96,
seg266.m4s
#EXT-X-PART:DURATION=0.2,URI="seg267.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="seg267.1.m4s"
#EXTINF:0.96,
seg267.m4s?x=1
#EXT-X-PART:DURATION=0.2,URI="seg268.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg268.1.m4s"
`

func TestParseMultivariant(t *testing.T) {
	m, err := parseMultivariant(multivariantExample)
	if err != nil {
		t.Fatal(err)
	}
	want := multivariant{variants: []string{"video.m3u8"}, audio: []string{"audio-0.m3u8", "audio-1.m3u8"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := parseMultivariant("#EXTM3U\n"); err == nil {
		t.Error("accepted a playlist without variants")
	}
	if _, err := parseMultivariant("<html>"); err == nil {
		t.Error("accepted HTML")
	}
}

func TestParseMedia(t *testing.T) {
	m, err := parseMedia(mediaExample)
	if err != nil {
		t.Fatal(err)
	}
	want := mediaPlaylist{initURI: "init.mp4", segments: []string{"seg266.m4s", "seg267.m4s?x=1"},
		parts: []string{"seg267.0.m4s", "seg267.1.m4s", "seg268.0.m4s"}, targetDuration: 1, partTarget: 0.2,
		serverControl: "CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	if _, err := parseMedia("#EXTM3U\n#EXTINF:1,\na.ts\n"); err == nil {
		t.Error("accepted a playlist without EXT-X-MAP")
	}
}

func TestParseAttributes(t *testing.T) {
	got := parseAttributes(`TYPE=AUDIO,NAME="a, b",URI="x.m3u8",DEFAULT=YES`)
	want := map[string]string{"TYPE": "AUDIO", "NAME": "a, b", "URI": "x.m3u8", "DEFAULT": "YES"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolve(t *testing.T) {
	got, err := resolve("http://127.0.0.1:8080/hls/f/tok/index.m3u8", "video.m3u8?_HLS_msn=3")
	if err != nil || got != "http://127.0.0.1:8080/hls/f/tok/video.m3u8?_HLS_msn=3" {
		t.Errorf("got %q, %v", got, err)
	}
}
