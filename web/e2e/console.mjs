// End-to-end test of the operator console's layout in Debian's Chromium,
// driven by internal/app/console_e2e_test.go, which starts Podium with live
// and offline feeds, a delivery and broadcasters, and passes:
//
//   PODIUM_URL          the portal, e.g. http://127.0.0.1:8080
//   PODIUM_ADMIN_TOKEN  the operator's admin token
//   PODIUM_LIVE_FEEDS   comma-separated feeds that are live
//   PODIUM_ARTIFACTS    a directory for screenshots
//   PODIUM_CHROMIUM     the browser (default /usr/bin/chromium)
//
// At each common laptop and desktop size, every column of the console's
// tables must be on screen: the table fits its panel (no horizontal scroll)
// and its last header cell ends inside the panel and the viewport.

import { Session, assert, env, portalServed, signIn, step } from './harness.mjs';

const base = env('PODIUM_URL');
const adminToken = env('PODIUM_ADMIN_TOKEN');
const liveFeeds = env('PODIUM_LIVE_FEEDS').split(',');
const session = new Session(env('PODIUM_ARTIFACTS'));

const viewports = [
  { width: 1440, height: 900 },
  { width: 1280, height: 800 },
];
const tables = ['feeds-table', 'deliveries-table', 'broadcasters-table'];

// fit measures a table against its scrolling wrapper and the viewport.
function fit(id) {
  const table = document.getElementById(id);
  const wrap = table.closest('.table-wrap');
  const cells = [...table.tHead.rows[0].cells];
  const last = cells.at(-1).getBoundingClientRect();
  const box = wrap.getBoundingClientRect();
  return {
    columns: cells.length,
    widths: cells.map((c) => Math.round(c.getBoundingClientRect().width)),
    hidden: cells.filter((c) => c.getBoundingClientRect().width < 1).map((c) => c.textContent),
    lastRight: last.right,
    wrapRight: box.right,
    viewport: document.documentElement.clientWidth,
    scrollWidth: wrap.scrollWidth,
    clientWidth: wrap.clientWidth,
    pageScroll: document.documentElement.scrollWidth,
  };
}

await portalServed(base);
await session.run('console layout', async (s) => {
  for (const viewport of viewports) {
    const size = `${viewport.width}x${viewport.height}`;
    const context = await s.browser.newContext({ viewport });
    const ops = await s.open(context, `operator-${size}`);
    step(`operator console at ${size}`);
    await signIn(ops, base, adminToken);
    for (const id of liveFeeds) {
      await ops.locator(`#feeds-table tr[data-feed="${id}"] .badge.live`).waitFor({ timeout: 15000 });
      await ops.locator(`#feeds-table tr[data-feed="${id}"] .record-state`).filter({ hasText: 'recording' }).waitFor({ timeout: 15000 });
    }
    await ops.locator('#deliveries-table tbody tr').first().waitFor({ timeout: 15000 })
      .catch(() => { throw new Error('no delivery listed'); });
    await ops.locator('#broadcasters-table .right').first().waitFor({ timeout: 10000 });
    for (const id of tables) {
      const m = await ops.evaluate(fit, id);
      step(`  ${id}: ${m.columns} columns, last ends at ${m.lastRight.toFixed(0)} px of ${m.wrapRight.toFixed(0)} (viewport ${m.viewport}); ` +
        `content ${m.scrollWidth} px in ${m.clientWidth}; columns ${m.widths.join(' ')} px`);
      assert(m.hidden.length === 0, `${id} at ${size}: columns without width: ${m.hidden.join(', ')}`);
      assert(m.lastRight <= m.wrapRight + 0.5 && m.lastRight <= m.viewport + 0.5,
        `${id} at ${size}: the last column ends at ${m.lastRight.toFixed(0)} px, past its panel (${m.wrapRight.toFixed(0)}) or the viewport (${m.viewport})`);
      assert(m.scrollWidth <= m.clientWidth + 1, `${id} at ${size}: ${m.scrollWidth} px of content in ${m.clientWidth} px: it scrolls sideways`);
    }
    const page = await ops.evaluate(() => document.documentElement.scrollWidth);
    assert(page <= viewport.width, `the page is ${page} px wide at ${size}`);
    await ops.locator('#feeds').screenshot({ path: `${s.artifacts}/feeds-${size}.png` });
    await s.shot(ops, `operator-${size}`);
    await context.close();
    s.pages.delete(`operator-${size}`);
  }
});
