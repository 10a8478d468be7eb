// Cutting clips on the feed page: in and out marks set at the playhead's
// wall-clock time (buttons, or the I and O keys), the metadata form that
// creates the clip (POST /clips), and the feed's clips with their progress
// until they are ready to download. A clip may be created with an in mark
// only, from the live edge: it stays open until O (or "End now") closes it.

import { announce, h, keyed, text } from './dom.js';
import { clock, duration } from './format.js';
import {
  ClipWatcher, clipLength, clipsAPI, done, downloadLink, progressBar, setProgress, status, thumbnail, updateThumbnail,
} from './clips.js';

// recentLimit is how many of the feed's clips the page lists.
const recentLimit = 8;

export const modes = [
  ['copy', 'Copy: at keyframes, fast'],
  ['exact', 'Exact: frame-accurate'],
  ['vertical', 'Vertical 9:16: social'],
];
export const formats = [['mp4', 'MP4'], ['ts', 'MPEG-TS']];

const iso = (ms) => new Date(ms).toISOString();
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export function clipper({ id, player, timeline, live, goLive }) {
  const marks = { in: null, out: null };
  const clips = new Map(); // id -> clip, this feed's

  // Marks, under the player.
  const inTime = h('output', { id: 'mark-in-time', class: 'mono' }, '—');
  const outTime = h('output', { id: 'mark-out-time', class: 'mono' }, '—');
  const length = h('output', { id: 'mark-length', class: 'mono' }, '—');
  const markBar = h('div', { class: 'marks', role: 'group', 'aria-label': 'Clip marks' },
    h('button', { type: 'button', id: 'mark-in', 'aria-keyshortcuts': 'I', onclick: () => markIn() }, 'Mark in ', h('kbd', {}, 'I')),
    h('button', { type: 'button', id: 'mark-out', 'aria-keyshortcuts': 'O', onclick: () => markOut() }, 'Mark out ', h('kbd', {}, 'O')),
    h('button', { type: 'button', id: 'clear-marks', class: 'small', onclick: () => clearMarks(true) }, 'Clear'));

  // The form, beside the player.
  const error = h('p', { class: 'form-error', id: 'clip-error', role: 'alert' });
  const f = {
    title: h('input', { id: 'clip-title', name: 'title', maxLength: 200, autocomplete: 'off', placeholder: 'The feed and the time when left empty' }),
    description: h('textarea', { id: 'clip-description', name: 'description', rows: 2, maxLength: 2000 }),
    tags: h('input', { id: 'clip-tags', name: 'tags', autocomplete: 'off', 'aria-describedby': 'clip-tags-help' }),
    athletes: h('input', { id: 'clip-athletes', name: 'athletes', autocomplete: 'off', 'aria-describedby': 'clip-athletes-help' }),
    mode: h('select', { id: 'clip-mode', name: 'mode', 'aria-describedby': 'clip-mode-help' }, modes.map(([v, l]) => h('option', { value: v }, l))),
    format: h('select', { id: 'clip-format', name: 'format' }, formats.map(([v, l]) => h('option', { value: v }, l))),
  };
  const openHint = h('p', { class: 'open-hint', id: 'open-clip-hint', role: 'status' });
  const submit = h('button', { type: 'submit', id: 'clip-create', class: 'primary' }, 'Create clip');
  const form = h('form', { id: 'clip-form', novalidate: true },
    h('dl', { class: 'facts mark-facts' },
      h('div', {}, h('dt', {}, 'In'), h('dd', {}, inTime)),
      h('div', {}, h('dt', {}, 'Out'), h('dd', {}, outTime)),
      h('div', {}, h('dt', {}, 'Length'), h('dd', {}, length))),
    h('p', { class: 'help' }, 'Mark in and out on the player. With an in mark only, the clip runs on from the live edge until you press O or End now.'),
    openHint,
    field('clip-title', 'Title', f.title),
    field('clip-description', 'Description', f.description),
    field('clip-tags', 'Tags', f.tags, 'Separated by commas, e.g. final, world record.'),
    field('clip-athletes', 'Athletes', f.athletes, 'Separated by commas.'),
    h('div', { class: 'field-pair' }, field('clip-mode', 'Cut', f.mode), field('clip-format', 'Format', f.format)),
    h('p', { class: 'help', id: 'clip-mode-help' }, 'Copy cuts at the keyframes around the marks, without re-encoding. Exact and vertical re-encode: frame-accurate, slower.'),
    error,
    submit);
  const formPanel = h('section', { class: 'panel clip-panel', 'aria-labelledby': 'clip-panel-title' },
    h('h2', { id: 'clip-panel-title' }, 'New clip'), form);

  // The feed's clips, under the timeline.
  const rows = h('ul', { id: 'clip-list', class: 'clip-list', 'aria-label': 'Clips of this feed' });
  const none = h('p', { class: 'empty' }, 'No clips of this feed yet.');
  const listPanel = h('section', { class: 'clips-of-feed', 'aria-labelledby': 'feed-clips-title' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'feed-clips-title' }, 'Clips'), h('a', { href: `/library?feed=${encodeURIComponent(id)}` }, 'All in the library')),
    none, rows);

  const watcher = new ClipWatcher(live, (clip) => {
    if (clip.deleted) {
      if (clips.delete(clip.id)) renderList();
      return;
    }
    if (clip.feed_id !== id) return;
    clip.mine = clips.get(clip.id)?.mine;
    clips.set(clip.id, clip);
    renderList();
  });

  // renderHint says, while no in mark is set, that O ends the open clip.
  function renderHint() {
    const open = newestOpen();
    text(openHint, open && marks.in === null ? `“${open.title || open.id}” is open from ${clock(Date.parse(open.start))}: O ends it at the playhead.` : '');
  }

  function renderMarks() {
    renderHint();
    text(inTime, marks.in === null ? '—' : clock(marks.in, true));
    text(outTime, marks.out === null ? (marks.in === null ? '—' : 'open') : clock(marks.out, true));
    text(length, marks.in === null ? '—' : duration(((marks.out ?? Date.now()) - marks.in) / 1000));
    timeline.setMarks({ ...marks });
  }

  function playhead() {
    const at = player.wallClock();
    if (at === null) text(error, 'No picture yet: marks are set at the picture shown.');
    return at;
  }

  function markIn() {
    const at = playhead();
    if (at === null) return;
    text(error, '');
    marks.in = at;
    let note = '';
    if (marks.out !== null && marks.out <= at) {
      marks.out = null;
      note = '; the out mark was before it and is cleared';
    }
    renderMarks();
    announce(`In at ${clock(at, true)}${note}`);
  }

  // markOut sets the out mark; with no in mark, it ends the newest open
  // clip of this page at the playhead ("in now, out later").
  async function markOut() {
    const at = playhead();
    if (at === null) return;
    text(error, '');
    if (marks.in === null) {
      const open = newestOpen();
      if (open) {
        await endClip(open, iso(at));
        return;
      }
      text(error, 'Mark in first (I).');
      return;
    }
    if (at <= marks.in) {
      text(error, `Out must be after in (${clock(marks.in, true)}).`);
      return;
    }
    marks.out = at;
    renderMarks();
    announce(`Out at ${clock(at, true)}, length ${duration((at - marks.in) / 1000)}`);
  }

  function clearMarks(say) {
    marks.in = null;
    marks.out = null;
    renderMarks();
    if (say) announce('Marks cleared');
  }

  function newestOpen() {
    return [...clips.values()].filter((c) => !c.end && !done(c) && c.mine).sort(byNewest)[0];
  }

  async function endClip(clip, end) {
    try {
      const updated = await clipsAPI.end(clip.id, end);
      updated.mine = clip.mine;
      clips.set(updated.id, updated);
      watcher.watch(updated);
      renderList();
      announce(`${clip.title || 'Clip'} ends at ${updated.end ? clock(Date.parse(updated.end), true) : 'now'}`);
    } catch (err) {
      text(error, `Could not end the clip: ${err.message}`);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    text(error, '');
    f.title.removeAttribute('aria-invalid');
    if (marks.in === null) {
      text(error, 'Mark in first (I): the clip starts at the in mark.');
      return;
    }
    const body = {
      feed_id: id, start: iso(marks.in), title: f.title.value.trim(), description: f.description.value.trim(),
      tags: list(f.tags.value), athletes: list(f.athletes.value), mode: f.mode.value, format: f.format.value,
    };
    if (marks.out !== null) body.end = iso(marks.out);
    submit.disabled = true;
    try {
      const clip = await clipsAPI.create(body);
      clip.mine = true;
      clips.set(clip.id, clip);
      watcher.watch(clip);
      renderList();
      clearMarks(false);
      f.title.value = '';
      f.description.value = '';
      announce(`Clip ${clip.title} created${clip.end ? '' : ': open until you press O'}`);
    } catch (err) {
      text(error, err.field ? `${err.field}: ${err.message}` : err.message);
      const bad = err.field && f[err.field];
      if (bad) {
        bad.setAttribute('aria-invalid', 'true');
        bad.focus();
      }
    } finally {
      submit.disabled = false;
    }
  });

  function renderList() {
    const items = [...clips.values()].sort(byNewest);
    renderHint();
    none.hidden = items.length > 0;
    keyed(rows, items, (c) => c.id, { create: clipRow, update: (el, c) => updateRow(el, c, endClip) });
  }

  async function loadRecent() {
    try {
      const res = await clipsAPI.search(new URLSearchParams({ feed: id, limit: String(recentLimit) }));
      for (const clip of res.clips ?? []) {
        if (!clips.has(clip.id)) clips.set(clip.id, clip);
        watcher.watch(clip);
      }
      renderList();
    } catch {
      // No library on this server, or none visible: the list shows what this page creates.
    }
  }

  // I and O mark, L goes live: anywhere on the page but in a text field.
  function onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    const t = e.target;
    if (t instanceof HTMLElement && (t.isContentEditable || t.closest('input, textarea, select'))) return;
    const key = e.key.toLowerCase();
    if (key === 'i') markIn();
    else if (key === 'o') markOut();
    else if (key === 'l') goLive();
    else return;
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  const lengthTimer = setInterval(() => { if (marks.in !== null && marks.out === null) renderMarks(); }, 1000);

  renderMarks();
  loadRecent();
  return {
    markBar,
    formPanel,
    listPanel,
    destroy() {
      document.removeEventListener('keydown', onKey);
      clearInterval(lengthTimer);
      watcher.destroy();
    },
  };
}

const byNewest = (a, b) => (Date.parse(b.created_at ?? b.start) || 0) - (Date.parse(a.created_at ?? a.start) || 0);

function field(id, label, control, help) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    help ? h('p', { class: 'help', id: `${id}-help` }, help) : null);
}

function clipRow(clip) {
  const progress = progressBar(`Progress of ${clip.title || clip.id}`);
  const el = h('li', { class: 'clip-row', dataset: { clip: clip.id } },
    thumbnail(clip),
    h('div', { class: 'clip-info' },
      h('strong', { class: 'clip-name' }),
      h('span', { class: 'clip-times mono' }),
      h('span', { class: 'clip-error', role: 'status' })),
    h('div', { class: 'clip-state' }, h('span', { class: 'badge' }), progress.el),
    h('div', { class: 'clip-actions' }));
  el.progress = progress;
  return el;
}

function updateRow(el, clip, endClip) {
  el.dataset.status = clip.status;
  updateThumbnail(el.querySelector('.thumb'), clip);
  text(el.querySelector('.clip-name'), clip.title || clip.id);
  const start = Date.parse(clip.start);
  const end = clip.end ? clock(Date.parse(clip.end)) : 'open';
  text(el.querySelector('.clip-times'), `${clock(start)}–${end} · ${clipLength(clip)} · ${clip.mode ?? 'copy'} · ${(clip.format ?? 'mp4').toUpperCase()}`);
  text(el.querySelector('.clip-error'), clip.status === 'failed' ? clip.error || 'Failed' : '');
  status(el.querySelector('.badge'), clip);
  setProgress(el.progress, clip);
  const open = !clip.end && !done(clip);
  el.querySelector('.progress').hidden = clip.status === 'ready' || open;

  // Actions change with the state: rebuilt only when the state does.
  const actions = el.querySelector('.clip-actions');
  const key = `${clip.status}/${open}`;
  if (actions.dataset.key === key) return;
  actions.dataset.key = key;
  if (clip.status === 'ready') actions.replaceChildren(downloadLink(clip));
  else if (open) {
    actions.replaceChildren(h('button', {
      type: 'button', class: 'small end-now', onclick: () => endClip(clip, 'now'),
      'aria-label': `End ${clip.title || clip.id} now`,
    }, 'End now'));
  } else actions.replaceChildren();
}
