// The feed page: a large player with the choice of audio track, the feed's
// live state, the archive timeline to scrub back in, clip marking with its
// form and the feed's clips, and the caller's own SRT pull details with copy
// buttons. The operator picks which broadcaster's pull details to show.

import { api } from './api.js';
import { archivePanel } from './archive.js';
import { clipper } from './clipper.js';
import { announce, h, text } from './dom.js';
import { bitrate, count, kind } from './format.js';
import { copyButton } from './copy.js';
import { Player } from './player.js';

export function mountFeed(main, { live, who, id }) {
  const admin = who.role === 'admin';
  const player = new Player(id, { kind: 'main', label: id, live: live.feed(id)?.live ?? true });
  const title = h('h1', { id: 'feed-title', tabIndex: -1 }, id);
  const badge = h('span', { class: 'badge off' }, 'Off');
  const audio = h('select', { id: 'audio-track', disabled: true }, h('option', {}, '—'));
  const facts = {
    bitrate: h('dd', { class: 'num' }, '—'),
    readers: h('dd', { class: 'num' }, '—'),
    kind: h('dd', {}, '—'),
  };
  const srt = srtPanel(id, admin);
  const archive = archivePanel({ id, player });
  const clip = clipper({ id, player, timeline: archive.timeline, live, goLive: archive.goLive });
  main.replaceChildren(h('section', { class: 'page feed-page', 'aria-labelledby': 'feed-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/' }, admin ? '← Operations' : '← All feeds')),
    h('div', { class: 'page-head' }, badge, title, h('p', { class: 'page-sub mono' }, id)),
    h('div', { class: 'feed-layout' },
      h('div', { class: 'feed-main' },
        h('div', { class: 'frame' }, player.el),
        h('div', { class: 'player-bar' },
          archive.transport,
          clip.markBar),
        archive.el,
        h('div', { class: 'player-bar' },
          h('div', { class: 'field-inline' }, h('label', { for: 'audio-track' }, 'Audio'), audio),
          h('dl', { class: 'facts inline' },
            h('div', {}, h('dt', {}, 'Bitrate'), facts.bitrate),
            h('div', {}, h('dt', {}, 'Readers'), facts.readers),
            h('div', {}, h('dt', {}, 'Kind'), facts.kind))),
        clip.listPanel),
      h('div', { class: 'feed-side' }, clip.formPanel, srt.el)),
  ));

  audio.addEventListener('change', () => {
    player.audioTrack = Number(audio.value);
    announce(`Audio: ${audio.selectedOptions[0].textContent}`);
  });
  player.addEventListener('tracks', () => renderTracks(audio, player));

  let present = null;
  function render(feeds) {
    const f = feeds.find((x) => x.id === id);
    if (!f) {
      if (present !== false) {
        player.unavailable();
        srt.unavailable();
        badge.className = 'badge gone';
        text(badge, 'Not available');
        for (const dd of Object.values(facts)) text(dd, '—');
        if (present) announce(`${title.textContent} is no longer available`);
      }
      present = false;
      return;
    }
    if (present === false) {
      player.start();
      srt.load();
    }
    if (present !== true && title.textContent !== f.name) {
      text(title, f.name);
      document.title = `${f.name} · Podium`;
      player.video.setAttribute('aria-label', `Player: ${f.name}`);
    }
    present = true;
    player.setLive(f.live);
    badge.className = f.live ? 'badge live' : 'badge off';
    text(badge, f.live ? 'Live' : 'Off');
    text(facts.bitrate, f.live ? bitrate(f.bitrate_bps) : '—');
    text(facts.readers, count(f.readers));
    text(facts.kind, kind(f.kind));
  }

  player.start();
  srt.load();
  const offFeeds = live.on('feeds', () => render(live.feeds));
  const offCatalog = admin ? live.on('catalog', () => srt.refreshChoices()) : () => {};
  if (live.feeds) render(live.feeds);
  else api('GET', `/feeds/${encodeURIComponent(id)}`).then((f) => { if (!live.feeds) render([f]); }, () => { if (!live.feeds) render([]); });

  return () => {
    offFeeds();
    offCatalog();
    clip.destroy();
    archive.destroy();
    player.destroy();
  };
}

function renderTracks(select, player) {
  const tracks = player.audioTracks;
  const options = tracks.length
    ? tracks.map((t, i) => h('option', { value: String(i) }, trackName(t, i)))
    : [h('option', {}, '—')];
  select.replaceChildren(...options);
  select.disabled = tracks.length < 2;
  if (tracks.length) select.value = String(Math.max(0, player.audioTrack));
}

const languages = { eng: 'English', fra: 'French', deu: 'German', spa: 'Spanish', ita: 'Italian', jpn: 'Japanese' };

function trackName(t, i) {
  const lang = t.lang || t.name;
  const full = languages[lang];
  if (full) return `${full} (${lang})`;
  return t.name || t.lang || `Audio ${i + 1}`;
}

// srtPanel shows the SRT pull details of the caller (a broadcaster), or of a
// broadcaster the operator chooses.
function srtPanel(id, admin) {
  const body = h('div', { class: 'srt-body' });
  const note = h('p', { class: 'help' });
  let choose = null;
  if (admin) {
    choose = h('select', { id: 'srt-broadcaster' });
    choose.addEventListener('change', () => load());
  }
  const el = h('aside', { class: 'panel srt-panel', 'aria-labelledby': 'srt-title' },
    h('h2', { id: 'srt-title' }, 'SRT pull'),
    admin ? h('div', { class: 'field' }, h('label', { for: 'srt-broadcaster' }, 'For broadcaster'), choose) : null,
    note,
    body,
  );

  async function refreshChoices() {
    const [ents, bcs] = await Promise.all([
      api('GET', `/entitlements?feed_id=${encodeURIComponent(id)}`),
      api('GET', '/broadcasters'),
    ]).catch(() => [[], []]);
    const names = new Map(bcs.map((b) => [b.id, b.name]));
    const ids = [...new Set(ents.filter((e) => e.effective).map((e) => e.broadcaster_id))].sort();
    const keep = choose.value;
    choose.replaceChildren(...ids.map((b) => h('option', { value: b }, `${names.get(b) ?? b} (${b})`)));
    choose.disabled = ids.length === 0;
    if (ids.includes(keep)) choose.value = keep;
    return ids.length;
  }

  async function load() {
    if (admin && !choose.value && (await refreshChoices()) === 0) {
      text(note, 'No broadcaster has rights to this feed now.');
      body.replaceChildren();
      return;
    }
    const query = admin ? `?broadcaster=${encodeURIComponent(choose.value)}` : '';
    try {
      const d = await api('GET', `/feeds/${encodeURIComponent(id)}/srt${query}`);
      text(note, admin
        ? 'What this broadcaster uses to pull the feed, unchanged, with every audio track.'
        : 'Pull this feed, unchanged with every track, with your own passphrase.');
      body.replaceChildren(...details(d).flat());
    } catch (err) {
      text(note, err.status === 404 ? 'Not available.' : `Could not load the SRT details: ${err.message}`);
      body.replaceChildren();
    }
  }

  return {
    el,
    load,
    refreshChoices: () => admin && refreshChoices(),
    unavailable() {
      text(note, 'Not available: this feed is not in your rights now.');
      body.replaceChildren();
    },
  };
}

function details(d) {
  const rows = [
    ['Address', 'address', `${d.host}:${d.port}`, 'address'],
    ['Stream ID', 'streamid', d.streamid, 'stream ID'],
    ['Passphrase', 'passphrase', d.passphrase, 'passphrase'],
    ['Latency', 'latency', `${d.latency_ms} ms`],
  ];
  const commands = [
    ['ffplay', 'watch', d.commands?.ffplay],
    ['ffmpeg', 'record every track', d.commands?.ffmpeg],
    ['srt-live-transmit', 'relay', d.commands?.srt_live_transmit],
  ];
  return [
    h('dl', { class: 'srt-fields' }, rows.map(([label, key, value, copyName]) =>
      h('div', { class: 'srt-row', dataset: { srt: key } },
        h('dt', {}, label),
        h('dd', {}, h('code', {}, value)),
        h('dd', { class: 'srt-copy' }, copyName ? copyButton(copyName, () => value) : null)))),
    h('div', { class: 'srt-row srt-url', dataset: { srt: 'url' } },
      h('span', { class: 'srt-label' }, 'URL'),
      h('code', {}, d.url),
      copyButton('SRT URL', () => d.url)),
    h('h3', {}, 'Ready commands'),
    commands.filter(([, , cmd]) => cmd).map(([tool, what, cmd]) =>
      h('figure', { class: 'command', dataset: { command: tool } },
        h('figcaption', {}, h('span', {}, h('strong', {}, tool), ` — ${what}`), copyButton(`${tool} command`, () => cmd)),
        h('pre', { tabIndex: 0 }, h('code', {}, cmd)))),
  ];
}
