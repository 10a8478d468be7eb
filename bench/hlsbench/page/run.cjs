// Runs the player page in Chromium through playwright-core for a while and
// prints what the page measured (window.bench) as JSON on stdout.
// Settings come as JSON in HLSBENCH_OPTIONS: playwright (path of the
// playwright-core package), chromium, args, url, seconds.
'use strict';
const opts = JSON.parse(process.env.HLSBENCH_OPTIONS);
const { chromium } = require(opts.playwright);

(async () => {
  const browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: opts.args });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('console', (m) => process.stderr.write(`page console.${m.type()}: ${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e}\n`));
    await page.goto(opts.url);
    await page.waitForTimeout(opts.seconds * 1000);
    const result = await page.evaluate(() => {
      const q = document.getElementById('video').getVideoPlaybackQuality();
      return { ...window.bench, droppedFrames: q.droppedVideoFrames, totalFrames: q.totalVideoFrames, userAgent: navigator.userAgent };
    });
    process.stdout.write(JSON.stringify(result));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
