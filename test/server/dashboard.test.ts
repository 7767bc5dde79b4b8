// The dashboard in a real browser (headless Chromium through playwright-core): while a load runs, the
// numbers on the page move. GPUQUEUE_SCREENSHOT=path saves a screenshot (docs/dashboard.png is made so).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { frames, postBytes, type RunningServer, smallQueue, startServer, TOKEN } from './server-kit.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

describe('gpuqueue serve: dashboard', { skip }, () => {
  let s: RunningServer;
  let loading = true;
  let load: Promise<void> = Promise.resolve();
  before(async () => {
    s = await startServer({
      token: TOKEN,
      statsIntervalMs: 250,
      queues: {
        orders: smallQueue({
          capacity: 256,
          whenResultsFull: 'evict-oldest',
          retainResults: 1024,
          maxRetries: 1,
          handler: { name: 'fault', inner: { name: 'slow', inner: 'checksum', delayUs: 50 }, failRate: 0.05 },
        }),
      },
    });
    const batch = frames(Array.from({ length: 64 }, (_, i) => Buffer.alloc(64, i)));
    load = (async () => {
      while (loading) {
        const res = await postBytes(`${s.url}/queues/orders/batch?timeoutMs=1000`, batch, { authorization: `Bearer ${TOKEN}` });
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  });
  after(async () => {
    loading = false;
    await load;
    await s.close();
  });

  it('shows throughput, depth, latency and dead letters that move while a load runs', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${s.url}/dashboard/?token=${TOKEN}`);
      const number = async (id: string) => Number(((await page.textContent(`#${id}`)) ?? '').replaceAll(',', '').split(' ')[0]);
      // Evaluated in the page: a tile's number is above `before`.
      const above = (id: string, before: number) =>
        page.waitForFunction(`Number(document.querySelector('#${id}').textContent.replaceAll(',', '')) > ${before}`, undefined, {
          timeout: 10_000,
        });
      await above('completed', 0);
      const first = await number('completed');
      await above('completed', first);
      assert.ok((await number('completed')) > first, 'completed moves');
      assert.ok((await number('throughput')) > 0, 'throughput is shown');
      assert.ok((await number('p99')) > 0, 'a p99 latency is shown');
      await above('dead', 0);
      assert.match((await page.textContent('#status')) ?? '', /cpu engine, ready/);
      assert.equal(await page.locator('.uplot').count(), 4, 'four uPlot charts');
      assert.deepEqual(errors, []);
      if (process.env.GPUQUEUE_SCREENSHOT) {
        await page.waitForTimeout(4000);
        await page.screenshot({ path: process.env.GPUQUEUE_SCREENSHOT });
      }
    } finally {
      await browser.close();
    }
  });
});
