// Clips as the portal shows them anywhere: the API calls, the status badge,
// the progress bar, the thumbnail, the download link, and a watcher that
// follows clips being prepared until they are ready or failed.

import { api } from './api.js';
import { h, text } from './dom.js';
import { bytes, duration } from './format.js';

const path = (id) => `/clips/${encodeURIComponent(id)}`;

export const clipsAPI = {
  create: (body) => api('POST', '/clips', body),
  get: (id) => api('GET', path(id)),
  // end closes an open clip at an RFC 3339 instant or "now".
  end: (id, end) => api('PATCH', path(id), { end }),
  search: (params) => api('GET', `/clips?${params}`),
};

export const thumbnailURL = (clip) => `/api/v1${path(clip.id)}/thumbnail.jpg`;
export const downloadURL = (clip) => `/api/v1${path(clip.id)}/download`;

// done says whether a clip will change no more.
export const done = (clip) => clip.status === 'ready' || clip.status === 'failed';

const statusNames = { queued: 'Queued', running: 'Preparing', ready: 'Ready', failed: 'Failed' };
const statusClasses = { queued: 'badge', running: 'badge warn', ready: 'badge ok', failed: 'badge gone' };

// status updates a status badge for a clip; an open clip (no end yet) says so.
export function status(el, clip) {
  const open = !clip.end && !done(clip);
  el.className = open ? 'badge live' : statusClasses[clip.status] ?? 'badge';
  text(el, open ? 'Open' : statusNames[clip.status] ?? clip.status);
}

// progressBar is a labelled bar for a clip's progress (0..1).
export function progressBar(label) {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': label });
  const pct = h('span', { class: 'progress-pct num' }, '0%');
  return { el: h('span', { class: 'progress' }, bar, pct), bar, pct };
}

export function setProgress(p, clip) {
  const v = done(clip) ? 1 : Math.min(1, Math.max(0, clip.progress ?? 0));
  p.bar.value = v;
  text(p.pct, clip.status === 'failed' ? '—' : `${Math.floor(v * 100)}%`);
}

// thumbnail is a fixed 16:9 box with the clip's picture once it is ready.
export function thumbnail(clip) {
  const box = h('div', { class: 'thumb' });
  updateThumbnail(box, clip);
  return box;
}

export function updateThumbnail(box, clip) {
  const want = clip.status === 'ready' ? clip.thumbnail_url ?? thumbnailURL(clip) : '';
  if (box.dataset.src === want) return;
  box.dataset.src = want;
  if (!want) {
    box.replaceChildren(h('span', { class: 'thumb-none' }, clip.status === 'failed' ? 'No picture' : 'Preparing…'));
    return;
  }
  const img = h('img', { src: want, alt: '', loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(h('span', { class: 'thumb-none' }, 'No picture')), { once: true });
  box.replaceChildren(img);
}

// fileName is what a download is saved as: the title, made safe, with the format.
export function fileName(clip) {
  const base = (clip.title || clip.id).normalize('NFKD').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || clip.id;
  return `${base}.${clip.format || 'mp4'}`;
}

// downloadLink is the clip's download, with its format and size.
export function downloadLink(clip) {
  return h('a', {
    class: 'download', href: downloadURL(clip), download: fileName(clip),
    'aria-label': `Download ${clip.title || clip.id} (${(clip.format || 'mp4').toUpperCase()}, ${bytes(clip.size)})`,
  }, `Download ${(clip.format || 'mp4').toUpperCase()}`, h('span', { class: 'muted' }, ` · ${bytes(clip.size)}`));
}

// clipLength is how long a clip is: its duration once cut, else its marks.
export function clipLength(clip) {
  if (clip.duration) return duration(clip.duration);
  if (clip.start && clip.end) return duration((Date.parse(clip.end) - Date.parse(clip.start)) / 1000);
  return '—';
}

// ClipWatcher follows clips until they are done: GET /clips/{id} every
// second, and the "clips" events of the event stream. onUpdate(clip) is
// called with every new state, and with {id, deleted: true} for a clip deleted.
export class ClipWatcher {
  constructor(live, onUpdate) {
    this.onUpdate = onUpdate;
    this.pending = new Set();
    this.timer = setInterval(() => this.poll(), 1000);
    this.busy = false;
    this.off = live.on('clips', () => {
      for (const clip of live.clips ?? []) this.update(clip);
    });
  }

  watch(clip) {
    if (!done(clip)) this.pending.add(clip.id);
  }

  // update takes a clip's new state, or {id, deleted: true}.
  update(clip) {
    if (!clip?.id) return;
    if (done(clip) || clip.deleted) this.pending.delete(clip.id);
    this.onUpdate(clip);
  }

  async poll() {
    if (this.busy || this.pending.size === 0 || document.hidden) return;
    this.busy = true;
    try {
      await Promise.all([...this.pending].map(async (id) => {
        try {
          this.update(await clipsAPI.get(id));
        } catch (err) {
          // A clip deleted, or no longer in the caller's rights, is followed no more.
          if (err.status === 404 || err.status === 403) this.pending.delete(id);
        }
      }));
    } finally {
      this.busy = false;
    }
  }

  destroy() {
    clearInterval(this.timer);
    this.off();
  }
}
