// A live player of one feed: fetches a fresh playback URL from the API,
// plays it with hls.js (LL-HLS), and shows in words what it is doing.
// Each player is listed in window.__podiumPlayers (for the tests and for
// an engineer at the browser console).

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
  // kind is "preview" (small, muted, no controls) or "main".
  constructor(feed, { kind = 'preview', label = feed } = {}) {
    super();
    this.feed = feed;
    this.kind = kind;
    this.hls = null;
    this.live = true;
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
    const msg = state === 'loading' && !this.live ? messages.offline : messages[state];
    text(this.overlayText, msg);
    this.overlay.hidden = msg === '';
    this.dispatchEvent(new Event('state'));
  }

  // start fetches a playback URL and plays it; a feed not in the caller's
  // rights ends in the "unavailable" state.
  async start() {
    this.teardown();
    const generation = ++this.generation;
    this.setState('loading');
    let playback;
    try {
      playback = await api('GET', `/feeds/${encodeURIComponent(this.feed)}/playback`);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.status === 404 || err.status === 403) this.unavailable();
      else this.retry();
      return;
    }
    if (generation !== this.generation) return;
    this.play(playback.hls_url);
  }

  play(url) {
    const Hls = window.Hls;
    if (Hls?.isSupported()) {
      const hls = new Hls({ lowLatencyMode: true, backBufferLength: 10, capLevelToPlayerSize: this.kind === 'preview' });
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

  // retry starts again after a pause that grows with repeated failures.
  retry() {
    this.teardown();
    this.setState(this.live ? 'error' : 'offline');
    const delay = Math.min(1000 * 2 ** this.failures, 10000);
    this.failures++;
    this.timer = setTimeout(() => this.start(), delay);
  }

  // setLive tells the player whether its feed has a publisher now.
  setLive(live) {
    const was = this.live;
    this.live = live;
    if (live && !was && (this.state === 'offline' || this.state === 'error')) {
      this.failures = 0;
      this.start();
    } else if (!live && this.state !== 'playing' && this.state !== 'unavailable') {
      this.setState(this.state === 'error' ? 'offline' : this.state);
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
