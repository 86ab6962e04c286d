// The demo page in a real headless browser (Chromium from the Debian packages, started here): waits for the
// thumbnails, reads the decoded pixels back from every canvas and compares them with rnncomp decompress (the
// vectors' pixels), at 8 iterations and, after the slider's action, at 2. Skipped, saying so, where no Chromium is
// installed. RNNCOMP_WEB_SCREENSHOT=path saves a screenshot; RNNCOMP_WEB_BENCH=path writes the decode timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';

import { serve } from '../serve.mjs';
import { readJson, readBytes } from './helpers.js';

const CANDIDATES = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']
  .filter(Boolean);
const chromium = CANDIDATES.find((p) => existsSync(p));
const skip = chromium ? false
  : 'no Chromium here (looked for $CHROMIUM, /usr/bin/chromium, chromium-browser, google-chrome): '
    + 'apt-get install chromium to run the browser test';

test('the demo page in headless Chromium: canvas pixels within 1 level of rnncomp decompress', { skip, timeout: 300000 },
  async () => {
    const puppeteer = (await import('puppeteer-core')).default;
    const { server, url } = await serve({ port: 0, quiet: true });
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--force-color-profile=srgb'],
    });
    try {
      const page = await browser.newPage();
      const logs = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${url}/demo/`);
      await page.evaluate(() => window.rnncompDemo.ready);
      const { cases, tolerance } = readJson('model.json');
      const shown = cases.filter((c) => c.entropy === 'auto');

      const readCanvases = () => page.evaluate(() => Array.from(document.querySelectorAll('#grid canvas'), (c) => ({
        name: c.dataset.name,
        rgba: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data),
      })));
      const compare = async (k) => {
        const results = await page.evaluate(() => window.rnncompDemo.results);
        assert.equal(results.length, shown.length);
        for (const r of results) assert.ok(!r.error && r.iterations === k, `${r.name}: ${r.error || r.iterations}`);
        const canvases = await readCanvases();
        assert.equal(canvases.length, shown.length);
        let worst = 0;
        for (const { name, rgba } of canvases) {
          const c = shown.find((x) => x.name === name);
          const size = c.height * c.width * 3;
          const want = readBytes(c.pixels).subarray((k - 1) * size, k * size);
          for (let i = 0, j = 0; i < size; i += 3, j += 4) {
            for (let ch = 0; ch < 3; ch++) worst = Math.max(worst, Math.abs(rgba[j + ch] - want[i + ch]));
            assert.equal(rgba[j + 3], 255);
          }
        }
        assert.ok(worst <= tolerance, `largest difference ${worst} at ${k} iterations`);
        console.log(`# ${canvases.length} canvases at ${k} iterations: largest difference ${worst} level(s)`);
      };

      await compare(8);
      // a file of a coder the page does not decode: the page says so, with the decoder's message
      const others = await page.evaluate(() => window.rnncompDemo.others);
      const { unsupported } = readJson('model.json');
      assert.equal(others.length, unsupported.length);
      assert.ok(others.length > 0);
      for (const [o, u] of others.map((x, i) => [x, unsupported[i]])) {
        assert.ok(o.message.startsWith('not decoded: ') && o.message.endsWith(u.rnncomp.error), o.message);
        const text = await page.evaluate(() => document.querySelector('#others').textContent);
        assert.ok(text.includes(u.rnncomp.error), text);
      }
      // the strip: the first thumbnail after each of its chunks, drawn as they arrived
      const strip = await page.evaluate(() => Array.from(document.querySelectorAll('#strip canvas'),
        (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)));
      assert.equal(strip.length, 8);
      const first = readBytes(shown[0].pixels);
      strip.forEach((rgba, t) => {
        const size = shown[0].height * shown[0].width * 3;
        let worst = 0;
        for (let i = 0, j = 0; i < size; i += 3, j += 4) {
          for (let ch = 0; ch < 3; ch++) worst = Math.max(worst, Math.abs(rgba[j + ch] - first[t * size + i + ch]));
        }
        assert.ok(worst <= tolerance, `strip image ${t + 1}: ${worst} levels`);
      });
      if (process.env.RNNCOMP_WEB_SCREENSHOT) {
        await page.screenshot({ path: process.env.RNNCOMP_WEB_SCREENSHOT, fullPage: true });
      }
      await page.evaluate(() => window.rnncompDemo.run(2)); // what the slider does
      await compare(2);
      // a slow stream: the page draws every iteration as its chunk arrives
      await page.evaluate(() => window.rnncompDemo.run(4, { slow: true }));
      await compare(4);
      if (process.env.RNNCOMP_WEB_BENCH) {
        const bench = await page.evaluate(() => window.rnncompDemo.bench([2, 4, 8], 5));
        const version = await browser.version();
        writeFileSync(process.env.RNNCOMP_WEB_BENCH, `${JSON.stringify({ browser: version, bench }, null, 1)}\n`);
        console.log(`# ${version}: ${JSON.stringify(bench)}`);
      }
      assert.deepEqual(logs.filter((l) => /error/i.test(l)), []);
    } finally {
      await browser.close();
      server.close();
    }
  });
