// Live state from the server's event stream (GET /api/v1/events): the
// caller's feeds and deliveries every second, the bitrate history of each
// feed, a signal whenever the catalog changed, and clips whose state changed
// (when the server sends "clips" events: one clip or a list).

const historyWindowMs = 5 * 60 * 1000;

export class Live extends EventTarget {
  constructor() {
    super();
    this.feeds = null; // null until the first `feeds` event
    this.deliveries = [];
    this.clips = []; // the clips of the newest `clips` event
    this.intervalMs = 2000;
    this.history = new Map(); // feed id -> bitrates, oldest first, one every intervalMs
    this.lastSample = new Map(); // feed id -> time of the newest history sample
    this.connected = null; // unknown until the stream opens or fails
  }

  start() {
    this.stop();
    const es = new EventSource('/api/v1/events');
    this.es = es;
    es.addEventListener('open', () => this.setConnected(true));
    es.addEventListener('history', (e) => this.onHistory(JSON.parse(e.data)));
    es.addEventListener('feeds', (e) => this.onFeeds(JSON.parse(e.data)));
    es.addEventListener('deliveries', (e) => {
      this.deliveries = JSON.parse(e.data) ?? [];
      this.emit('deliveries');
    });
    es.addEventListener('catalog', () => this.emit('catalog'));
    es.addEventListener('clips', (e) => {
      const data = JSON.parse(e.data);
      this.clips = Array.isArray(data) ? data : [data];
      this.emit('clips');
    });
    es.addEventListener('error', () => {
      this.setConnected(false);
      // CLOSED: the server refused the stream (signed out, or an error);
      // otherwise the browser reconnects by itself.
      if (es.readyState === EventSource.CLOSED) this.emit('closed');
    });
  }

  stop() {
    this.es?.close();
    this.es = null;
    this.connected = null;
  }

  setConnected(on) {
    if (this.connected === on) return;
    this.connected = on;
    this.emit('link');
  }

  onHistory(data) {
    this.intervalMs = data.interval_ms || 2000;
    this.history = new Map(Object.entries(data.feeds ?? {}));
    const now = Date.now();
    this.lastSample = new Map([...this.history.keys()].map((id) => [id, now]));
    this.emit('history');
  }

  onFeeds(feeds) {
    this.feeds = feeds ?? [];
    const now = Date.now();
    const max = Math.ceil(historyWindowMs / this.intervalMs);
    for (const f of this.feeds) {
      const last = this.lastSample.get(f.id);
      if (last !== undefined && now - last < this.intervalMs - 100) continue;
      const points = this.history.get(f.id) ?? [];
      points.push(f.bitrate_bps ?? 0);
      if (points.length > max) points.splice(0, points.length - max);
      this.history.set(f.id, points);
      this.lastSample.set(f.id, now);
    }
    this.emit('feeds');
  }

  // maxPoints is how many samples fill the history window.
  get maxPoints() { return Math.ceil(historyWindowMs / this.intervalMs); }

  feed(id) { return this.feeds?.find((f) => f.id === id); }

  emit(type) { this.dispatchEvent(new Event(type)); }

  // on subscribes to an event type and returns the function that unsubscribes.
  on(type, fn) {
    this.addEventListener(type, fn);
    return () => this.removeEventListener(type, fn);
  }
}
