// End-to-end test of the Podium portal in Debian's Chromium, driven by
// internal/app/portal_e2e_test.go, which starts Podium, publishes the feeds
// and passes what this script needs in the environment:
//
//   PODIUM_URL              the portal, e.g. http://127.0.0.1:8080
//   PODIUM_ADMIN_TOKEN      the operator's admin token
//   PODIUM_BROADCASTER_KEY  the API key of the broadcaster under test
//   PODIUM_BROADCASTER_ID   its id
//   PODIUM_ENTITLED         comma-separated feeds it is entitled to; the first is revoked
//   PODIUM_NOT_ENTITLED     a live feed it must never see
//   PODIUM_ARTIFACTS        a directory for screenshots
//   PODIUM_CHROMIUM         the browser (default /usr/bin/chromium)
//
// It prints one line per step and exits non-zero on the first failure,
// after a screenshot of every open page.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('PODIUM_URL');
const adminToken = env('PODIUM_ADMIN_TOKEN');
const key = env('PODIUM_BROADCASTER_KEY');
const broadcaster = env('PODIUM_BROADCASTER_ID');
const entitled = env('PODIUM_ENTITLED').split(',');
const denied = env('PODIUM_NOT_ENTITLED');
const artifacts = env('PODIUM_ARTIFACTS');
const [revoked, kept] = entitled;
mkdirSync(artifacts, { recursive: true });

const started = Date.now();
const pages = new Map();
function step(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

// watch records a page's console errors and uncaught exceptions, and marks
// the document so that a reload would be noticed.
async function open(context, name) {
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  pages.set(name, page);
  page.on('pageerror', (err) => console.log(`  ${name}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of (401|403|404)/.test(msg.text())) console.log(`  ${name}: console: ${msg.text()}`);
  });
  page.on('dialog', (d) => d.accept());
  return page;
}

async function signIn(page, token) {
  await page.goto(base + '/');
  await page.locator('#token').fill(token);
  await page.locator('#token').press('Enter');
  await page.locator('#sign-out').waitFor();
}

async function markDocument(page) {
  await page.evaluate(() => { window.__sameDocument = true; });
}

async function sameDocument(page) {
  return page.evaluate(() => window.__sameDocument === true);
}

// wallFeeds lists the feeds on a broadcaster's wall.
async function wallFeeds(page) {
  return page.locator('.wall > .tile').evaluateAll((tiles) => tiles.map((t) => t.dataset.feed).sort());
}

// playing waits until a video shows pictures and its time advances.
async function playing(page, selector, what) {
  const video = page.locator(selector);
  await video.waitFor();
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
  }, selector, { timeout: 20000 }).catch(() => { throw new Error(`${what}: no picture within 20 s`); });
  // A live player may wait a moment at the live edge: ask for one second
  // of media time within ten.
  const t0 = await video.evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).currentTime > t + 1, [selector, t0], { timeout: 10000 })
    .catch(async () => { throw new Error(`${what}: currentTime stuck near ${t0} (now ${await video.evaluate((v) => v.currentTime)})`); });
  const t1 = await video.evaluate((v) => v.currentTime);
  return { width: await video.evaluate((v) => v.videoWidth), t1 };
}


async function run(browser) {
  // A broadcaster's browser: two tabs of one session, the wall and a feed page.
  const bc = await browser.newContext({ viewport: { width: 1440, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
  const wall = await open(bc, 'broadcaster-wall');

  step('sign-in page');
  await wall.goto(base + '/');
  await wall.locator('#token').waitFor();
  assert(await wall.locator('label[for=token]').isVisible(), 'the token field has no visible label');
  await shot(wall, 'sign-in');

  step('a wrong key is refused with a message');
  await wall.locator('#token').fill('pk_not-a-real-key');
  await wall.locator('button[type=submit]').click();
  await wall.locator('#signin-error').filter({ hasText: 'not accepted' }).waitFor({ timeout: 5000 });
  assert(await wall.locator('#token').getAttribute('aria-invalid') === 'true', 'the refused field is not marked invalid');
  assert((await bc.cookies()).every((c) => c.name !== 'podium_session'), 'a session cookie was set for a wrong key');
  await shot(wall, 'sign-in-refused');

  step(`sign in as broadcaster ${broadcaster}`);
  await signIn(wall, key);
  const cookie = (await bc.cookies()).find((c) => c.name === 'podium_session');
  assert(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict', `session cookie: ${JSON.stringify(cookie)}`);
  assert(!(await wall.evaluate(() => document.cookie)).includes('podium_session'), 'the session cookie is readable by scripts');

  step(`the wall shows exactly ${entitled.join(', ')}`);
  await wall.waitForFunction((n) => document.querySelectorAll('.wall > .tile').length === n, entitled.length, { timeout: 10000 });
  assert(JSON.stringify(await wallFeeds(wall)) === JSON.stringify([...entitled].sort()), `wall shows ${await wallFeeds(wall)}`);
  assert(await wall.locator(`[data-feed="${denied}"]`).count() === 0, `the wall shows ${denied}`);
  const tile = wall.locator(`.tile[data-feed="${revoked}"]`);
  await tile.locator('.badge.live').waitFor({ timeout: 10000 });
  assert(/Mbit\/s|kbit\/s/.test(await tile.locator('[data-fact=bitrate]').textContent()), 'no bitrate on the tile');

  step('a preview plays');
  const preview = await playing(wall, `.tile[data-feed="${revoked}"] video`, `preview of ${revoked}`);
  step(`  preview ${preview.width} px wide, at ${preview.t1.toFixed(1)} s`);
  await shot(wall, 'wall');
  await markDocument(wall);

  step(`open the page of ${revoked} from the wall`);
  const feed = await open(bc, 'broadcaster-feed');
  await feed.goto(base + '/');
  await feed.locator(`.tile[data-feed="${revoked}"] .tile-link`).click();
  await feed.waitForURL(`**/feeds/${revoked}`);
  await markDocument(feed);
  const main = await playing(feed, '.feed-main video', `player of ${revoked}`);
  step(`  player ${main.width} px wide`);
  assert(await feed.locator('.player-preview').count() === 0, 'previews of the wall still exist on the feed page');

  step('switch the audio track');
  await feed.waitForFunction(() => (window.__podiumPlayers && [...window.__podiumPlayers].find((p) => p.kind === 'main')?.audioTracks.length >= 2), null, { timeout: 10000 })
    .catch(() => { throw new Error('fewer than two audio tracks'); });
  const tracks = await feed.evaluate(() => [...window.__podiumPlayers].find((p) => p.kind === 'main').audioTracks.map((t) => t.lang || t.name));
  step(`  audio tracks: ${tracks.join(', ')}`);
  const before = await feed.evaluate(() => [...window.__podiumPlayers].find((p) => p.kind === 'main').hls.audioTrack);
  const target = before === 0 ? 1 : 0;
  assert(await feed.locator('#audio-track option').count() === tracks.length, 'the audio menu does not list every track');
  await feed.locator('#audio-track').selectOption(String(target));
  await feed.waitForFunction((t) => [...window.__podiumPlayers].find((p) => p.kind === 'main').hls.audioTrack === t, target, { timeout: 5000 });
  await playing(feed, '.feed-main video', 'player after the audio switch');
  step(`  audio track ${before} -> ${target}, playback continues`);

  step('SRT pull details');
  const srt = async (k) => (await feed.locator(`[data-srt=${k}] code`).textContent()).trim();
  await feed.locator('[data-srt=streamid] code').waitFor({ timeout: 5000 });
  const address = await srt('address');
  const streamid = await srt('streamid');
  const passphrase = await srt('passphrase');
  assert(/^[\w.-]+:\d+$/.test(address), `address ${address}`);
  assert(streamid === `#!::r=${revoked},u=${broadcaster},m=request`, `streamid ${streamid}`);
  assert(passphrase.length >= 10, `passphrase ${passphrase}`);
  for (const tool of ['ffplay', 'ffmpeg', 'srt-live-transmit']) {
    const cmd = await feed.locator(`[data-command="${tool}"] pre`).textContent();
    assert(cmd.startsWith(tool) && cmd.includes(streamid) && cmd.includes(passphrase), `${tool} command: ${cmd}`);
  }
  await feed.getByRole('button', { name: 'Copy stream ID' }).click();
  assert(await feed.evaluate(() => navigator.clipboard.readText()) === streamid, 'the copy button did not copy the stream ID');
  await shot(feed, 'feed');

  // The operator, in a browser of its own.
  const op = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const ops = await open(op, 'operator');
  step('sign in as operator');
  await signIn(ops, adminToken);
  for (const id of [...entitled, denied]) await ops.locator(`#feeds-table tr[data-feed="${id}"] .badge.live`).waitFor({ timeout: 10000 });
  await ops.waitForFunction(() => (document.querySelector('#feeds-table tr .spark-line')?.getAttribute('points') ?? '').split(' ').length >= 2, null, { timeout: 10000 })
    .catch(() => { throw new Error('no bitrate chart'); });
  const publisher = await ops.locator(`#feeds-table tr[data-feed="${revoked}"] td:nth-child(7)`).textContent();
  assert(publisher.trim() !== '—', 'no publisher shown');
  await ops.locator(`#deliveries-table tr`).filter({ hasText: broadcaster }).first().waitFor({ timeout: 10000 })
    .catch(() => { throw new Error(`no delivery of ${broadcaster} listed`); });
  const right = ops.locator(`#broadcasters-table tr[data-broadcaster="${broadcaster}"] li[data-feed="${revoked}"]`);
  await right.locator('.badge').filter({ hasText: 'active' }).waitFor();
  const recordRow = ops.locator(`#feeds-table tr[data-feed="${kept}"]`);
  await recordRow.locator('.record-state').filter({ hasText: 'recording' }).waitFor({ timeout: 10000 })
    .catch(() => { throw new Error(`${kept} is not shown recording`); });
  await shot(ops, 'operator');

  step(`switch ${kept}'s recording off and on again`);
  await recordRow.getByLabel(`Record ${kept}`).uncheck();
  await recordRow.locator('.record-state').filter({ hasText: /^off$/ }).waitFor({ timeout: 5000 })
    .catch(() => { throw new Error('recording did not stop'); });
  await recordRow.getByLabel(`Record ${kept}`).check();
  await recordRow.locator('.record-state').filter({ hasText: 'recording' }).waitFor({ timeout: 10000 })
    .catch(() => { throw new Error('recording did not start again'); });

  step(`revoke ${broadcaster} on ${revoked}`);
  await right.getByRole('button', { name: `Revoke ${broadcaster} on ${revoked}` }).click();
  await right.locator('.badge').filter({ hasText: 'revoked' }).waitFor({ timeout: 5000 });
  const revokedAt = Date.now();

  step('the broadcaster\'s player stops and says so, without a reload');
  await feed.locator('.feed-main .player[data-state=unavailable]').waitFor({ timeout: 10000 });
  await feed.locator('.feed-main .player-overlay').filter({ hasText: 'Not available' }).waitFor();
  assert(await feed.evaluate(() => document.querySelector('.feed-main video').paused || !document.querySelector('.feed-main video').currentSrc),
    'the video still plays');
  step(`  after ${((Date.now() - revokedAt) / 1000).toFixed(1)} s`);
  assert(await feed.locator('[data-srt=passphrase]').count() === 0, 'SRT details still shown after the revoke');

  step(`${revoked} leaves the wall; ${kept} stays`);
  await wall.waitForFunction((id) => !document.querySelector(`.wall [data-feed="${id}"]`), revoked, { timeout: 10000 });
  assert(JSON.stringify(await wallFeeds(wall)) === JSON.stringify(entitled.slice(1).sort()), `wall shows ${await wallFeeds(wall)}`);
  assert(await sameDocument(wall) && await sameDocument(feed), 'a page was reloaded');
  await playing(wall, `.tile[data-feed="${kept}"] video`, `preview of ${kept}`);
  await shot(feed, 'feed-revoked');
  await shot(wall, 'wall-after-revoke');

  step('sign out');
  await wall.locator('#sign-out').click();
  await wall.locator('#token').waitFor({ timeout: 5000 });
  assert((await bc.cookies()).every((c) => c.name !== 'podium_session'), 'the session cookie is still there');
  await wall.reload();
  await wall.locator('#token').waitFor({ timeout: 5000 });
  assert(await wall.locator('.wall').count() === 0, 'the wall is shown after signing out');
  step('the other tab of the signed-out session goes to the sign-in page');
  await feed.locator('#token').waitFor({ timeout: 15000 });
  assert(await feed.evaluate(() => window.__podiumPlayers.size === 0), 'players still exist after signing out');
  await shot(wall, 'signed-out');
}

// The portal must be at / before a browser is worth starting.
const index = await fetch(base + '/').catch((err) => ({ ok: false, statusText: err.message, headers: new Headers() }));
if (!index.ok || !index.headers.get('content-type')?.startsWith('text/html')) {
  console.log(`FAIL: the portal is not served at ${base}/: ${index.status ?? ''} ${index.statusText} ${index.headers.get('content-type') ?? ''}`);
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: process.env.PODIUM_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--autoplay-policy=no-user-gesture-required'],
});
let failed = false;
try {
  await run(browser);
  step('portal end-to-end: ok');
} catch (err) {
  failed = true;
  console.log(`FAIL: ${err.message}`);
  for (const [name, page] of pages) {
    await page.screenshot({ path: join(artifacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
