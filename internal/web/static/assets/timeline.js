// The archive timeline of a feed: what is recorded (ranges of wall-clock
// time), the playhead, the clip's in and out marks, and a time axis. Click,
// drag or use the keys to scrub: the timeline only says where to go (a
// "seek" event with the instant in milliseconds, or "live"); the feed page
// moves the player.

import { h, text } from './dom.js';
import { clock, spoken } from './format.js';

// zooms are the spans the timeline can show, newest at the right; 0 is the whole archive.
export const zooms = [
  [0, 'Whole archive'],
  [5 * 60e3, 'Last 5 min'],
  [15 * 60e3, 'Last 15 min'],
  [60 * 60e3, 'Last hour'],
  [6 * 3600e3, 'Last 6 h'],
  [24 * 3600e3, 'Last 24 h'],
];

// tickSteps are the axis steps to choose from, in milliseconds.
const tickSteps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

// liveSlack is how close to the live edge a seek counts as going live.
const liveSlack = 3000;

export class Timeline extends EventTarget {
  constructor({ id, label }) {
    super();
    this.ranges = []; // [{from, to}] in ms, oldest first
    this.recording = false;
    this.edge = null; // end of the newest closed segment (ms)
    this.playhead = null;
    this.marks = { in: null, out: null };
    this.zoom = 0;
    this.preview = null; // the instant under a drag or pending key seek
    this.keyTimer = 0;

    this.rangeLayer = h('div', { class: 'tl-ranges' });
    this.growing = h('div', { class: 'tl-growing', hidden: true });
    this.selection = h('div', { class: 'tl-selection', hidden: true });
    this.inMark = h('div', { class: 'tl-mark tl-in', hidden: true, title: 'In' }, h('span', {}, 'I'));
    this.outMark = h('div', { class: 'tl-mark tl-out', hidden: true, title: 'Out' }, h('span', {}, 'O'));
    this.head = h('div', { class: 'tl-playhead', hidden: true });
    this.ghost = h('div', { class: 'tl-ghost', hidden: true });
    this.ghostLabel = h('span', { class: 'tl-ghost-label mono' });
    this.ghost.append(this.ghostLabel);
    this.track = h('div', {
      id, class: 'tl-track', role: 'slider', tabIndex: 0, 'aria-label': label,
      'aria-valuemin': 0, 'aria-valuemax': 0, 'aria-valuenow': 0,
      'aria-describedby': `${id}-help`,
    }, this.rangeLayer, this.growing, this.selection, this.inMark, this.outMark, this.head, this.ghost);
    this.axis = h('div', { class: 'tl-axis mono', 'aria-hidden': 'true' });
    this.el = h('div', { class: 'timeline' },
      this.track,
      this.axis,
      h('p', { id: `${id}-help`, class: 'help' },
        'Click or drag to play from the archive. Keys: ← → 5 s, with Shift 30 s, Page Up/Down 1 min, Home the oldest, End live.'));

    this.track.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.track.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.track.addEventListener('pointerup', (e) => this.onPointerUp(e));
    this.track.addEventListener('pointercancel', () => this.endDrag());
    this.track.addEventListener('pointerleave', () => { if (!this.dragging) this.showGhost(null); });
    this.track.addEventListener('keydown', (e) => this.onKey(e));
  }

  // setArchive takes GET /feeds/{id}/recording.
  setArchive(rec) {
    this.ranges = (rec.ranges ?? []).map((r) => ({ from: Date.parse(r.from), to: Date.parse(r.to) }))
      .filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
    this.recording = rec.state === 'recording';
    this.edge = rec.to ? Date.parse(rec.to) : (this.ranges.at(-1)?.to ?? null);
    this.render();
  }

  setPlayhead(ms) {
    this.playhead = ms;
    this.render();
  }

  setMarks(marks) {
    this.marks = marks;
    this.render();
  }

  setZoom(ms) {
    this.zoom = ms;
    this.render();
  }

  get oldest() { return this.ranges[0]?.from ?? null; }

  // now is the live edge as the timeline draws it.
  get now() { return Date.now(); }

  // view is the span drawn, [start, end] in ms; the live edge sits a little
  // inside the right end.
  view() {
    const end = this.now;
    let start = this.zoom ? end - this.zoom : (this.oldest ?? end - 60e3);
    if (end - start < 60e3) start = end - 60e3;
    return { start, end: end + (end - start) * 0.02 };
  }

  x(ms, v) { return ((ms - v.start) / (v.end - v.start)) * 100; }

  at(clientX, v = this.view()) {
    const box = this.track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    return v.start + f * (v.end - v.start);
  }

  // render draws everything from the current state; cheap enough to call
  // several times a second.
  render() {
    const v = this.view();
    const place = (el, from, to) => {
      const a = Math.max(0, this.x(from, v));
      const b = Math.min(100, this.x(to, v));
      el.hidden = b <= a;
      el.style.left = `${a}%`;
      el.style.width = `${b - a}%`;
    };
    const visible = this.ranges.filter((r) => r.to > v.start);
    while (this.rangeLayer.children.length > visible.length) this.rangeLayer.lastChild.remove();
    while (this.rangeLayer.children.length < visible.length) this.rangeLayer.append(h('div', { class: 'tl-range' }));
    visible.forEach((r, i) => {
      const el = this.rangeLayer.children[i];
      place(el, r.from, r.to);
      el.title = `Recorded ${clock(r.from)}–${clock(r.to)} UTC`;
      el.dataset.from = String(r.from);
      el.dataset.to = String(r.to);
    });
    // Being written: from the newest closed segment to now.
    if (this.recording && this.edge) place(this.growing, this.edge, this.now);
    else this.growing.hidden = true;

    const { in: markIn, out: markOut } = this.marks;
    for (const [el, ms] of [[this.inMark, markIn], [this.outMark, markOut]]) {
      el.hidden = ms === null || ms < v.start;
      if (!el.hidden) el.style.left = `${this.x(ms, v)}%`;
    }
    if (markIn !== null) {
      place(this.selection, markIn, markOut ?? this.now);
      this.selection.classList.toggle('open', markOut === null);
    } else this.selection.hidden = true;

    this.head.hidden = this.playhead === null || this.playhead < v.start;
    if (!this.head.hidden) this.head.style.left = `${this.x(this.playhead, v)}%`;
    if (this.preview !== null) this.showGhost(this.preview, v);

    this.renderAxis(v);
    this.describe(v);
  }

  renderAxis(v) {
    const span = v.end - v.start;
    const step = tickSteps.find((s) => span / s <= 8) ?? tickSteps.at(-1);
    const ticks = [];
    // Labels too near an end would be cut off.
    const margin = span * 0.03;
    for (let t = Math.ceil((v.start + margin) / step) * step; t <= v.end - margin; t += step) ticks.push(t);
    const seconds = step < 60e3;
    while (this.axis.children.length > ticks.length) this.axis.lastChild.remove();
    while (this.axis.children.length < ticks.length) this.axis.append(h('span', { class: 'tl-tick' }));
    ticks.forEach((t, i) => {
      const el = this.axis.children[i];
      el.style.left = `${this.x(t, v)}%`;
      text(el, seconds ? clock(t) : clock(t).slice(0, 5));
    });
  }

  // describe keeps the slider's value and words for assistive technology:
  // seconds from the start of the view.
  describe(v) {
    const now = this.playhead ?? this.now;
    this.track.setAttribute('aria-valuemax', String(Math.round((v.end - v.start) / 1000)));
    this.track.setAttribute('aria-valuenow', String(Math.round((Math.max(v.start, now) - v.start) / 1000)));
    const behind = (this.now - now) / 1000;
    this.track.setAttribute('aria-valuetext', this.playhead === null
      ? 'No picture yet'
      : `${clock(this.playhead)} UTC, ${behind < liveSlack / 1000 ? 'live' : `${spoken(behind)} behind live`}`);
  }

  showGhost(ms, v = this.view()) {
    if (ms === null) {
      this.ghost.hidden = true;
      return;
    }
    this.ghost.hidden = false;
    this.ghost.style.left = `${this.x(ms, v)}%`;
    const recorded = this.recordedAt(ms);
    text(this.ghostLabel, this.now - ms < liveSlack ? 'Live' : recorded ? clock(ms) : `${clock(ms)} · not recorded`);
    this.ghost.classList.toggle('gap', !recorded && this.now - ms >= liveSlack);
  }

  recordedAt(ms) {
    if (this.ranges.some((r) => ms >= r.from && ms < r.to)) return true;
    return this.recording && this.edge !== null && ms >= this.edge;
  }

  onPointerDown(e) {
    if (e.button !== 0) return;
    this.track.setPointerCapture(e.pointerId);
    this.dragging = true;
    this.track.classList.add('dragging');
    this.preview = this.at(e.clientX);
    this.render();
  }

  onPointerMove(e) {
    const ms = this.at(e.clientX);
    if (this.dragging) {
      this.preview = ms;
      this.render();
    } else this.showGhost(ms);
  }

  onPointerUp(e) {
    if (!this.dragging) return;
    const ms = this.at(e.clientX);
    this.endDrag();
    this.seek(ms);
  }

  endDrag() {
    this.dragging = false;
    this.preview = null;
    this.track.classList.remove('dragging');
    this.showGhost(null);
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const steps = { ArrowLeft: -5e3, ArrowRight: 5e3, ArrowDown: -5e3, ArrowUp: 5e3, PageDown: -60e3, PageUp: 60e3 };
    let target;
    if (e.key in steps) {
      const step = steps[e.key] * (e.shiftKey && e.key.startsWith('Arrow') ? 6 : 1);
      target = (this.preview ?? this.playhead ?? this.now) + step;
    } else if (e.key === 'Home') target = this.oldest ?? this.now;
    else if (e.key === 'End') target = this.now;
    else return;
    e.preventDefault();
    // Held keys move a preview; the player follows once they rest.
    this.preview = Math.min(this.now, target);
    this.render();
    clearTimeout(this.keyTimer);
    this.keyTimer = setTimeout(() => {
      const ms = this.preview;
      this.preview = null;
      this.showGhost(null);
      if (ms !== null) this.seek(ms);
    }, 350);
  }

  // seek says where to go: live near the edge; within a gap, the next
  // recorded instant; before the archive, its oldest instant.
  seek(ms) {
    if (this.now - ms < liveSlack) {
      this.dispatchEvent(new Event('live'));
      return;
    }
    let target = ms;
    // What is being written is not in the archive yet: its newest closed
    // instant is as near as it gets.
    if (this.recording && this.edge !== null && ms > this.edge - 1000) target = Math.max(this.oldest ?? 0, this.edge - 1000);
    else if (!this.recordedAt(ms)) {
      const next = this.ranges.find((r) => r.from > ms);
      if (next) target = next.from;
      else if (!this.recording) {
        this.dispatchEvent(new Event('live'));
        return;
      }
    }
    this.dispatchEvent(new CustomEvent('seek', { detail: target }));
  }

  destroy() {
    clearTimeout(this.keyTimer);
  }
}
