// Opens an HTML report in headless Chromium (the system's, driven by playwright-core), recording every
// request the page makes and every error it throws, and offers the checks the report tests share.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export interface OpenedReport {
  page: Page;
  url: string;
  /** URLs the page asked for, the report itself included. */
  requests: string[];
  /** Uncaught errors and Content-Security-Policy violations in the page. */
  errors: string[];
}

/**
 * @example
 * const browser = await launch();
 * const report = await openReport(browser, html, dir, 'run');
 */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Writes `html` to `dir/name.html`, opens it and waits until the report says it has drawn. */
export async function openReport(
  browser: Browser,
  html: string,
  dir: string,
  name: string,
): Promise<OpenedReport> {
  const file = join(dir, `${name}.html`);
  await writeFile(file, html);
  const url = pathToFileURL(file).href;
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  // Anything but the report itself is refused (and recorded above): the report must need nothing else.
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url);
  await page.waitForSelector('body[data-drawn="true"]', { timeout: 15_000 });
  return { page, url, requests, errors };
}

export interface ChartFacts {
  id: string;
  xTicks: string[];
  yTicks: string[];
  scale: string | undefined;
  series: string[];
  budgets: { label: string; value: number; color: string; drawnColumns: number; plotWidth: number }[];
  yMax: number;
}

/**
 * What each chart drew: tick labels and series (recorded by the page as data attributes), the y scale,
 * and for each budget line how many pixel columns of the plot show its colour on its row of the canvas.
 */
export async function chartFacts(page: Page): Promise<ChartFacts[]> {
  // Runs in the page (a string: this file is type-checked without the DOM library).
  return (await page.evaluate(`(() => {
    const near = (data, i, [r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60;
    const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return window.headroomCharts.map(({ id, uplot: u }) => {
      const el = document.getElementById(id);
      const split = (text) => (text ? text.split('|') : []);
      const budgets = JSON.parse(el.dataset.budgets || '[]').map((b) => {
        const y = Math.round(u.valToPos(b.value, 'y', true));
        const { left, width } = u.bbox;
        const data = u.ctx.getImageData(Math.round(left), y - 2, Math.round(width), 5).data;
        const color = rgb(b.color);
        let drawnColumns = 0;
        for (let x = 0; x < Math.round(width); x++) {
          let hit = false;
          for (let row = 0; row < 5 && !hit; row++) hit = near(data, (row * Math.round(width) + x) * 4, color);
          if (hit) drawnColumns++;
        }
        return { ...b, drawnColumns, plotWidth: Math.round(width) };
      });
      return {
        id,
        xTicks: split(el.dataset.xTicks),
        yTicks: split(el.dataset.yTicks),
        scale: el.dataset.scale,
        series: split(el.dataset.series),
        budgets,
        yMax: u.scales.y.max,
      };
    });
  })()`)) as ChartFacts[];
}
