// What the portal's browser tests share: the browser, pages that report
// their errors, steps with timestamps, screenshots, and a playing check.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const started = Date.now();

// step prints one line of progress, with the seconds since the start.
export function step(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// Session is one run: the browser, its pages, and where screenshots go.
export class Session {
  constructor(artifacts) {
    this.artifacts = artifacts;
    this.pages = new Map();
    mkdirSync(artifacts, { recursive: true });
  }

  async launch() {
    this.browser = await chromium.launch({
      executablePath: process.env.PODIUM_CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic', '--autoplay-policy=no-user-gesture-required'],
    });
  }

  // open makes a page that prints its console errors and uncaught exceptions.
  async open(context, name) {
    const page = await context.newPage();
    page.setDefaultTimeout(10000);
    this.pages.set(name, page);
    page.on('pageerror', (err) => console.log(`  ${name}: page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/status of (401|403|404)/.test(msg.text())) console.log(`  ${name}: console: ${msg.text()}`);
    });
    page.on('dialog', (d) => d.accept());
    return page;
  }

  async shot(page, name) {
    await page.screenshot({ path: join(this.artifacts, `${name}.png`), fullPage: true });
  }

  // run calls test(this), then prints the outcome and exits: non-zero on
  // failure, after a screenshot of every open page.
  async run(what, test) {
    let failed = false;
    try {
      await this.launch();
      await test(this);
      step(`${what}: ok`);
    } catch (err) {
      failed = true;
      console.log(`FAIL: ${err.message}`);
      for (const [name, page] of this.pages) {
        await page.screenshot({ path: join(this.artifacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
      }
    } finally {
      await this.browser?.close();
    }
    process.exit(failed ? 1 : 0);
  }
}

// portalServed exits unless the portal is at base: no browser is worth starting.
export async function portalServed(base) {
  const index = await fetch(base + '/').catch((err) => ({ ok: false, statusText: err.message, headers: new Headers() }));
  if (!index.ok || !index.headers.get('content-type')?.startsWith('text/html')) {
    console.log(`FAIL: the portal is not served at ${base}/: ${index.status ?? ''} ${index.statusText} ${index.headers.get('content-type') ?? ''}`);
    process.exit(1);
  }
}

export async function signIn(page, base, token) {
  await page.goto(base + '/');
  await page.locator('#token').fill(token);
  await page.locator('#token').press('Enter');
  await page.locator('#sign-out').waitFor();
}

// playing waits until a video shows pictures and its time advances by a second.
export async function playing(page, selector, what, timeout = 20000) {
  const video = page.locator(selector);
  await video.waitFor();
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
  }, selector, { timeout }).catch(() => { throw new Error(`${what}: no picture within ${timeout / 1000} s`); });
  const t0 = await video.evaluate((v) => v.currentTime);
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).currentTime > t + 1, [selector, t0], { timeout: 10000 })
    .catch(async () => { throw new Error(`${what}: currentTime stuck near ${t0} (now ${await video.evaluate((v) => v.currentTime)})`); });
  return { width: await video.evaluate((v) => v.videoWidth), t0, t1: await video.evaluate((v) => v.currentTime) };
}
