// A player of one feed: fetches a fresh playback URL from the API, plays it
// with hls.js (LL-HLS when live), and shows in words what it is doing. While
// its feed is off air (setLive, from the event stream) it asks the server
// for nothing and starts as soon as the feed is live again; a failure while
// the feed is live is retried after a pause that doubles up to 30 s. The
// main player can also play the feed's archive from a wall-clock instant
// (start-over: the playlist grows to the live edge) and say which wall-clock
// instant it shows. Each player is listed in window.__podiumPlayers (for the
// tests and for an engineer at the browser console).

import { api } from './api.js';
import { h, text } from './dom.js';

window.__podiumPlayers ??= new Set();

const messages = {
  loading: 'Connecting…',
  playing: '',
  offline: 'Off air: waiting for the signal',
  unavailable: 'Not available: this feed is not in your rights now',
  error: 'Playback interrupted: retrying',
  unsupported: 'This browser cannot play HLS',
};

export class Player extends EventTarget {
  // kind is "preview" (small, muted, no controls) or "main"; live is
  // whether the feed has a publisher, when the caller knows.
  constructor(feed, { kind = 'preview', label = feed, live = true } = {}) {
    super();
    this.feed = feed;
    this.kind = kind;
    this.hls = null;
    this.live = live;
    // mode is "live", or "archive" when playing the archive from archiveFrom
    // (milliseconds since the epoch).
    this.mode = 'live';
    this.archiveFrom = null;
    this.failures = 0;
    this.timer = 0;
    this.generation = 0;
    this.video = h('video', {
      muted: true, playsInline: true, autoplay: true, controls: kind === 'main',
      'aria-label': `${kind === 'main' ? 'Player' : 'Preview'}: ${label}`,
    });
    this.overlayText = h('span');
    this.overlay = h('div', { class: 'player-overlay', role: 'status' }, this.overlayText);
    this.el = h('div', { class: `player player-${kind}`, dataset: { feed } }, this.video, this.overlay);
    this.video.addEventListener('playing', () => {
      this.failures = 0;
      this.setState('playing');
    });
    this.setState('loading');
    window.__podiumPlayers.add(this);
  }

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
    const msg = state === 'loading' && !this.live && this.mode === 'live' ? messages.offline : messages[state];
    text(this.overlayText, msg);
    this.overlay.hidden = msg === '';
    this.dispatchEvent(new Event('state'));
  }

  // start fetches a playback URL and plays it; a feed not in the caller's
  // rights ends in the "unavailable" state. The live edge of a feed off air
  // waits in the "offline" state for setLive.
  async start() {
    if (this.mode === 'live' && !this.live) {
      this.waitForSignal();
      return;
    }
    // The archive resumes where it stopped.
    if (this.mode === 'archive') this.archiveFrom = this.wallClock() ?? this.archiveFrom;
    this.teardown();
    const generation = ++this.generation;
    this.setState('loading');
    let playback;
    try {
      playback = await api('GET', this.playbackPath());
    } catch (err) {
      if (generation !== this.generation) return;
      if (this.mode === 'archive' && err.status === 404) this.goLive();
      else if (err.status === 404 || err.status === 403) this.unavailable();
      else this.retry();
      return;
    }
    if (generation !== this.generation) return;
    this.play(playback.hls_url);
  }

  playbackPath() {
    const path = `/feeds/${encodeURIComponent(this.feed)}/playback`;
    return this.mode === 'archive' ? `${path}?from=${new Date(this.archiveFrom).toISOString()}` : path;
  }

  // playFrom plays the archive from a wall-clock instant (milliseconds).
  // The current picture stays until the archive's playlist is granted; a
  // refusal (nothing recorded there, say) rejects with the APIError and
  // leaves playback as it was.
  async playFrom(at) {
    const generation = ++this.generation;
    const previous = { mode: this.mode, from: this.archiveFrom };
    this.mode = 'archive';
    this.archiveFrom = at;
    let playback;
    try {
      playback = await api('GET', this.playbackPath());
    } catch (err) {
      if (generation === this.generation) {
        this.mode = previous.mode;
        this.archiveFrom = previous.from;
        if (!this.hls && this.state !== 'unavailable') this.start();
      }
      throw err;
    }
    if (generation !== this.generation) return;
    this.teardown();
    this.setState('loading');
    this.dispatchEvent(new Event('mode'));
    this.play(playback.hls_url);
  }

  // goLive returns to the live edge.
  goLive() {
    this.mode = 'live';
    this.archiveFrom = null;
    this.dispatchEvent(new Event('mode'));
    this.start();
  }

  // seekWithin moves to a wall-clock instant inside what the archive
  // playlist already holds, without a new playlist; false if it is not there.
  seekWithin(at) {
    const wall = this.wallClock();
    const v = this.video;
    if (this.mode !== 'archive' || wall === null || v.seekable.length === 0) return false;
    const target = v.currentTime + (at - wall) / 1000;
    const start = v.seekable.start(0);
    const end = v.seekable.end(v.seekable.length - 1);
    if (target < start || target > end - 2) return false;
    v.currentTime = target;
    return true;
  }

  // wallClock is the wall-clock instant (milliseconds) of the picture shown,
  // or null before there is one. The playlist's EXT-X-PROGRAM-DATE-TIME is
  // exact when present; otherwise the archive maps from + currentTime and
  // live counts back from now by the distance to the live edge.
  wallClock() {
    const v = this.video;
    if (!this.hls && !v.currentSrc) return null;
    if (v.readyState === 0 || this.state === 'unavailable') return null;
    const date = this.hls?.playingDate;
    if (date && !Number.isNaN(date.getTime())) return date.getTime();
    if (this.mode === 'archive') return this.archiveFrom + v.currentTime * 1000;
    const behind = this.hls ? this.hls.latency : (v.seekable.length ? v.seekable.end(v.seekable.length - 1) - v.currentTime : 0);
    return Date.now() - Math.max(0, behind || 0) * 1000;
  }

  play(url) {
    const Hls = window.Hls;
    if (Hls?.isSupported()) {
      const archive = this.mode === 'archive';
      const hls = new Hls({
        lowLatencyMode: !archive, backBufferLength: archive ? 60 : 10, capLevelToPlayerSize: this.kind === 'preview',
        // A start-over playlist grows like a live one, but plays from its
        // start: hls.js would begin at its live edge.
        startPosition: archive ? 0 : -1,
      });
      if (archive) hls.once(Hls.Events.LEVEL_LOADED, (_, data) => this.seekToStart(data.details.startTimeOffset));
      this.hls = hls;
      hls.on(Hls.Events.ERROR, (_, data) => this.onError(data));
      hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => this.dispatchEvent(new Event('tracks')));
      hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, () => this.dispatchEvent(new Event('tracks')));
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.autoplay());
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url;
      this.autoplay();
    } else {
      this.setState('unsupported');
    }
  }

  // seekToStart moves to the playlist's EXT-X-START offset: the instant
  // asked for, inside the first segment (which starts at a keyframe before it).
  seekToStart(offset) {
    if (!(offset > 0)) return;
    const v = this.video;
    const seek = () => { v.currentTime = offset; };
    if (v.readyState >= 1) seek();
    else v.addEventListener('loadedmetadata', seek, { once: true });
  }

  // autoplay starts the picture; with sound for the main player when the
  // browser allows it, muted otherwise.
  autoplay() {
    if (this.kind === 'main') this.video.muted = false;
    this.video.play().catch(() => {
      if (this.video.muted) return;
      this.video.muted = true;
      this.video.play().catch(() => {});
    });
  }

  onError(data) {
    if (!data.fatal) return;
    const Hls = window.Hls;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.failures < 2) {
      this.failures++;
      this.hls.recoverMediaError();
      return;
    }
    // A refused playlist (403) means the rights or the token changed: start
    // asks the API again, which says whether the feed may still be watched.
    const status = data.response?.code;
    if (status === 403 || status === 404) this.start();
    else this.retry();
  }

  // retry starts again after a pause that doubles with each failure, from
  // about 1 s up to about 30 s, less a random part of up to a half so that
  // the players of many browsers do not come back in step. The live edge
  // of a feed off air waits for setLive instead.
  retry() {
    if (this.mode === 'live' && !this.live) {
      this.waitForSignal();
      return;
    }
    if (this.mode === 'archive') this.archiveFrom = this.wallClock() ?? this.archiveFrom;
    this.teardown();
    this.setState('error');
    const ceiling = Math.min(1000 * 2 ** this.failures, 30000);
    this.failures = Math.min(this.failures + 1, 5);
    this.timer = setTimeout(() => this.start(), ceiling * (1 - Math.random() / 2));
  }

  // waitForSignal stops asking for the live edge until setLive says the feed is live.
  waitForSignal() {
    this.teardown();
    this.generation++;
    this.setState('offline');
  }

  // setLive tells the player whether its feed has a publisher now. A player
  // that shows pictures keeps them until its playlist fails: the event
  // stream and the HLS server need not see a feed end at the same moment.
  setLive(live) {
    const was = this.live;
    this.live = live;
    if (this.mode !== 'live' || this.state === 'unavailable') return;
    if (live && !was && this.state === 'offline') {
      this.failures = 0;
      this.start();
    } else if (!live && (this.state === 'loading' || this.state === 'error')) {
      this.waitForSignal();
    }
  }

  // unavailable stops playback for good: the feed is not in the caller's rights.
  unavailable() {
    this.teardown();
    this.generation++;
    this.setState('unavailable');
  }

  get audioTracks() { return this.hls?.audioTracks ?? []; }

  get audioTrack() { return this.hls?.audioTrack ?? -1; }

  set audioTrack(i) { if (this.hls) this.hls.audioTrack = i; }

  teardown() {
    clearTimeout(this.timer);
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
      this.dispatchEvent(new Event('tracks'));
    }
    if (this.video.getAttribute('src') !== null) {
      this.video.removeAttribute('src');
      this.video.load();
    }
  }

  destroy() {
    this.generation++;
    this.teardown();
    window.__podiumPlayers.delete(this);
  }
}
