// The feed page's archive: the timeline of what is recorded (GET
// /feeds/{id}/recording, every few seconds), scrubbing into it (the player
// switches to the start-over playlist from the chosen instant), the Live
// button back to the live edge, and the playhead's wall-clock time.

import { api } from './api.js';
import { announce, h, text } from './dom.js';
import { bytes, clock, spoken } from './format.js';
import { Timeline, zooms } from './timeline.js';

// refreshMs is how often the recorded ranges are fetched again.
const refreshMs = 3000;

const states = {
  recording: 'Recording',
  idle: 'Not recording: no signal',
  off: 'Recording is off for this feed',
  disk_full: 'Recording stopped: the archive disk is full',
};

export function archivePanel({ id, player }) {
  const timeline = new Timeline({ id: 'archive-timeline', label: 'Archive timeline' });
  const stateText = h('span', { id: 'archive-state' }, 'Loading the archive…');
  const badge = h('span', { class: 'badge' }, 'Archive');
  const zoom = h('select', { id: 'archive-zoom' }, zooms.map(([ms, label]) => h('option', { value: String(ms) }, label)));
  const message = h('p', { class: 'form-error', id: 'archive-error', role: 'alert' });
  const el = h('section', { class: 'archive', 'aria-labelledby': 'archive-title' },
    h('div', { class: 'archive-head' },
      h('h2', { id: 'archive-title' }, 'Archive'),
      h('p', { class: 'archive-state' }, badge, ' ', stateText),
      h('div', { class: 'field-inline' }, h('label', { for: 'archive-zoom' }, 'Show'), zoom)),
    timeline.el,
    message);

  const liveButton = h('button', {
    type: 'button', id: 'go-live', class: 'live-button', 'aria-pressed': 'true',
    'aria-keyshortcuts': 'L', title: 'Back to live (L)',
    onclick: () => goLive(),
  }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Live');
  const headTime = h('output', { id: 'playhead-time', class: 'mono', 'aria-label': 'Playhead time, UTC' }, '—');
  const behind = h('span', { id: 'playhead-behind', class: 'muted' });
  const transport = h('div', { class: 'transport' },
    liveButton,
    h('div', { class: 'playhead' }, h('span', { class: 'playhead-label' }, 'Playhead'), headTime, h('span', { class: 'muted' }, 'UTC'), behind));

  zoom.addEventListener('change', () => timeline.setZoom(Number(zoom.value)));
  timeline.addEventListener('live', () => goLive());
  timeline.addEventListener('seek', (e) => seek(e.detail));
  player.addEventListener('mode', () => renderMode());

  function goLive() {
    text(message, '');
    if (player.mode === 'live') return;
    player.goLive();
    announce('Live');
  }

  async function seek(ms) {
    text(message, '');
    if (player.seekWithin(ms)) return;
    try {
      await player.playFrom(ms);
      announce(`Playing the archive from ${clock(ms)} UTC`);
    } catch (err) {
      text(message, `Could not play from ${clock(ms)} UTC: ${err.message}`);
    }
  }

  function renderMode() {
    const live = player.mode === 'live';
    liveButton.setAttribute('aria-pressed', String(live));
    liveButton.classList.toggle('on', live);
    text(liveButton.lastChild, live ? 'Live' : 'Go live');
    liveButton.title = live ? 'Playing live' : 'Back to live (L)';
  }

  let available = true;
  async function refresh() {
    if (document.hidden) return;
    try {
      const rec = await api('GET', `/feeds/${encodeURIComponent(id)}/recording`);
      available = true;
      timeline.setArchive(rec);
      badge.className = rec.state === 'recording' ? 'badge live' : rec.state === 'disk_full' ? 'badge gone' : 'badge';
      text(badge, rec.state === 'recording' ? 'Rec' : 'Archive');
      const since = rec.from ? `archive from ${clock(Date.parse(rec.from))} UTC` : 'nothing recorded yet';
      text(stateText, `${states[rec.state] ?? rec.state ?? ''} · ${since}${rec.bytes ? ` · ${bytes(rec.bytes)}` : ''}`);
    } catch (err) {
      if (available) timeline.setArchive({ ranges: [] });
      available = false;
      badge.className = 'badge';
      text(stateText, err.status === 404 ? 'No archive for this feed.' : `Could not load the archive: ${err.message}`);
    }
  }

  // The playhead, the growing live edge and the time behind live move
  // between refreshes.
  function tick() {
    const at = player.wallClock();
    timeline.setPlayhead(at);
    text(headTime, clock(at, true));
    const lag = at === null ? null : (Date.now() - at) / 1000;
    text(behind, lag === null ? '' : player.mode === 'live' ? '' : `${spoken(lag)} behind live`);
  }

  renderMode();
  refresh();
  const refreshTimer = setInterval(refresh, refreshMs);
  const tickTimer = setInterval(tick, 250);
  return {
    el,
    transport,
    timeline,
    goLive,
    destroy() {
      clearInterval(refreshTimer);
      clearInterval(tickTimer);
      timeline.destroy();
    },
  };
}
