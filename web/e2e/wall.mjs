// End-to-end test of an offline feed on a broadcaster's wall, in Debian's
// Chromium, driven by internal/app/wall_e2e_test.go, which starts Podium,
// loops a sample into one feed, leaves another offline, and passes:
//
//   PODIUM_URL              the portal, e.g. http://127.0.0.1:8080
//   PODIUM_ADMIN_TOKEN      the operator's admin token
//   PODIUM_BROADCASTER_KEY  the API key of a broadcaster entitled to both feeds
//   PODIUM_LIVE_FEED        the feed that is live from the start
//   PODIUM_OFFLINE_FEED     the feed that is offline until this script asks
//   PODIUM_OFFLINE_SECONDS  how long the offline tile is watched (default 20)
//   PODIUM_ARTIFACTS        a directory for screenshots
//   PODIUM_CHROMIUM         the browser (default /usr/bin/chromium)
//
// The offline tile must say so and ask Podium for nothing while the feed
// stays offline: its HLS and playback requests and the page's console errors
// are counted over the stretch. The script then prints "publish FEED" on a
// line of its own; the Go test starts the feed, and the tile must play. The
// operator's console must then count the tile among the feed's readers.
// Last, a wall whose playback requests are refused must retry with pauses
// that grow, and play once they are granted again.

import { Session, assert, env, playing, portalServed, signIn, step } from './harness.mjs';

const base = env('PODIUM_URL');
const adminToken = env('PODIUM_ADMIN_TOKEN');
const key = env('PODIUM_BROADCASTER_KEY');
const liveFeed = env('PODIUM_LIVE_FEED');
const offlineFeed = env('PODIUM_OFFLINE_FEED');
const offlineSeconds = Number(process.env.PODIUM_OFFLINE_SECONDS || 20);
const session = new Session(env('PODIUM_ARTIFACTS'));

// At most this many requests of each kind, and console errors, while the
// feed is offline: the first look before the wall knows the feed's state
// may cost one.
const allowed = 2;

// Counter counts what a page asks for the offline feed, and its console errors.
class Counter {
  constructor(page, feed) {
    this.hls = 0;
    this.playback = 0;
    this.errors = 0;
    page.on('request', (req) => {
      const path = new URL(req.url()).pathname;
      if (path.startsWith(`/hls/${feed}/`)) this.hls++;
      else if (path === `/api/v1/feeds/${feed}/playback`) this.playback++;
    });
    page.on('console', (msg) => { if (msg.type() === 'error') this.errors++; });
  }

  snapshot() { return { hls: this.hls, playback: this.playback, errors: this.errors }; }
}

const tile = (feed) => `.tile[data-feed="${feed}"]`;

await portalServed(base);
await session.run('offline wall tile', async (s) => {
  const bc = await s.browser.newContext({ viewport: { width: 1440, height: 900 } });
  const wall = await s.open(bc, 'wall');
  const counter = new Counter(wall, offlineFeed);

  step('sign in as broadcaster; the live tile plays');
  await signIn(wall, base, key);
  await playing(wall, `${tile(liveFeed)} video`, `preview of ${liveFeed}`);

  step(`the tile of ${offlineFeed} says it is offline`);
  await wall.locator(`${tile(offlineFeed)} .badge.off`).waitFor({ timeout: 10000 });
  await wall.locator(`${tile(offlineFeed)} .player[data-state=offline]`).waitFor({ timeout: 15000 })
    .catch(async () => { throw new Error(`the offline tile is in state ${await wall.locator(`${tile(offlineFeed)} .player`).getAttribute('data-state')}`); });
  const overlay = (await wall.locator(`${tile(offlineFeed)} .player-overlay`).textContent()).trim();
  assert(/off air/i.test(overlay), `the offline tile says "${overlay}"`);

  step(`watch it for ${offlineSeconds} s`);
  const before = counter.snapshot();
  const from = Date.now();
  // The wall keeps rendering from the event stream all along: the stretch
  // ends after the time and after at least that many seconds of events.
  await wall.waitForTimeout(offlineSeconds * 1000);
  const after = counter.snapshot();
  const seconds = (Date.now() - from) / 1000;
  const during = { hls: after.hls - before.hls, playback: after.playback - before.playback, errors: after.errors - before.errors };
  const perMinute = (n) => (n * 60 / seconds).toFixed(1);
  step(`  over ${seconds.toFixed(0)} s offline: ${during.hls} HLS requests (${perMinute(during.hls)}/min), ` +
    `${during.playback} playback requests (${perMinute(during.playback)}/min), ${during.errors} console errors; ` +
    `since sign-in: ${after.hls} HLS, ${after.playback} playback`);
  await s.shot(wall, 'wall-offline');
  assert(during.hls <= allowed, `the offline tile made ${during.hls} HLS requests in ${seconds.toFixed(0)} s`);
  assert(during.playback <= allowed, `the offline tile asked for playback ${during.playback} times in ${seconds.toFixed(0)} s`);
  assert(during.errors <= allowed, `${during.errors} console errors in ${seconds.toFixed(0)} s offline`);
  assert(await wall.locator(`${tile(offlineFeed)} .player[data-state=offline]`).count() === 1, 'the offline tile left its offline state');

  step(`publish ${offlineFeed}`);
  console.log(`publish ${offlineFeed}`);
  const published = Date.now();
  await wall.locator(`${tile(offlineFeed)} .badge.live`).waitFor({ timeout: 20000 })
    .catch(() => { throw new Error(`the wall does not show ${offlineFeed} live`); });
  const badge = (Date.now() - published) / 1000;
  await wall.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
  }, `${tile(offlineFeed)} video`, { timeout: 30000 }).catch(() => { throw new Error(`no picture of ${offlineFeed} within 30 s of publishing`); });
  const picture = (Date.now() - published) / 1000;
  const preview = await playing(wall, `${tile(offlineFeed)} video`, `preview of ${offlineFeed}`);
  step(`  live on the wall after ${badge.toFixed(1)} s, a picture after ${picture.toFixed(1)} s; ` +
    `currentTime ${preview.t0.toFixed(1)} -> ${preview.t1.toFixed(1)} s`);
  await s.shot(wall, 'wall-live');

  step('the operator\'s console counts the previews among the readers');
  const op = await s.browser.newContext({ viewport: { width: 1440, height: 900 } });
  const ops = await s.open(op, 'operator');
  await signIn(ops, base, adminToken);
  for (const feed of [liveFeed, offlineFeed]) {
    const readers = ops.locator(`#feeds-table tr[data-feed="${feed}"] td:nth-child(6)`);
    await ops.waitForFunction((sel) => Number(document.querySelector(sel)?.textContent.replace(/\D/g, '')) >= 1,
      `#feeds-table tr[data-feed="${feed}"] td:nth-child(6)`, { timeout: 15000 })
      .catch(async () => { throw new Error(`the console shows ${await readers.textContent().catch(() => '?')} readers of ${feed}, want at least 1`); });
    step(`  ${feed}: ${(await readers.textContent()).trim()} readers`);
  }
  await s.shot(ops, 'operator');
  for (const [name, page] of [['wall', wall], ['operator', ops]]) {
    await page.close();
    s.pages.delete(name);
  }

  step(`a new wall whose playback of ${liveFeed} is refused (503) retries less and less often`);
  const again = await s.open(bc, 'wall-refused');
  const asked = [];
  await again.route(`**/api/v1/feeds/${liveFeed}/playback`, (route) => {
    asked.push(Date.now());
    return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"refused by the test"}}' });
  });
  await again.goto(base + '/');
  await again.locator(`${tile(liveFeed)} .player[data-state=error]`).waitFor({ timeout: 15000 });
  const refusedFor = offlineSeconds;
  const firstAsked = asked[0];
  await again.waitForFunction((t) => Date.now() > t, firstAsked + refusedFor * 1000, { timeout: (refusedFor + 10) * 1000, polling: 500 });
  const within = asked.filter((t) => t <= firstAsked + refusedFor * 1000);
  const gaps = within.slice(1).map((t, i) => (t - within[i]) / 1000);
  step(`  ${within.length} playback requests in ${refusedFor} s, ${gaps.map((g) => g.toFixed(1)).join(', ')} s apart`);
  // Doubling pauses from about a second leave room for at most seven tries
  // in 20 s; a busy machine only spaces them further.
  assert(within.length <= 7, `${within.length} playback requests in ${refusedFor} s of refusals`);
  assert(within.length >= 3, `only ${within.length} playback requests in ${refusedFor} s of refusals: it does not retry`);
  assert(gaps.at(-1) >= 2, `the last retry came ${gaps.at(-1).toFixed(1)} s after the one before: the pause does not grow`);

  // The next try may be up to 30 s away: the pause has reached its ceiling.
  step('once playback is granted again, the tile plays');
  await again.unroute(`**/api/v1/feeds/${liveFeed}/playback`);
  const granted = Date.now();
  await playing(again, `${tile(liveFeed)} video`, `preview of ${liveFeed} after the refusals`, 60000);
  step(`  playing ${((Date.now() - granted) / 1000).toFixed(1)} s after the refusals ended`);
});
