// End-to-end test of the archive, clip and library pages of the portal in
// Debian's Chromium, driven by internal/app/library_e2e_test.go, which
// starts Podium with a feed being published and recorded, imports a
// schedule session covering it, and passes in the environment:
//
//   PODIUM_URL              the portal, e.g. http://127.0.0.1:8080
//   PODIUM_BROADCASTER_KEY  the API key of a broadcaster entitled to the feed
//   PODIUM_FEED             the feed
//   PODIUM_SPORT            the sport of the schedule session covering the feed now
//   PODIUM_DOWNLOAD         where to save the downloaded clip (the Go test probes it)
//   PODIUM_ARTIFACTS        a directory for screenshots
//   PODIUM_CHROMIUM         the browser (default /usr/bin/chromium)
//
// A broadcaster opens the feed, sees the archive timeline grow, drags back
// into it (the player plays the archive), marks in and out, fills the form,
// creates a copy clip and sees it become ready; cuts a second clip "in now,
// out later" on live; finds the first in the library by a word and by
// facets, previews it and downloads it. One line per step; non-zero exit on
// the first failure, after a screenshot of every open page.

import { readFileSync, statSync } from 'node:fs';
import { Session, assert, env, playing, portalServed, signIn, step } from './harness.mjs';

const base = env('PODIUM_URL');
const key = env('PODIUM_BROADCASTER_KEY');
const feedID = env('PODIUM_FEED');
const sport = env('PODIUM_SPORT');
const downloadPath = env('PODIUM_DOWNLOAD');
const session = new Session(env('PODIUM_ARTIFACTS'));
// word makes this run's clips findable by a word no other clip has.
const word = `kestrel${Date.now().toString(36)}`;

const video = '.feed-main video';
// mode and wallClock are the main player's: live or archive, and the
// wall-clock instant of the picture it shows.
const mode = (page) => page.evaluate(() => [...window.__podiumPlayers].find((p) => p.kind === 'main').mode);
const wallClock = (page) => page.evaluate(() => [...window.__podiumPlayers].find((p) => p.kind === 'main').wallClock());

// recorded is the archive the timeline draws: oldest and newest instants (ms).
async function recorded(page) {
  return page.locator('#archive-timeline .tl-range').evaluateAll((els) => els.length === 0 ? null : ({
    from: Math.min(...els.map((e) => Number(e.dataset.from))),
    to: Math.max(...els.map((e) => Number(e.dataset.to))),
  }));
}

// followClip records every status and progress value a clip's row shows,
// so that the test can tell what the broadcaster saw on the way to ready.
async function followClip(page, id) {
  await page.evaluate((clip) => {
    window.__clipSeen ??= {};
    const seen = window.__clipSeen[clip] = { statuses: [], progress: [] };
    const look = () => {
      const row = document.querySelector(`#clip-list li[data-clip="${clip}"]`);
      if (!row) return;
      const s = row.dataset.status;
      if (s && seen.statuses.at(-1) !== s) seen.statuses.push(s);
      const v = row.querySelector('progress')?.value;
      if (v !== undefined && seen.progress.at(-1) !== v) seen.progress.push(v);
    };
    look();
    new MutationObserver(look).observe(document.getElementById('clip-list'), { subtree: true, attributes: true, childList: true, characterData: true });
  }, id);
}

async function createClip(page, fill) {
  for (const [sel, value] of Object.entries(fill)) {
    if (sel === '#clip-mode' || sel === '#clip-format') await page.locator(sel).selectOption(value);
    else await page.locator(sel).fill(value);
  }
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/clips') && r.request().method() === 'POST'),
    page.locator('#clip-create').click(),
  ]);
  const clip = await resp.json();
  assert(resp.status() === 202, `POST /clips: ${resp.status()} ${JSON.stringify(clip)}`);
  await page.locator(`#clip-list li[data-clip="${clip.id}"]`).waitFor({ timeout: 5000 });
  return clip;
}

async function untilReady(page, id, what) {
  const row = page.locator(`#clip-list li[data-clip="${id}"]`);
  await row.and(page.locator('[data-status=ready], [data-status=failed]')).waitFor({ timeout: 90000 })
    .catch(async () => { throw new Error(`${what}: not ready within 90 s (status ${await row.getAttribute('data-status')})`); });
  const status = await row.getAttribute('data-status');
  assert(status === 'ready', `${what} failed: ${await row.locator('.clip-error').textContent()}`);
  return row;
}

async function run() {
  const context = await session.browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await session.open(context, 'broadcaster');
  step('sign in as the broadcaster and open the feed');
  await signIn(page, base, key);
  await page.goto(`${base}/feeds/${feedID}`);
  await playing(page, video, 'live player');
  assert(await mode(page) === 'live', 'the player does not start live');

  step('the archive timeline fills and grows');
  await page.waitForFunction(() => {
    const els = [...document.querySelectorAll('#archive-timeline .tl-range')];
    return els.length > 0 && Math.max(...els.map((e) => Number(e.dataset.to))) - Math.min(...els.map((e) => Number(e.dataset.from))) >= 16000;
  }, null, { timeout: 60000 }).catch(() => { throw new Error('less than 16 s of archive on the timeline after 60 s'); });
  const first = await recorded(page);
  await page.waitForFunction((to) => [...document.querySelectorAll('#archive-timeline .tl-range')].some((e) => Number(e.dataset.to) > to),
    first.to, { timeout: 20000 }).catch(() => { throw new Error('the timeline did not grow within 20 s'); });
  const grown = await recorded(page);
  step(`  archive ${((first.to - first.from) / 1000).toFixed(1)} s, then ${((grown.to - grown.from) / 1000).toFixed(1)} s`);
  assert(/Recording/.test(await page.locator('#archive-state').textContent()), 'the archive does not say it is recording');
  await session.shot(page, 'feed-live');

  step('drag back on the timeline: the player plays the archive');
  const oldest = page.locator('#archive-timeline .tl-range').first();
  const box = await oldest.boundingBox();
  const span = Number(await oldest.getAttribute('data-to')) - Number(await oldest.getAttribute('data-from'));
  const target = grown.from + 3000;
  const targetX = box.x + (box.width * 3000) / span;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.9, y);
  await page.mouse.down();
  await page.mouse.move(targetX, y, { steps: 6 });
  assert(await page.locator('#archive-timeline .tl-ghost').isVisible(), 'no drag preview on the timeline');
  await page.mouse.up();
  await page.waitForFunction(() => [...window.__podiumPlayers].find((x) => x.kind === 'main').mode === 'archive', null, { timeout: 5000 })
    .catch(async () => { throw new Error(`the player did not switch to the archive: ${await page.locator('#archive-error').textContent()}`); });
  const archived = await playing(page, video, 'archive player', 30000);
  const wall = await wallClock(page);
  step(`  archive playback at ${archived.t1.toFixed(1)} s, picture of ${new Date(wall).toISOString()} (${((Date.now() - wall) / 1000).toFixed(1)} s behind live, asked ${new Date(target).toISOString()})`);
  assert(Math.abs(wall - target) < 15000, `the playhead shows ${new Date(wall).toISOString()}, not near ${new Date(target).toISOString()}`);
  assert(Date.now() - wall > 5000, 'the archive player is at the live edge');
  // The playhead's text follows the player every 250 ms.
  await page.waitForFunction(() => /behind live/.test(document.querySelector('#playhead-behind')?.textContent ?? ''), null, { timeout: 3000 })
    .catch(() => { throw new Error('the playhead does not say how far behind live it is'); });
  assert(await page.locator('#go-live').getAttribute('aria-pressed') === 'false', 'the Live button is still pressed');
  await session.shot(page, 'feed-archive');

  step('mark in and out with the keys');
  await page.locator('#clip-panel-title').click(); // focus away from the timeline, on no field
  await page.keyboard.press('i');
  const inText = await page.locator('#mark-in-time').textContent();
  assert(/^\d\d:\d\d:\d\d\.\d$/.test(inText), `in mark shows ${inText}`);
  const t0 = await page.locator(video).evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).currentTime > t + 4, [video, t0], { timeout: 15000 });
  await page.keyboard.press('o');
  const outText = await page.locator('#mark-out-time').textContent();
  assert(/^\d\d:\d\d:\d\d\.\d$/.test(outText) && outText > inText, `out mark shows ${outText} after in ${inText}`);
  assert(await page.locator('#archive-timeline .tl-in').isVisible() && await page.locator('#archive-timeline .tl-out').isVisible(),
    'the marks are not drawn on the timeline');
  step(`  in ${inText}, out ${outText}, length ${await page.locator('#mark-length').textContent()}`);

  step('fill the form and create a copy clip');
  const clip = await createClip(page, {
    '#clip-title': `Medal moment ${word}`,
    '#clip-description': 'The winner crosses the line; cut from the archive in the browser test.',
    '#clip-tags': 'sprint, browser-test',
    '#clip-athletes': 'Ada Runner, Bo Sprinter',
    '#clip-mode': 'copy',
    '#clip-format': 'mp4',
  });
  await followClip(page, clip.id);
  const length = (Date.parse(clip.end) - Date.parse(clip.start)) / 1000;
  step(`  clip ${clip.id}: ${clip.start} to ${clip.end} (${length.toFixed(1)} s), ${clip.status}, sport ${clip.sport}`);
  // Four seconds of media time; a loaded machine may press O a little late.
  assert(length > 3 && length < 10, `the clip's marks span ${length} s, want about 4`);
  assert(Math.abs(Date.parse(clip.start) - wall) < 15000, 'the clip does not start near the archive playhead');
  assert(clip.sport === sport, `the clip's sport is ${clip.sport}, want ${sport} from the schedule`);
  assert(await page.locator('#mark-in-time').textContent() === '—', 'the marks are kept after the clip was created');
  const row = await untilReady(page, clip.id, 'the copy clip');
  const seen = await page.evaluate((id) => window.__clipSeen[id], clip.id);
  step(`  statuses seen: ${seen.statuses.join(' → ')}; progress ${seen.progress.map((v) => v.toFixed(2)).join(', ')}`);
  await row.locator('.thumb img').waitFor();
  await page.waitForFunction((id) => document.querySelector(`#clip-list li[data-clip="${id}"] .thumb img`)?.naturalWidth > 0, clip.id, { timeout: 10000 })
    .catch(() => { throw new Error('the ready clip shows no thumbnail'); });
  assert(await row.locator('a.download').count() === 1, 'the ready clip has no download link');
  await session.shot(page, 'feed-clip-ready');

  step('in now, out later on live: an open clip closed with O');
  await page.locator('#go-live').click();
  await page.waitForFunction(() => [...window.__podiumPlayers].find((x) => x.kind === 'main').mode === 'live');
  await playing(page, video, 'live player again');
  assert(await page.locator('#go-live').getAttribute('aria-pressed') === 'true', 'the Live button is not pressed on live');
  await page.locator('#clip-panel-title').click();
  await page.keyboard.press('i');
  assert(await page.locator('#mark-out-time').textContent() === 'open', 'an in mark alone does not show an open out');
  const open = await createClip(page, { '#clip-title': `Open clip ${word}`, '#clip-tags': 'live', '#clip-athletes': 'Cy Relay' });
  assert(open.end === null, `the clip with an in mark only has end ${open.end}`);
  const openRow = page.locator(`#clip-list li[data-clip="${open.id}"]`);
  await openRow.locator('.badge').filter({ hasText: 'Open' }).waitFor();
  assert(/O ends it/.test(await page.locator('#open-clip-hint').textContent()), 'the form does not say that O ends the open clip');
  await session.shot(page, 'feed-clip-open');
  const l0 = await page.locator(video).evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).currentTime > t + 4, [video, l0], { timeout: 15000 });
  const [patched] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/clips/${open.id}`) && r.request().method() === 'PATCH'),
    page.keyboard.press('o'),
  ]);
  const closed = await patched.json();
  assert(patched.ok() && closed.end, `PATCH end: ${patched.status()} ${JSON.stringify(closed)}`);
  const openLength = (Date.parse(closed.end) - Date.parse(closed.start)) / 1000;
  step(`  open clip ${open.id} ended after ${openLength.toFixed(1)} s`);
  assert(openLength > 3, `the open clip ended ${openLength} s after its start`);
  await untilReady(page, open.id, 'the clip closed later');

  step('the library finds the clip by a word');
  await page.locator('#nav-library').click();
  await page.waitForURL('**/library');
  await page.locator('#library-q').fill(`medal ${word}`);
  await page.locator('#library-q').press('Enter');
  const card = page.locator(`#library-results li[data-clip="${clip.id}"]`);
  await card.waitFor({ timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('#library-results > li').length === 1, null, { timeout: 5000 })
    .catch(async () => { throw new Error(`the search for ${word} shows ${await page.locator('#library-results > li').count()} clips`); });
  assert(new URL(page.url()).searchParams.get('q') === `medal ${word}`, `the address does not keep the search: ${page.url()}`);
  assert((await card.locator('.card-sub').textContent()).includes(sport), 'the card does not show the sport');
  await session.shot(page, 'library-search');

  step(`filter by the sport facet (${sport}), then by an athlete`);
  await page.locator('#library-q').fill('');
  await page.locator('#library-q').press('Enter');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('q'));
  const sportFacet = page.locator(`#facet-sport button[data-value="${sport}"]`);
  await sportFacet.waitFor();
  // The facets of the cleared search replace those of the word search a moment after the address changes.
  await page.waitForFunction((s) => {
    const count = document.querySelector(`#facet-sport button[data-value="${s}"] .facet-count`);
    return count && Number(count.textContent.replace(/\D/g, '')) >= 2;
  }, sport, { timeout: 10000 }).catch(async () => {
    const sportCount = Number((await sportFacet.locator('.facet-count').textContent()).replace(/\D/g, ''));
    throw new Error(`the ${sport} facet counts ${sportCount} clips, want both of this run's`);
  });
  await sportFacet.click();
  await page.waitForFunction((s) => new URL(location.href).searchParams.get('sport') === s, sport);
  await page.locator(`#facet-sport button[data-value="${sport}"][aria-pressed=true]`).waitFor();
  await card.waitFor();
  const subs = await page.locator('#library-results .card-sub').allTextContents();
  assert(subs.every((s) => s.includes(sport)), `a clip of another sport is shown: ${subs.join(' | ')}`);
  await page.locator('#facet-athlete button[data-value="Ada Runner"]').click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('athlete') === 'Ada Runner');
  await page.waitForFunction((id) => {
    const cards = [...document.querySelectorAll('#library-results > li')];
    return cards.length === 1 && cards[0].dataset.clip === id;
  }, clip.id, { timeout: 5000 }).catch(() => { throw new Error('the athlete facet does not narrow the results to the clip'); });
  assert(await page.locator('#active-filters .chip').count() === 2, 'the filters in use are not listed');
  await session.shot(page, 'library-facets');

  step('preview the clip in place');
  await card.locator('.preview-button').click();
  await page.waitForFunction((id) => {
    const v = document.querySelector(`#library-results li[data-clip="${id}"] video`);
    return v && v.videoWidth > 0 && v.currentTime > 0.5;
  }, clip.id, { timeout: 15000 }).catch(() => { throw new Error('the preview does not play'); });
  await session.shot(page, 'library-preview');

  step('download the clip');
  const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a.download').click()]);
  await download.saveAs(downloadPath);
  const size = statSync(downloadPath).size;
  const head = readFileSync(downloadPath).subarray(4, 8).toString('latin1');
  step(`  ${download.suggestedFilename()}: ${size} bytes, box ${head}`);
  assert(size > 1000, `the download has ${size} bytes`);
  assert(head === 'ftyp', `the download is not an MP4 (starts with ${head})`);
  const ranged = await context.request.get(`${base}/api/v1/clips/${clip.id}/download`, { headers: { Range: 'bytes=0-99' } });
  assert(ranged.status() === 206 && (await ranged.body()).length === 100, `a Range request: ${ranged.status()}`);
}

await portalServed(base);
await session.run('library end-to-end', run);
