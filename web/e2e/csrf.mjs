// End-to-end test of cross-site request forgery against the portal, in
// Debian's Chromium, driven by internal/app/csrf_e2e_test.go, which starts
// Podium and, on another port of the same host, a page that tries to write
// with the operator's session (mode no-cors, credentials included, Blob
// bodies: the requests a page may send anywhere without asking). It passes:
//
//   PODIUM_URL          the portal, e.g. http://127.0.0.1:8080
//   PODIUM_ADMIN_TOKEN  the operator's admin token
//   PODIUM_ATTACKER     the attacker's page, e.g. http://127.0.0.1:9090/
//   PODIUM_ARTIFACTS    a directory for screenshots
//   PODIUM_CHROMIUM     the browser (default /usr/bin/chromium)
//
// The operator signs in; in the same browser the attacker's page runs its
// requests; the portal's own page then writes (a feed), which must work.
// The Go test checks that the attacker's requests reached Podium with the
// session and created nothing. One line per step; non-zero exit on failure.

import { Session, assert, env, portalServed, signIn, step } from './harness.mjs';

const base = env('PODIUM_URL');
const adminToken = env('PODIUM_ADMIN_TOKEN');
const attacker = env('PODIUM_ATTACKER');
const session = new Session(env('PODIUM_ARTIFACTS'));

await portalServed(base);
await session.run('csrf', async (s) => {
  const context = await s.browser.newContext();
  const portal = await s.open(context, 'portal');
  await signIn(portal, base, adminToken);
  const cookies = await context.cookies(base);
  assert(cookies.some((c) => c.name === 'podium_session'), `no session cookie after sign-in: ${JSON.stringify(cookies)}`);
  step('operator signed in');

  const page = await s.open(context, 'attacker');
  await page.goto(attacker + '?target=' + encodeURIComponent(base));
  await page.waitForFunction(() => window.__attackDone === true, null, { timeout: 20000 })
    .catch(() => { throw new Error('the attacker page did not finish its requests'); });
  const results = await page.evaluate(() => window.__attackResults);
  step(`attacker page sent ${results.length} requests: ${results.join('; ')}`);
  assert(results.length === 3 && results.every((r) => r.startsWith('sent')), `attack requests not all sent: ${results}`);
  await s.shot(page, 'attacker');

  const status = await portal.evaluate(async () => {
    const resp = await fetch('/api/v1/feeds', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'csrf-own', name: 'Written by the portal itself' }),
    });
    return resp.status;
  });
  assert(status === 201, `the portal's own write: ${status}, want 201`);
  step('the portal page itself still writes');
});
