// Plays the stream given in ?src= with hls.js (configuration in ?config=,
// JSON) and, for every frame the browser presents, reads the clock burned
// into it: window.bench collects, per frame, when it was to be shown and
// how old its stamp was then. bench/hlsbench reads window.bench at the end.
'use strict';
const params = new URLSearchParams(location.search);
const bench = {
  // [shown wall-clock ms, age of the stamp at that time in ms, hls.latency s, hls.targetLatency s, playbackRate]
  frames: [],
  undecoded: 0,
  waiting: 0,
  errors: [],
  playlist: null,
  hlsVersion: Hls.version,
  config: null,
};
window.bench = bench;

const video = document.getElementById('video');
const canvas = document.createElement('canvas');
canvas.width = podiumClock.WIDTH;
canvas.height = podiumClock.HEIGHT;
const context = canvas.getContext('2d', { willReadFrequently: true });

function onFrame(now, metadata) {
  context.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
  const stamp = podiumClock.decodeStrip(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width);
  const shown = performance.timeOrigin + metadata.expectedDisplayTime;
  if (stamp < 0) {
    bench.undecoded++;
  } else {
    bench.frames.push([shown, podiumClock.stampAge(shown, stamp), hls.latency, hls.targetLatency, video.playbackRate]);
  }
  video.requestVideoFrameCallback(onFrame);
}

if (!Hls.isSupported()) {
  bench.errors.push({ fatal: true, details: 'hls.js: no MediaSource with H.264 in this browser' });
}
const hls = new Hls(JSON.parse(params.get('config') || '{}'));
bench.config = params.get('config');
hls.on(Hls.Events.ERROR, (event, data) => {
  bench.errors.push({ fatal: data.fatal, type: data.type, details: data.details, status: data.response ? data.response.code : undefined });
});
hls.on(Hls.Events.MANIFEST_PARSED, () => {
  video.play().catch((err) => bench.errors.push({ fatal: true, details: 'play: ' + err }));
});
hls.on(Hls.Events.LEVEL_LOADED, (event, data) => {
  const d = data.details;
  bench.playlist = {
    live: d.live, targetDuration: d.targetduration, partTarget: d.partTarget,
    partHoldBack: d.partHoldBack, holdBack: d.holdBack, canBlockReload: d.canBlockReload,
  };
});
// stalls holds, per 'waiting' event: wall-clock ms, seconds of video buffered ahead, hls.latency.
bench.stalls = [];
video.addEventListener('waiting', () => {
  bench.waiting++;
  const b = video.buffered;
  const ahead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
  bench.stalls.push([Date.now(), ahead, hls.latency]);
});
video.requestVideoFrameCallback(onFrame);
hls.loadSource(params.get('src'));
hls.attachMedia(video);
