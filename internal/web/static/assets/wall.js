// The broadcaster's wall: every feed in its rights now, each with a live
// muted preview, its name, kind, on-air state and bitrate. Feeds come and
// go with the rights, live from the event stream.

import { api } from './api.js';
import { announce, h, keyed, text } from './dom.js';
import { bitrate, kind } from './format.js';
import { Player } from './player.js';

export function mountWall(main, { live, who }) {
  const summary = h('p', { class: 'summary num' });
  const empty = h('p', { class: 'empty', hidden: true },
    'No feed is in your rights right now. Feeds appear here as soon as your operator grants them.');
  const wall = h('ul', { class: 'wall', 'aria-label': 'Your feeds' });
  main.replaceChildren(h('section', { class: 'page', 'aria-labelledby': 'wall-title' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'wall-title', tabIndex: -1 }, 'Feeds'),
      h('p', { class: 'page-sub' }, who.broadcaster?.name ?? ''),
      summary),
    empty,
    wall,
  ));
  const players = new Map();
  let shown = null;

  function render(feeds) {
    const ids = new Set(feeds.map((f) => f.id));
    if (shown) {
      for (const id of shown) if (!ids.has(id)) announce(`Feed ${id} is no longer available`);
    }
    shown = ids;
    keyed(wall, feeds, (f) => f.id, {
      create: (f) => tile(f, players),
      update: updateTile,
      remove: (el) => {
        players.get(el.dataset.key)?.destroy();
        players.delete(el.dataset.key);
      },
    });
    for (const f of feeds) players.get(f.id)?.setLive(f.live);
    const onAir = feeds.filter((f) => f.live).length;
    text(summary, `${feeds.length} ${feeds.length === 1 ? 'feed' : 'feeds'} · ${onAir} live`);
    empty.hidden = feeds.length > 0;
  }

  const off = live.on('feeds', () => render(live.feeds));
  if (live.feeds) render(live.feeds);
  else api('GET', '/feeds').then((feeds) => { if (!live.feeds) render(feeds); }, () => {});

  return () => {
    off();
    for (const p of players.values()) p.destroy();
  };
}

function tile(f, players) {
  const player = new Player(f.id, { kind: 'preview', label: f.name, live: f.live });
  players.set(f.id, player);
  player.start();
  const el = h('li', { class: 'tile', dataset: { feed: f.id } },
    h('a', { class: 'tile-link', href: `/feeds/${encodeURIComponent(f.id)}` },
      h('div', { class: 'frame' }, player.el),
      h('span', { class: 'tile-title' },
        h('span', { class: 'badge' }),
        h('span', { class: 'tile-name' }))),
    h('dl', { class: 'facts' },
      fact('Kind', 'kind'),
      fact('Bitrate', 'bitrate', 'num'),
      fact('ID', 'id', 'mono')),
  );
  return el;
}

function fact(label, name, cls = '') {
  return h('div', {}, h('dt', {}, label), h('dd', { class: cls, dataset: { fact: name } }));
}

function updateTile(el, f) {
  const badge = el.querySelector('.badge');
  badge.className = f.live ? 'badge live' : 'badge off';
  text(badge, f.live ? 'Live' : 'Off');
  text(el.querySelector('.tile-name'), f.name);
  el.querySelector('.tile-link').setAttribute('aria-label', `${f.name}, ${f.live ? 'live' : 'off air'}: open`);
  text(el.querySelector('[data-fact=kind]'), kind(f.kind));
  text(el.querySelector('[data-fact=bitrate]'), f.live ? bitrate(f.bitrate_bps) : '—');
  text(el.querySelector('[data-fact=id]'), f.id);
}
