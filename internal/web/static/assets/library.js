// The library: the clips the caller may see (its feeds' and its own; the
// operator's: all), searched in full text, narrowed by facets (sport,
// event, athlete, feed) with their counts, a page at a time. Each clip has
// its thumbnail, a preview played in place, and its download. The query
// lives in the address (/library?q=…&sport=…), so a search can be linked
// to and Back undoes a filter.

import { announce, h, keyed, text } from './dom.js';
import { count, instant } from './format.js';
import {
  clipLength, clipsAPI, done, downloadLink, downloadURL, progressBar, setProgress, status, thumbnail, updateThumbnail,
} from './clips.js';

const pageSize = 24;
// pendingRefreshMs is how often results are fetched again while some clip is being prepared.
const pendingRefreshMs = 2000;
const facetsShown = 8;

export const facetNames = [['sport', 'Sport'], ['event', 'Event'], ['athlete', 'Athlete'], ['feed', 'Feed']];
const filterKeys = ['q', ...facetNames.map(([k]) => k), 'from', 'to'];

export function mountLibrary(main, { live }) {
  const query = readQuery();
  const q = h('input', {
    id: 'library-q', type: 'search', name: 'q', value: query.get('q') ?? '', autocomplete: 'off', maxLength: 1000,
    placeholder: 'Titles, athletes, tags, events…', 'aria-describedby': 'library-q-help',
  });
  const searchForm = h('form', { class: 'library-search', role: 'search' },
    h('label', { for: 'library-q' }, 'Search clips'),
    h('div', { class: 'search-row' }, q, h('button', { type: 'submit', class: 'primary' }, 'Search')),
    h('p', { class: 'help', id: 'library-q-help' }, 'Words in the title, description, tags, athletes, sport or event.'));
  const summary = h('p', { class: 'summary num', id: 'library-summary', role: 'status' });
  const active = h('div', { class: 'active-filters', id: 'active-filters', 'aria-label': 'Filters in use' });
  const facetEls = Object.fromEntries(facetNames.map(([key, label]) => [key, facetGroup(key, label)]));
  const results = h('ul', { class: 'clip-grid', id: 'library-results', 'aria-label': 'Clips' });
  const empty = h('p', { class: 'empty', hidden: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const prev = h('button', { type: 'button', id: 'page-prev', onclick: () => page(-1) }, '← Previous');
  const next = h('button', { type: 'button', id: 'page-next', onclick: () => page(1) }, 'Next →');
  const position = h('span', { class: 'num', id: 'page-position' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of results' }, prev, position, next);

  main.replaceChildren(h('section', { class: 'page library', 'aria-labelledby': 'library-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'library-title', tabIndex: -1 }, 'Library'), summary),
    searchForm,
    h('div', { class: 'library-layout' },
      h('aside', { class: 'facets panel', 'aria-labelledby': 'facets-title' },
        h('h2', { id: 'facets-title' }, 'Filters'),
        active,
        facetNames.map(([key]) => facetEls[key].el)),
      h('div', { class: 'results' }, error, empty, results, pager))));

  let total = 0;
  let generation = 0;
  let typing = 0;
  let pendingTimer = 0;
  const previewing = { el: null };

  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(typing);
    setQuery({ q: q.value.trim() }, true);
  });
  q.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => setQuery({ q: q.value.trim() }, false), 300);
  });

  // setQuery changes the query (offset back to the first page unless
  // given) and searches; push makes it a step Back can undo.
  function setQuery(changes, push) {
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '' || v === undefined) query.delete(k);
      else query.set(k, v);
    }
    if (!('offset' in changes)) query.delete('offset');
    const url = `/library${query.size ? `?${query}` : ''}`;
    if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
    search();
  }

  function page(step) {
    const offset = Math.max(0, (Number(query.get('offset')) || 0) + step * pageSize);
    setQuery({ offset: offset ? String(offset) : null }, true);
    results.querySelector('a, button')?.focus();
  }

  async function search({ quiet = false } = {}) {
    const mine = ++generation;
    clearTimeout(pendingTimer);
    const params = new URLSearchParams();
    for (const k of filterKeys) if (query.get(k)) params.set(k, query.get(k));
    params.set('limit', String(pageSize));
    params.set('offset', query.get('offset') ?? '0');
    if (!quiet) results.setAttribute('aria-busy', 'true');
    let res;
    try {
      res = await clipsAPI.search(params);
    } catch (err) {
      if (mine !== generation) return;
      results.removeAttribute('aria-busy');
      text(error, `Could not search the library: ${err.message}`);
      return;
    }
    if (mine !== generation) return;
    results.removeAttribute('aria-busy');
    text(error, '');
    render(res);
    if ((res.clips ?? []).some((c) => !done(c))) pendingTimer = setTimeout(() => search({ quiet: true }), pendingRefreshMs);
  }

  function render(res) {
    const clips = res.clips ?? [];
    total = res.total ?? clips.length;
    const offset = Number(query.get('offset')) || 0;
    text(summary, `${count(total)} ${total === 1 ? 'clip' : 'clips'}`);
    const filtered = filterKeys.some((k) => query.get(k));
    empty.hidden = clips.length > 0;
    text(empty, filtered ? 'No clip matches. Remove a filter or change the words.' : 'No clips yet. Cut them on a feed\'s page.');
    keyed(results, clips, (c) => c.id, {
      create: (c) => card(c, previewing),
      update: (el, c) => updateCard(el, c, feedName),
      remove: (el) => { if (previewing.el === el) previewing.el = null; },
    });
    pager.hidden = total <= pageSize && offset === 0;
    prev.disabled = offset === 0;
    next.disabled = offset + clips.length >= total;
    text(position, clips.length ? `${count(offset + 1)}–${count(offset + clips.length)} of ${count(total)}` : '');
    for (const [key] of facetNames) facetEls[key].render(res.facets?.[key] ?? {}, query.get(key), feedName);
    renderActive();
  }

  function renderActive() {
    const chips = facetNames.filter(([k]) => query.get(k)).map(([k, label]) => {
      const value = query.get(k);
      const shown = k === 'feed' ? feedName(value) : value;
      return h('button', {
        type: 'button', class: 'chip', dataset: { facet: k },
        'aria-label': `Remove the filter ${label}: ${shown}`,
        onclick: () => { setQuery({ [k]: null }, true); announce(`Filter ${label} removed`); },
      }, `${label}: ${shown}`, h('span', { 'aria-hidden': 'true' }, ' ×'));
    });
    active.replaceChildren(...chips);
    active.hidden = chips.length === 0;
  }

  function feedName(id) {
    return live.feed(id)?.name ?? id;
  }

  // facetGroup is one facet's values with their counts, as toggle buttons.
  function facetGroup(key, label) {
    const list = h('ul', { class: 'facet-list', id: `facet-${key}` });
    const more = h('button', { type: 'button', class: 'small facet-more', hidden: true });
    const el = h('section', { class: 'facet', 'aria-labelledby': `facet-${key}-title` },
      h('h3', { id: `facet-${key}-title` }, label), list, more);
    let expanded = false;
    let last = null;
    more.addEventListener('click', () => {
      expanded = !expanded;
      if (last) render(...last);
    });
    function render(counts, selected, name) {
      last = [counts, selected, name];
      const values = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      if (selected && !counts[selected]) values.unshift([selected, 0]);
      const shown = expanded ? values : values.slice(0, facetsShown);
      keyed(list, shown, ([v]) => v, {
        create: ([v]) => h('li', {}, h('button', {
          type: 'button', class: 'facet-value', dataset: { facet: key, value: v },
          onclick: () => {
            const on = query.get(key) === v;
            setQuery({ [key]: on ? null : v }, true);
            announce(on ? `Filter ${label} removed` : `Filtered by ${label}: ${key === 'feed' ? name(v) : v}`);
          },
        }, h('span', { class: 'facet-name' }), h('span', { class: 'facet-count num' }))),
        update: (li, [v, n]) => {
          const b = li.firstChild;
          b.setAttribute('aria-pressed', String(selected === v));
          text(b.querySelector('.facet-name'), key === 'feed' ? name(v) : v);
          text(b.querySelector('.facet-count'), count(n));
        },
      });
      el.hidden = values.length === 0;
      more.hidden = values.length <= facetsShown;
      text(more, expanded ? 'Show fewer' : `Show all ${values.length}`);
    }
    return { el, render };
  }

  // A clip shown changes in place; a clip ready or deleted elsewhere may
  // change the results and the counts: search again, once for a burst.
  const offClips = live.on('clips', () => {
    let again = false;
    for (const clip of live.clips) {
      const el = results.querySelector(`[data-clip="${CSS.escape(clip.id)}"]`);
      if (el && !clip.deleted) updateCard(el, clip, feedName);
      if (clip.deleted || done(clip)) again = true;
    }
    if (!again) return;
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(() => search({ quiet: true }), 1000);
  });
  search();

  return () => {
    generation++;
    clearTimeout(typing);
    clearTimeout(pendingTimer);
    offClips();
  };
}

function readQuery() {
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const k of [...filterKeys, 'offset']) if (params.get(k)) query.set(k, params.get(k));
  return query;
}

function card(clip, previewing) {
  const progress = progressBar(`Progress of ${clip.title || clip.id}`);
  const media = h('div', { class: 'card-media' }, thumbnail(clip));
  const preview = h('button', { type: 'button', class: 'preview-button' }, h('span', { 'aria-hidden': 'true' }, '▶ '), 'Preview');
  const el = h('li', { class: 'clip-card', dataset: { clip: clip.id } },
    media,
    h('div', { class: 'card-body' },
      h('h3', { class: 'card-title' }),
      h('p', { class: 'card-sub' }),
      h('dl', { class: 'facts card-facts' },
        h('div', {}, h('dt', {}, 'Length'), h('dd', { dataset: { fact: 'duration' } })),
        h('div', {}, h('dt', {}, 'Feed'), h('dd', { dataset: { fact: 'feed' } })),
        h('div', {}, h('dt', {}, 'From'), h('dd', { dataset: { fact: 'start' } }))),
      h('p', { class: 'card-state' }, h('span', { class: 'badge' }), progress.el, h('span', { class: 'clip-error' })),
      h('div', { class: 'card-actions' }, preview)));
  el.progress = progress;
  preview.addEventListener('click', () => togglePreview(el, previewing));
  return el;
}

function updateCard(el, clip, feedName) {
  el.clip = clip;
  el.dataset.status = clip.status;
  const name = clip.title || clip.id;
  if (el.querySelector('video') === null) updateThumbnail(el.querySelector('.thumb'), clip);
  text(el.querySelector('.card-title'), name);
  text(el.querySelector('.card-sub'), [clip.sport, clip.event, clip.phase].filter(Boolean).join(' · ') || 'No session');
  text(el.querySelector('[data-fact=duration]'), clipLength(clip));
  text(el.querySelector('[data-fact=feed]'), feedName(clip.feed_id));
  text(el.querySelector('[data-fact=start]'), instant(clip.start));
  status(el.querySelector('.badge'), clip);
  setProgress(el.progress, clip);
  el.querySelector('.progress').hidden = done(clip);
  text(el.querySelector('.clip-error'), clip.status === 'failed' ? clip.error || 'Failed' : '');

  const ready = clip.status === 'ready';
  const preview = el.querySelector('.preview-button');
  const playable = ready && (clip.format ?? 'mp4') === 'mp4';
  preview.disabled = !playable;
  preview.title = ready && !playable ? 'MPEG-TS does not play in a browser: download it' : '';
  preview.setAttribute('aria-label', `Preview ${name}`);
  const actions = el.querySelector('.card-actions');
  const link = actions.querySelector('.download');
  if (ready && (!link || link.dataset.size !== String(clip.size))) {
    const a = downloadLink(clip);
    a.dataset.size = String(clip.size);
    if (link) link.replaceWith(a);
    else actions.append(a);
  } else if (!ready && link) link.remove();
}

// togglePreview plays the clip's file in place of its thumbnail; one
// preview plays at a time.
function togglePreview(el, previewing) {
  const media = el.querySelector('.card-media');
  const button = el.querySelector('.preview-button');
  const stop = (card) => {
    const video = card.querySelector('video');
    if (!video) return;
    video.pause();
    video.removeAttribute('src');
    video.load();
    card.querySelector('.card-media').replaceChildren(thumbnail(card.clip));
    setPreviewLabel(card.querySelector('.preview-button'), false);
  };
  if (el.querySelector('video')) {
    stop(el);
    previewing.el = null;
    button.focus();
    return;
  }
  if (previewing.el && previewing.el !== el) stop(previewing.el);
  previewing.el = el;
  const clip = el.clip;
  const video = h('video', {
    src: downloadURL(clip), controls: true, autoplay: true, playsInline: true, preload: 'auto',
    'aria-label': `Preview: ${clip.title || clip.id}`,
  });
  video.addEventListener('error', () => {
    media.replaceChildren(h('span', { class: 'thumb-none' }, 'This clip does not play here: download it.'));
  }, { once: true });
  media.replaceChildren(video);
  setPreviewLabel(button, true);
}

function setPreviewLabel(button, playing) {
  button.firstChild.textContent = playing ? '■ ' : '▶ ';
  button.lastChild.textContent = playing ? 'Stop preview' : 'Preview';
}
