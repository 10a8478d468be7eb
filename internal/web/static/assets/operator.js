// The operator's view: the health of every feed, the live deliveries, the
// broadcasters and their rights, and the forms that change the catalog.
// Everything updates from the event stream; nothing needs a reload.

import { api } from './api.js';
import { announce, h, keyed, text } from './dom.js';
import { bitrate, bytes, count, instant, kind, kinds, since } from './format.js';
import { copyButton } from './copy.js';
import { drawSparkline, sparkline } from './sparkline.js';

export function mountOperator(main, { live }) {
  const catalog = { broadcasters: [], entitlements: [] };
  const feedRows = h('tbody');
  const deliveryRows = h('tbody');
  const broadcasterRows = h('tbody');
  const feedSummary = h('p', { class: 'summary num' });
  const deliverySummary = h('p', { class: 'summary num' });
  const noFeeds = emptyNote('No feeds yet: create one below.');
  const noDeliveries = emptyNote('No live deliveries.');
  const noBroadcasters = emptyNote('No broadcasters yet: create one below.');
  const forms = {
    feed: feedForm(refresh),
    broadcaster: broadcasterForm(refresh),
    grant: grantForm(refresh),
  };

  main.replaceChildren(h('div', { class: 'page operator' },
    h('div', { class: 'page-head' }, h('h1', { id: 'ops-title', tabIndex: -1 }, 'Operations')),
    section('feeds', 'Feeds', feedSummary,
      table(['State', 'Feed', 'Kind', ['Bitrate', 'num'], 'Last minutes', ['Readers', 'num'], 'Publisher', ['Lost / retransmitted', 'num'], 'Recording', ''], feedRows, 'feeds-title', 'feeds-table'),
      noFeeds),
    section('deliveries', 'Live deliveries', deliverySummary,
      table(['Broadcaster', 'Feed', 'Protocol', 'Remote address', ['Connected', 'num'], ['Data', 'num'], ['Sent', 'num'], ['Lost', 'num'], ['Retransmitted', 'num'], ['Dropped', 'num'], ['RTT', 'num']], deliveryRows, 'deliveries-title', 'deliveries-table'),
      noDeliveries),
    section('broadcasters', 'Broadcasters and rights', null,
      table(['Broadcaster', 'Territories', 'Entitlements'], broadcasterRows, 'broadcasters-title', 'broadcasters-table'),
      noBroadcasters),
    h('section', { class: 'forms', 'aria-label': 'Changes' }, forms.feed.el, forms.broadcaster.el, forms.grant.el),
  ));

  function renderFeeds() {
    const feeds = live.feeds ?? [];
    keyed(feedRows, feeds, (f) => f.id, { create: feedRow, update: (tr, f) => updateFeedRow(tr, f, live) });
    noFeeds.hidden = feeds.length > 0;
    const onAir = feeds.filter((f) => f.live).length;
    text(feedSummary, `${feeds.length} ${feeds.length === 1 ? 'feed' : 'feeds'} · ${onAir} live`);
    forms.grant.setFeeds(feeds);
  }

  function renderDeliveries() {
    const ds = live.deliveries;
    keyed(deliveryRows, ds, (d) => d.id, { create: deliveryRow, update: updateDeliveryRow });
    noDeliveries.hidden = ds.length > 0;
    text(deliverySummary, `${ds.length} live`);
  }

  function renderCatalog() {
    const byBroadcaster = Map.groupBy(catalog.entitlements, (e) => e.broadcaster_id);
    keyed(broadcasterRows, catalog.broadcasters, (b) => b.id, {
      create: broadcasterRow,
      update: (tr, b) => updateBroadcasterRow(tr, b, byBroadcaster.get(b.id) ?? [], refresh),
    });
    noBroadcasters.hidden = catalog.broadcasters.length > 0;
    forms.grant.setBroadcasters(catalog.broadcasters);
  }

  async function refresh() {
    try {
      const [bcs, ents] = await Promise.all([api('GET', '/broadcasters'), api('GET', '/entitlements')]);
      catalog.broadcasters = bcs;
      catalog.entitlements = ents;
      renderCatalog();
    } catch (err) {
      announce(`Could not load the catalog: ${err.message}`);
    }
  }

  const offs = [
    live.on('feeds', renderFeeds),
    live.on('history', renderFeeds),
    live.on('deliveries', renderDeliveries),
    live.on('catalog', refresh),
  ];
  if (live.feeds) renderFeeds();
  else api('GET', '/feeds').then((feeds) => { if (!live.feeds) { live.feeds = feeds; renderFeeds(); } }, () => {});
  renderDeliveries();
  refresh();
  return () => offs.forEach((off) => off());
}

function section(id, title, summary, tableEl, empty) {
  return h('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('div', { class: 'panel-head' }, h('h2', { id: `${id}-title` }, title), summary),
    h('div', { class: 'table-wrap' }, tableEl),
    empty);
}

function table(columns, tbody, labelledBy, id) {
  return h('table', { id, 'aria-labelledby': labelledBy },
    h('thead', {}, h('tr', {}, columns.map((c) => {
      const [label, cls] = Array.isArray(c) ? c : [c, ''];
      return h('th', { scope: 'col', class: cls }, label);
    }))),
    tbody);
}

function emptyNote(message) {
  return h('p', { class: 'empty', hidden: true }, message);
}

function cells(tr, n) {
  for (let i = 0; i < n; i++) tr.append(h('td'));
  return tr;
}

function feedRow(f) {
  const tr = cells(h('tr', { dataset: { feed: f.id } }), 10);
  const c = tr.cells;
  c[0].append(h('span', { class: 'badge' }));
  c[1].append(h('span', { class: 'cell-name' }), h('span', { class: 'cell-id mono' }, f.id));
  c[3].className = 'num';
  c[4].append(sparkline());
  c[5].className = 'num';
  const choice = h('select', { class: 'source-choice', 'aria-label': `On-air source of ${f.id}` },
    [['auto', 'Auto'], ['primary', 'Primary'], ['backup', 'Backup']].map(([v, l]) => h('option', { value: v }, l)));
  choice.addEventListener('change', async () => {
    try {
      await api('POST', `/feeds/${encodeURIComponent(f.id)}/switch`, { source: choice.value });
      announce(`${f.id}: ${choice.value === 'auto' ? 'automatic switching' : choice.value + ' on air'}`);
    } catch (err) {
      announce(`${f.id}: ${err.message}`);
      choice.value = choice.dataset.mode ?? 'auto';
    }
  });
  c[6].append(h('span', { class: 'mono' }), h('span', { class: 'cell-sub num' }), h('span', { class: 'cell-sub sources' }), choice);
  c[7].className = 'num';
  const record = h('input', { type: 'checkbox', class: 'record-choice', 'aria-label': `Record ${f.id}` });
  record.addEventListener('change', async () => {
    const enabled = record.checked;
    record.disabled = true;
    try {
      await api('PATCH', `/feeds/${encodeURIComponent(f.id)}`, { recording: { enabled } });
      announce(`${f.id}: recording ${enabled ? 'on' : 'off'}`);
    } catch (err) {
      announce(`${f.id}: ${err.message}`);
      record.checked = !enabled;
    } finally {
      record.disabled = false;
    }
  });
  c[8].append(h('label', { class: 'record-toggle' }, record, ' Record'), h('span', { class: 'cell-sub record-state' }));
  c[9].append(h('a', { href: `/feeds/${encodeURIComponent(f.id)}`, 'aria-label': `Watch ${f.id}` }, 'Watch'));
  return tr;
}

const recordingStates = { recording: 'recording', idle: 'waiting for a publisher', off: 'off', disk_full: 'stopped: disk full', error: 'write error, retrying' };

function updateFeedRow(tr, f, live) {
  const c = tr.cells;
  const badge = c[0].firstChild;
  badge.className = f.live ? 'badge live' : 'badge off';
  text(badge, f.live ? 'Live' : 'Off');
  text(c[1].firstChild, f.name);
  text(c[2], kind(f.kind));
  text(c[3], f.live ? bitrate(f.bitrate_bps) : '—');
  drawSparkline(c[4].firstChild, live.history.get(f.id) ?? [], live.maxPoints);
  text(c[5], count(f.readers));
  const p = f.publisher;
  text(c[6].firstChild, p?.remote_addr ?? '—');
  text(c[6].children[1], p ? `for ${since(p.since)}` : '');
  text(c[6].children[2], sourcesText(f));
  const choice = c[6].children[3];
  choice.dataset.mode = f.switching?.mode ?? 'auto';
  if (document.activeElement !== choice) choice.value = choice.dataset.mode;
  choice.disabled = !(f.sources?.length);
  text(c[7], p ? `${count(p.packets_lost)} / ${count(p.packets_retransmitted)}` : '—');
  c[7].classList.toggle('warn', (p?.packets_lost ?? 0) > 0);
  const record = c[8].querySelector('.record-choice');
  if (document.activeElement !== record && !record.disabled) record.checked = f.recording?.enabled ?? false;
  const state = f.recording?.state ?? '';
  const stateEl = c[8].querySelector('.record-state');
  text(stateEl, recordingStates[state] ?? state);
  stateEl.classList.toggle('warn', state === 'disk_full' || state === 'error');
}

// sourcesText says which contribution source is on air and how the other is.
function sourcesText(f) {
  if (!f.sources?.length) return '';
  const other = f.sources.find((s) => !s.on_air);
  let out = f.on_air ? `On air: ${f.on_air}` : 'Nothing on air';
  if (other) out += ` · ${other.role} ${other.healthy ? 'ready' : 'stalled'}`;
  return out;
}

function deliveryRow() {
  const tr = cells(h('tr'), 11);
  for (let i = 4; i < 11; i++) tr.cells[i].className = 'num';
  tr.cells[3].className = 'mono';
  return tr;
}

function updateDeliveryRow(tr, d) {
  const c = tr.cells;
  text(c[0], d.broadcaster_id);
  text(c[1], d.feed_id);
  text(c[2], (d.protocol ?? '').toUpperCase());
  text(c[3], d.remote_addr ?? '—');
  text(c[4], since(d.since));
  text(c[5], bytes(d.bytes));
  // Packet counts and RTT are SRT's; other protocols have none.
  const srt = d.protocol === 'srt';
  text(c[6], srt ? count(d.packets_sent) : '—');
  text(c[7], srt ? count(d.packets_lost) : '—');
  text(c[8], srt ? count(d.packets_retransmitted) : '—');
  text(c[9], srt ? count(d.packets_dropped) : '—');
  text(c[10], srt && d.rtt_ms !== undefined ? `${d.rtt_ms.toFixed(1)} ms` : '—');
  c[7].classList.toggle('warn', d.packets_lost > 0);
}

function broadcasterRow(b) {
  const tr = cells(h('tr', { dataset: { broadcaster: b.id } }), 3);
  tr.cells[0].append(h('span', { class: 'cell-name' }), h('span', { class: 'cell-id mono' }, b.id));
  tr.cells[1].className = 'territories-cell';
  tr.cells[2].className = 'rights-cell';
  tr.cells[2].append(h('ul', { class: 'rights', 'aria-label': `Entitlements of ${b.id}` }),
    h('p', { class: 'help', hidden: true }, 'No feed granted yet.'));
  return tr;
}

function updateBroadcasterRow(tr, b, ents, refresh) {
  const c = tr.cells;
  text(c[0].firstChild, b.name);
  text(c[1], (b.territories ?? []).join(' ') || '—');
  const order = { active: 0, suspended: 1, revoked: 2 };
  const sorted = [...ents].sort((x, y) => order[x.status] - order[y.status] || x.feed_id.localeCompare(y.feed_id));
  keyed(c[2].firstChild, sorted, (e) => e.id, {
    create: (e) => rightItem(e, refresh),
    update: updateRightItem,
  });
  c[2].lastChild.hidden = sorted.length > 0;
}

function rightItem(e, refresh) {
  const toggle = h('button', { type: 'button', class: 'small' });
  const revoke = h('button', { type: 'button', class: 'small danger' }, 'Revoke');
  const li = h('li', { class: 'right', dataset: { entitlement: e.id, feed: e.feed_id } },
    h('a', { class: 'mono', href: `/feeds/${encodeURIComponent(e.feed_id)}` }, e.feed_id),
    h('span', { class: 'badge' }),
    h('span', { class: 'window' }),
    h('span', { class: 'actions' }, toggle, revoke));
  toggle.addEventListener('click', () => {
    const next = li.dataset.status === 'active' ? 'suspended' : 'active';
    change(li, () => api('PATCH', `/entitlements/${encodeURIComponent(e.id)}`, { status: next }),
      `${e.broadcaster_id} ${next === 'active' ? 'reactivated on' : 'suspended from'} ${e.feed_id}`, refresh);
  });
  revoke.addEventListener('click', () => {
    if (!confirm(`Revoke ${e.broadcaster_id}'s rights to ${e.feed_id}? Its deliveries close at once; a revoke is final.`)) return;
    change(li, () => api('DELETE', `/entitlements/${encodeURIComponent(e.id)}`),
      `${e.broadcaster_id} revoked from ${e.feed_id}`, refresh);
  });
  return li;
}

async function change(li, call, done, refresh) {
  const buttons = li.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await call();
    announce(done);
  } catch (err) {
    announce(`Not changed: ${err.message}`);
    alert(`Not changed: ${err.message}`);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    refresh();
  }
}

function updateRightItem(li, e) {
  li.dataset.status = e.status;
  const [, badge, win, actions] = li.children;
  let label = e.status;
  if (e.status === 'active' && !e.effective) label = e.starts_at && Date.parse(e.starts_at) > Date.now() ? 'scheduled' : 'ended';
  badge.className = `badge ${e.status === 'active' && e.effective ? 'ok' : e.status === 'revoked' ? 'off' : 'warn'}`;
  text(badge, label);
  text(win, windowText(e));
  actions.hidden = e.status === 'revoked';
  const [toggle, revoke] = actions.children;
  text(toggle, e.status === 'active' ? 'Suspend' : 'Reactivate');
  toggle.setAttribute('aria-label', `${e.status === 'active' ? 'Suspend' : 'Reactivate'} ${e.broadcaster_id} on ${e.feed_id}`);
  revoke.setAttribute('aria-label', `Revoke ${e.broadcaster_id} on ${e.feed_id}`);
}

function windowText(e) {
  if (e.starts_at && e.ends_at) return `${instant(e.starts_at)} → ${instant(e.ends_at)}`;
  if (e.starts_at) return `from ${instant(e.starts_at)}`;
  if (e.ends_at) return `until ${instant(e.ends_at)}`;
  return 'no end';
}

// form builds a form whose submit sends what body() returns and shows the
// API's error next to the field it names.
function form({ id, title, fields, submit, send, shown }) {
  const error = h('p', { class: 'form-error', role: 'alert', id: `${id}-error` });
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary' }, submit);
  const el = h('form', { class: 'panel form', id, 'aria-labelledby': `${id}-title`, novalidate: true },
    h('h2', { id: `${id}-title` }, title),
    fields,
    error,
    button,
    result);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const input of el.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    error.textContent = '';
    button.disabled = true;
    try {
      const answer = await send(el.elements);
      result.replaceChildren(...shown(answer, () => result.replaceChildren()));
      el.reset();
    } catch (err) {
      const input = err.field && el.elements.namedItem(err.field);
      error.textContent = err.field && !input ? `${err.field}: ${err.message}` : err.message;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function field(formId, name, label, input, help) {
  const id = `${formId}-${name}`;
  input.id = id;
  input.name = name;
  if (help) input.setAttribute('aria-describedby', `${id}-help`);
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    help ? h('p', { class: 'help', id: `${id}-help` }, help) : null);
}

const idPattern = '[a-z0-9][a-z0-9\\-]{0,62}';

// secrets shows values that the API returns once, with copy buttons.
function secrets(heading, items, dismiss) {
  return [
    h('p', { class: 'secret-head' }, h('strong', {}, heading), ' Shown only now: copy them and pass them on over a safe channel.'),
    h('dl', { class: 'secrets' }, items.map(([label, key, value]) =>
      h('div', { dataset: { secret: key } }, h('dt', {}, label), h('dd', {}, h('code', {}, value), copyButton(label.toLowerCase(), () => value))))),
    h('button', { type: 'button', class: 'small', onclick: dismiss }, 'Done, hide them'),
  ];
}

function feedForm(refresh) {
  const el = form({
    id: 'new-feed', title: 'Create a feed', submit: 'Create feed',
    fields: [
      field('new-feed', 'id', 'ID', h('input', { required: true, pattern: idPattern, maxLength: 63, spellcheck: false, autocomplete: 'off' }),
        'Lower-case letters, digits and dashes, e.g. ath-100m-final.'),
      field('new-feed', 'name', 'Name', h('input', { required: true, maxLength: 200, autocomplete: 'off' })),
      field('new-feed', 'kind', 'Kind', h('select', {}, Object.entries(kinds).map(([v, l]) => h('option', { value: v }, l)))),
      field('new-feed', 'publish_passphrase', 'Publish passphrase', h('input', { minLength: 10, maxLength: 79, autocomplete: 'off', spellcheck: false }),
        'Optional: 10 to 79 characters. Generated when left empty.'),
    ],
    send: (f) => {
      const body = { id: f.id.value.trim(), name: f.name.value.trim(), kind: f.kind.value };
      if (f.publish_passphrase.value) body.publish_passphrase = f.publish_passphrase.value;
      return api('POST', '/feeds', body);
    },
    shown: (feed, dismiss) => {
      refresh();
      announce(`Feed ${feed.id} created`);
      return secrets(`Feed ${feed.id} created.`, [
        ['Publish passphrase (primary)', 'publish_passphrase', feed.publish_passphrase],
        ['Backup publish passphrase (s=backup)', 'backup_publish_passphrase', feed.backup_publish_passphrase],
      ], dismiss);
    },
  });
  return { el };
}

function broadcasterForm(refresh) {
  const el = form({
    id: 'new-broadcaster', title: 'Create a broadcaster', submit: 'Create broadcaster',
    fields: [
      field('new-broadcaster', 'id', 'ID', h('input', { required: true, pattern: idPattern, maxLength: 63, spellcheck: false, autocomplete: 'off' }),
        'Lower-case letters, digits and dashes, e.g. nbc.'),
      field('new-broadcaster', 'name', 'Name', h('input', { required: true, maxLength: 200, autocomplete: 'off' })),
      field('new-broadcaster', 'territories', 'Territories', h('input', { autocomplete: 'off', spellcheck: false }),
        'ISO 3166 codes separated by spaces or commas, e.g. FR DE. Optional.'),
    ],
    send: (f) => {
      const territories = f.territories.value.split(/[\s,]+/).filter(Boolean).map((t) => t.toUpperCase());
      const body = { id: f.id.value.trim(), name: f.name.value.trim() };
      if (territories.length) body.territories = territories;
      return api('POST', '/broadcasters', body);
    },
    shown: (b, dismiss) => {
      refresh();
      announce(`Broadcaster ${b.id} created`);
      return secrets(`Broadcaster ${b.id} created.`, [
        ['API key', 'api_key', b.api_key],
        ['SRT passphrase', 'srt_passphrase', b.srt_passphrase],
      ], dismiss);
    },
  });
  return { el };
}

function grantForm(refresh) {
  const broadcaster = h('select', { required: true });
  const feed = h('select', { required: true });
  const el = form({
    id: 'grant', title: 'Grant a feed', submit: 'Grant',
    fields: [
      field('grant', 'broadcaster_id', 'Broadcaster', broadcaster),
      field('grant', 'feed_id', 'Feed', feed),
      field('grant', 'starts_at', 'From (UTC)', h('input', { type: 'datetime-local' }), 'Optional: empty means now.'),
      field('grant', 'ends_at', 'Until (UTC)', h('input', { type: 'datetime-local' }), 'Optional: empty means no end.'),
    ],
    send: (f) => {
      const body = { broadcaster_id: f.broadcaster_id.value, feed_id: f.feed_id.value };
      if (f.starts_at.value) body.starts_at = new Date(f.starts_at.value + 'Z').toISOString();
      if (f.ends_at.value) body.ends_at = new Date(f.ends_at.value + 'Z').toISOString();
      return api('POST', '/entitlements', body);
    },
    shown: (e) => {
      refresh();
      announce(`${e.broadcaster_id} granted ${e.feed_id}`);
      return [h('p', {}, `Granted: ${e.broadcaster_id} → ${e.feed_id} (${e.id}).`)];
    },
  });
  function options(select, items, label) {
    const keep = select.value;
    const want = items.map((x) => x.id).join('\n');
    if (select.dataset.items === want) return;
    select.dataset.items = want;
    select.replaceChildren(...items.map((x) => h('option', { value: x.id }, label(x))));
    if (items.some((x) => x.id === keep)) select.value = keep;
  }
  return {
    el,
    setFeeds: (feeds) => options(feed, feeds, (f) => `${f.id} — ${f.name}`),
    setBroadcasters: (bcs) => options(broadcaster, bcs, (b) => `${b.id} — ${b.name}`),
  };
}
