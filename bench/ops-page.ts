// The operations page's numbers (issue 19): what `/_headroom` weighs on the wire, how long the SLO view takes to
// draw with casebook idle and under a steady 500 req/s, and what the page's live updates (one state read per
// poll, every 3 s) cost casebook in CPU.
//
//   npm run bench:ops-page
//   BENCH_ROUNDS=N           page loads timed per condition (default 5)
//   BENCH_CPU_ROUNDS=N       alternating rounds of 0, 1 and 5 open pages under load (default 3)
//   BENCH_WINDOW_SECONDS=N   CPU window per condition and round (default 9: three polls of each page)
//   BENCH_RATE=N             background load in req/s, half search, half detail (default 500)
//   BENCH_STATE_READS=N      sequential state reads timed for the direct cost (default 200)
//
// Casebook (embedded PostgreSQL, demo data) runs on CPU 0, its PostgreSQL with it; this script, its load and
// Chromium (playwright-core driving /usr/bin/chromium) on CPU 1. Every request goes to 127.0.0.1. Under load the
// browser shares its CPU with the generator, so the render tables keep the server's part (HTML received, state
// read) apart from the rest, which is the browser's.
//
// Page weight: the page and every resource it loads, each GET on a connection of its own with node:http, once
// with `accept-encoding: identity` and once with `gzip, br`. Body bytes are what the socket carried once HTTP/1.1
// framing is removed, content coding not undone; wire bytes are the socket's bytesRead (status line, headers,
// framing and body).
// Time to first render: a fresh browser context per load (empty cache, the session cookie set beforehand), from
// navigation start to the first paint after page.js marks `body[data-drawn]` (the SLO table's rows and charts
// exist from then on): an init script notes the mark with a MutationObserver, then a message posted from the
// next animation frame, which runs once that frame is painted.
// Live updates: casebook's own CPU (/proc/<pid>/stat) and with its PostgreSQL, per second of wall time, under the
// load with 0, 1 and 5 pages open; and the direct cost, one state read's CPU × reads per second per page. The
// PostgreSQL figure (treeCpuSeconds) keeps a backend that exited meanwhile (an autovacuum worker, a pool
// connection closed after 10 s idle), with the postmaster that waited for it.

import { once } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { median } from '../packages/cli/src/compare/statistics.ts';
import { launch } from '../packages/cli/test/support/chromium.ts';
import { type RateResult, steadyRate } from './lib/load.ts';
import {
  benchOperatorToken,
  demoLogin,
  pinThisProcess,
  processCpuSeconds,
  startNode,
  treeCpuSeconds,
} from './lib/process.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const cpuRounds = Number(process.env.BENCH_CPU_ROUNDS ?? 3);
const windowSeconds = Number(process.env.BENCH_WINDOW_SECONDS ?? 9);
const rate = Number(process.env.BENCH_RATE ?? 500);
const stateReads = Number(process.env.BENCH_STATE_READS ?? 200);
const openPageCounts = [0, 1, 5];
const prefix = '/_headroom';
/** Load alone before anything is timed under it; then a slot per page load and per CPU window. */
const warmSeconds = 3;
const renderSlotSeconds = 2.5;
const words = ['fraud', 'payment', 'account', 'device', 'transfer', 'chargeback', 'phishing', 'merchant'];

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const bytes = (n: number) => n.toLocaleString('en-US');

/** A GET as the socket carried it: the body with its content coding, and every byte read. */
interface Wire {
  status: number;
  coding: string;
  type: string;
  body: Buffer;
  wireBytes: number;
}

/** GETs `url` on a connection of its own, so that the socket's bytesRead is this answer's alone. */
async function wireGet(url: string, headers: Record<string, string>): Promise<Wire> {
  const request = httpRequest(url, { headers, agent: false, timeout: 10_000 });
  request.once('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 10 s`)));
  request.end();
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  const socket = response.socket;
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return {
    status: response.statusCode ?? 0,
    coding: String(response.headers['content-encoding'] ?? 'identity'),
    type: String(response.headers['content-type'] ?? '').split(';')[0]!,
    body: Buffer.concat(chunks),
    wireBytes: socket.bytesRead,
  };
}

/** Signs in with the operator token as a script would (no HTML asked for); the cookie pair to send. */
async function signIn(origin: string): Promise<string> {
  const res = await fetch(`${origin}${prefix}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: benchOperatorToken }),
    redirect: 'manual',
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  await res.arrayBuffer();
  if (res.status !== 303 || !cookie) throw new Error(`sign-in answered ${res.status} without a session`);
  return cookie;
}

/** A browser context with an empty cache and the session cookie, as after signing in. */
async function signedInContext(browser: Browser, origin: string, cookie: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const [name, value] = [cookie.slice(0, cookie.indexOf('=')), cookie.slice(cookie.indexOf('=') + 1)];
  await context.addCookies([
    { name, value, domain: new URL(origin).hostname, path: prefix, httpOnly: true, sameSite: 'Strict' },
  ]);
  return context;
}

// Runs in the page before its own scripts (strings: this file is type-checked without the DOM library).
const renderProbe = `(() => {
  const marks = (globalThis.opsBench = {});
  const observer = new MutationObserver(() => {
    if (!document.body || document.body.dataset.drawn !== 'true') return;
    observer.disconnect();
    marks.drawnMs = performance.now();
    marks.rows = document.querySelectorAll('#slo-table tbody tr[data-key]').length;
    marks.charts = document.querySelectorAll('#slo-charts canvas').length;
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => { marks.paintedMs = performance.now(); };
      channel.port2.postMessage(null);
    });
  });
  observer.observe(document, { subtree: true, attributes: true, attributeFilter: ['data-drawn'] });
})()`;
const readRender = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const state = resources.find((r) => r.name.endsWith('/api/state'));
  const all = [nav, ...resources];
  const sum = (key) => all.reduce((a, r) => a + r[key], 0);
  return {
    ...globalThis.opsBench,
    htmlMs: nav.responseEnd,
    stateStartMs: state ? state.startTime : NaN,
    stateMs: state ? state.responseEnd - state.startTime : NaN,
    requests: all.length,
    encodedBytes: sum('encodedBodySize'),
    decodedBytes: sum('decodedBodySize'),
  };
})()`;

/** What one page load showed, in ms from navigation start. */
interface Render {
  paintedMs: number;
  drawnMs: number;
  htmlMs: number;
  stateStartMs: number;
  /** From the state read's start to its last byte: the server's part, with the browser's. */
  stateMs: number;
  rows: number;
  charts: number;
  requests: number;
  encodedBytes: number;
  decodedBytes: number;
}

/** Opens the signed-in page in a fresh context and times it to the first paint of the SLO view. */
async function firstRender(browser: Browser, origin: string, cookie: string): Promise<Render> {
  const context = await signedInContext(browser, origin, cookie);
  try {
    await context.addInitScript(renderProbe);
    const page = await context.newPage();
    await page.goto(`${origin}${prefix}`, { waitUntil: 'commit', timeout: 15_000 });
    // A function, not a string: the page's Content-Security-Policy refuses eval.
    await page.waitForFunction(
      () => (globalThis as { opsBench?: { paintedMs?: number } }).opsBench?.paintedMs !== undefined,
      undefined,
      { timeout: 15_000, polling: 50 },
    );
    const render = (await page.evaluate(readRender)) as Render;
    if (render.rows === 0) throw new Error('the SLO view drew no rows');
    return render;
  } finally {
    await context.close();
  }
}

/** `n` signed-in pages in one context, each drawn once; closed together. */
async function openPages(browser: Browser, origin: string, cookie: string, n: number) {
  const context = await signedInContext(browser, origin, cookie);
  const pages: Page[] = await Promise.all(
    Array.from({ length: n }, async () => {
      const page = await context.newPage();
      await page.goto(`${origin}${prefix}`, { timeout: 15_000 });
      await page.waitForSelector('body[data-drawn="true"]', { timeout: 15_000 });
      return page;
    }),
  );
  const polls = async () => {
    const counts = await Promise.all(pages.map((p) => p.getAttribute('body', 'data-polls')));
    return counts.reduce((a, c) => a + Number(c), 0);
  };
  return { polls, close: () => context.close() };
}

/** Casebook's CPU seconds: its own process, and with its PostgreSQL. */
function cpuOf(pid: number) {
  return { own: processCpuSeconds(pid) ?? Number.NaN, tree: treeCpuSeconds(pid) ?? Number.NaN };
}

function renderTable(title: string, renders: Render[]) {
  console.log(`\n${title}`);
  console.log(
    '| load | HTML received ms | state read starts ms | state read ms | rows drawn ms | first paint ms | SLO rows | charts | requests | bytes received (decoded) |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [i, r] of renders.entries()) {
    console.log(
      `| ${i + 1} | ${fmt(r.htmlMs)} | ${fmt(r.stateStartMs)} | ${fmt(r.stateMs)} | ${fmt(r.drawnMs)} | ${fmt(r.paintedMs)} | ${r.rows} | ${r.charts} | ${r.requests} | ${bytes(r.encodedBytes)} (${bytes(r.decodedBytes)}) |`,
    );
  }
  const m = (key: keyof Render) => fmt(median(renders.map((r) => r[key])));
  console.log(
    `| median | ${m('htmlMs')} | ${m('stateStartMs')} | ${m('stateMs')} | ${m('drawnMs')} | ${m('paintedMs')} | | | | |`,
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'headroom-bench-ops-page-'));
await chmod(dataDir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
// This process, its load and Chromium (launched from here, so it inherits this) on CPU 1; casebook and the
// PostgreSQL it starts on CPU 0.
const pinned = pinThisProcess('1');
console.log('starting casebook (embedded PostgreSQL, demo data seeded on this first start)...');
const casebook = await startNode(join(import.meta.dirname, '..', 'apps/casebook/src/server.ts'), {
  env: {
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUOTA_SCALE: '1000',
    OPERATOR_TOKEN: benchOperatorToken,
  },
  ready: /casebook is ready at (http:\/\/\S+)/,
  ...(pinned ? { cpus: '0' } : {}),
});
const origin = casebook.match!;
const pid = casebook.child.pid!;
let browser: Browser | undefined;
let failed = false;
try {
  console.log(`casebook ready in ${fmt(casebook.readyMs / 1000)} s at ${origin}`);
  const cookie = await signIn(origin);
  const session = { cookie };

  // 1. Page weight.
  const page = await wireGet(`${origin}${prefix}`, { ...session, 'accept-encoding': 'identity' });
  if (page.status !== 200) throw new Error(`${prefix} answered ${page.status}`);
  const html = page.body.toString('utf8');
  const pollMs = Number(/data-poll="(\d+)"/.exec(html)?.[1] ?? 3000);
  const assetPaths = [...html.matchAll(/(?:href|src)="([^"]+)"/g)]
    .map((m) => m[1]!)
    .filter((path) => path.startsWith(`${prefix}/assets/`));
  const resources = [
    { name: 'page (HTML)', path: prefix, accept: 'text/html' },
    ...assetPaths.map((path) => ({ name: path.slice(prefix.length + 1), path, accept: '*/*' })),
    { name: 'api/state (first read)', path: `${prefix}/api/state`, accept: 'application/json' },
  ];
  console.log(
    `\npage weight: ${resources.length} resources, each GET on a new connection with the session cookie; body = bytes after HTTP framing, content coding not undone; wire = socket bytesRead (status line, headers, framing, body)`,
  );
  console.log(
    '| resource | type | identity: body B | identity: wire B | `gzip, br`: coding | `gzip, br`: body B | `gzip, br`: wire B | br q4 here B | gzip -6 here B |',
  );
  console.log('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  const total = { plain: 0, plainWire: 0, coded: 0, codedWire: 0, br: 0, gzip: 0 };
  const codings = new Set<string>();
  for (const resource of resources) {
    const url = `${origin}${resource.path}`;
    const headers = { ...session, accept: resource.accept };
    const plain = await wireGet(url, { ...headers, 'accept-encoding': 'identity' });
    const coded = await wireGet(url, { ...headers, 'accept-encoding': 'gzip, br' });
    if (plain.status !== 200 || coded.status !== 200) {
      throw new Error(`${resource.path} answered ${plain.status} / ${coded.status}`);
    }
    // What the same bytes would weigh compressed, at @fastify/compress's default settings (br quality 4).
    const br = brotliCompressSync(plain.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } }).length;
    const gzip = gzipSync(plain.body).length;
    codings.add(coded.coding);
    total.plain += plain.body.length;
    total.plainWire += plain.wireBytes;
    total.coded += coded.body.length;
    total.codedWire += coded.wireBytes;
    total.br += br;
    total.gzip += gzip;
    console.log(
      `| ${resource.name} | ${plain.type} | ${bytes(plain.body.length)} | ${bytes(plain.wireBytes)} | ${coded.coding} | ${bytes(coded.body.length)} | ${bytes(coded.wireBytes)} | ${bytes(br)} | ${bytes(gzip)} |`,
    );
  }
  console.log(
    `| total | | ${bytes(total.plain)} | ${bytes(total.plainWire)} | ${[...codings].join(', ')} | ${bytes(total.coded)} | ${bytes(total.codedWire)} | ${bytes(total.br)} | ${bytes(total.gzip)} |`,
  );

  // 2. Time to first render, casebook idle.
  browser = await launch();
  await firstRender(browser, origin, cookie); // warm-up: Chromium's renderer and casebook's page routes
  const idle: Render[] = [];
  for (let i = 0; i < rounds; i++) idle.push(await firstRender(browser, origin, cookie));
  renderTable(
    `time to first render of the SLO view, casebook idle: ${rounds} loads, each in a fresh browser context (empty cache, signed in), ms from navigation start`,
    idle,
  );

  // 3 and 4. The same under a steady load, then CPU windows with 0, 1 and 5 pages open, in alternating order.
  const { authorization } = await demoLogin(origin);
  const listing = (await (
    await fetch(`${origin}/v1/cases/search?limit=100`, { headers: { authorization } })
  ).json()) as { data: { id: number }[] };
  const ids = listing.data.map((c) => c.id);
  if (ids.length === 0) throw new Error('the demo data has no cases for analyst@acme.test');
  // The load runs in spans: one for the timed page loads, one per CPU window (pages opened before it, with
  // casebook otherwise idle), so that nothing depends on how long opening pages takes on a busy CPU 1.
  const spans: RateResult[][] = [];
  const loadFor = async (seconds: number) => {
    const half = { rate: rate / 2, seconds, headers: { authorization }, connections: 32 };
    const span = await Promise.all([
      steadyRate(origin, '/v1/cases/search?q=${pick(vars.words)}&limit=20', { ...half, vars: { words } }),
      steadyRate(origin, '/v1/cases/${pick(vars.ids)}', { ...half, vars: { ids } }),
    ]);
    spans.push(span);
  };

  console.log(
    `\nbackground load: ${rate} req/s, open model on the headroom engine, half GET /v1/cases/search?q=<word>&limit=20, half GET /v1/cases/:id (analyst@acme.test), 32 connections each`,
  );
  const loaded: Render[] = [];
  const renderLoad = loadFor(warmSeconds + rounds * renderSlotSeconds + 2);
  const loadStart = performance.now();
  for (let i = 0; i < rounds; i++) {
    await sleep(Math.max(0, loadStart + (warmSeconds + i * renderSlotSeconds) * 1000 - performance.now()));
    loaded.push(await firstRender(browser, origin, cookie));
  }
  if (spans.length !== 0) throw new Error('the load ended before the page loads under it did');
  await renderLoad;

  interface Window {
    pages: number;
    seconds: number;
    own: number;
    tree: number;
    polls: number;
  }
  const windows: Window[] = [];
  for (let r = 0; r < cpuRounds; r++) {
    const order = r % 2 === 0 ? openPageCounts : openPageCounts.toReversed();
    for (const n of order) {
      const opened = n > 0 ? await openPages(browser, origin, cookie, n) : undefined;
      // The window starts a second into the span, once the load is steady, and ends before it does.
      const span = loadFor(windowSeconds + 1.5);
      await sleep(1000);
      const polls = (await opened?.polls()) ?? 0;
      const before = cpuOf(pid);
      const began = performance.now();
      await sleep(windowSeconds * 1000);
      const after = cpuOf(pid);
      const wall = (performance.now() - began) / 1000;
      const polled = ((await opened?.polls()) ?? 0) - polls;
      const spansSoFar = spans.length;
      await span;
      if (spansSoFar !== spans.length - 1) throw new Error('the load span ended before its CPU window did');
      await opened?.close();
      windows.push({
        pages: n,
        seconds: wall,
        own: (after.own - before.own) / wall,
        tree: (after.tree - before.tree) / wall,
        polls: polled,
      });
    }
  }
  const sum = (key: 'sent' | 'errors', i: number) => spans.reduce((a, span) => a + span[i]![key], 0);
  for (const [i, name] of ['search', 'detail'].entries()) {
    console.log(
      `${name}: ${spans.length} spans, ${sum('sent', i)} sent, ${sum('errors', i)} errors; per span achieved ${fmt(Math.min(...spans.map((s) => s[i]!.achievedRps)), 0)}-${fmt(Math.max(...spans.map((s) => s[i]!.achievedRps)), 0)} req/s, p50 ${fmt(median(spans.map((s) => s[i]!.p50Ms)), 2)} ms (median), p99 ${fmt(Math.max(...spans.map((s) => s[i]!.p99Ms)), 2)} ms (worst)`,
    );
  }
  if (sum('errors', 0) + sum('errors', 1) > 0) failed = true;

  renderTable(`time to first render of the SLO view under ${rate} req/s: ${rounds} loads, as above`, loaded);

  console.log(
    `\ncasebook CPU under ${rate} req/s, seconds of CPU per second of wall time (1.0 = a core), ${windowSeconds} s windows in alternating order; state reads = the pages' polls in the window`,
  );
  console.log('| round | open pages | casebook | casebook + PostgreSQL | state reads |');
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  for (const [i, w] of windows.entries()) {
    console.log(
      `| ${Math.floor(i / openPageCounts.length) + 1} | ${w.pages} | ${fmt(w.own, 4)} | ${fmt(w.tree, 4)} | ${w.polls} |`,
    );
  }
  const cpuWith = (n: number, key: 'own' | 'tree') =>
    median(windows.filter((w) => w.pages === n).map((w) => w[key]));
  // Per round, each condition against the 0-page window of the same round: drift of the machine cancels.
  const perPage = (n: number, key: 'own' | 'tree') =>
    median(
      Array.from({ length: cpuRounds }, (_, r) => {
        const round = windows.slice(r * openPageCounts.length, (r + 1) * openPageCounts.length);
        return (round.find((w) => w.pages === n)![key] - round.find((w) => w.pages === 0)![key]) / n;
      }),
    );
  const zeroSpread = (key: 'own' | 'tree') => {
    const zeros = windows.filter((w) => w.pages === 0).map((w) => w[key]);
    return Math.max(...zeros) - Math.min(...zeros);
  };
  for (const key of ['own', 'tree'] as const) {
    const label = key === 'own' ? 'casebook' : 'casebook + PostgreSQL (live processes)';
    console.log(
      `${label}: median ${fmt(cpuWith(0, key), 4)} / ${fmt(cpuWith(1, key), 4)} / ${fmt(cpuWith(5, key), 4)} CPU s/s with 0 / 1 / 5 pages; per open page (paired with each round's 0-page window, median): ${fmt(perPage(1, key) * 1000, 2)} ms/s from 1 page, ${fmt(perPage(5, key) * 1000, 2)} ms/s from 5; the 0-page windows spread over ${fmt(zeroSpread(key) * 1000, 1)} ms/s`,
    );
  }

  // The direct cost: sequential state reads with the load over, so casebook's CPU meanwhile is theirs. First
  // the pool closes the connections the load left idle (pg.Pool's default: after 10 s), so that no backend
  // exits during the count.
  await sleep(11_000);
  const readState = async () => {
    const res = await fetch(`${origin}${prefix}/api/state`, {
      headers: { ...session, accept: 'application/json' },
    });
    const body = await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`api/state answered ${res.status}`);
    return body.byteLength;
  };
  for (let i = 0; i < 20; i++) await readState();
  const idleBefore = cpuOf(pid);
  await sleep(2000);
  const idleAfter = cpuOf(pid);
  const idleOwn = (idleAfter.own - idleBefore.own) / 2;
  const idleTree = (idleAfter.tree - idleBefore.tree) / 2;
  const before = cpuOf(pid);
  const began = performance.now();
  let stateBytes = 0;
  for (let i = 0; i < stateReads; i++) stateBytes = await readState();
  const wall = (performance.now() - began) / 1000;
  const after = cpuOf(pid);
  // What casebook spends meanwhile anyway (timers, pool, PostgreSQL's background work) is taken out.
  const perRead = {
    own: (after.own - before.own - idleOwn * wall) / stateReads,
    tree: (after.tree - before.tree - idleTree * wall) / stateReads,
  };
  const readsPerSecond = 1000 / pollMs;
  console.log(
    `\none state read (GET ${prefix}/api/state, ${bytes(stateBytes)} B of JSON after the load, keep-alive, ${stateReads} in sequence, no load): ${fmt((wall / stateReads) * 1000, 2)} ms each on the wall; CPU ${fmt(perRead.own * 1000, 2)} ms casebook, ${fmt(perRead.tree * 1000, 2)} ms with PostgreSQL (idle CPU, ${fmt(idleOwn * 1000, 1)} / ${fmt(idleTree * 1000, 1)} ms/s, taken out)`,
  );
  const direct = { own: perRead.own * readsPerSecond, tree: perRead.tree * readsPerSecond };
  console.log(
    `a page reads every ${pollMs / 1000} s: ${fmt(direct.own * 1000, 2)} ms of casebook CPU per second per open page (${fmt(direct.tree * 1000, 2)} ms with PostgreSQL), ${fmt((direct.own / cpuWith(0, 'own')) * 100, 2)}% of casebook's CPU at ${rate} req/s`,
  );

  const m = (renders: Render[], key: keyof Render = 'paintedMs') => fmt(median(renders.map((r) => r[key])));
  console.log(`\nsummary (npm run bench:ops-page${pinned ? ', casebook on CPU 0, load and Chromium on CPU 1' : ', not pinned: no taskset'}):
- page weight: ${resources.length} resources, ${bytes(total.plain)} B of bodies uncompressed (${bytes(total.plainWire)} B on the wire); asked for \`gzip, br\` the server sent ${[...codings].join(', ')}: ${bytes(total.coded)} B of bodies (${bytes(total.codedWire)} B on the wire); the same bodies in br q4 would be ${bytes(total.br)} B, gzip ${bytes(total.gzip)} B
- time to first render of the SLO view (navigation start → first paint with its rows drawn, fresh context, median of ${rounds}): ${m(idle)} ms with casebook idle, ${m(loaded)} ms under ${rate} req/s; the server's part, HTML received at ${m(idle, 'htmlMs')} / ${m(loaded, 'htmlMs')} ms and the state read ${m(idle, 'stateMs')} / ${m(loaded, 'stateMs')} ms (idle / under load), the rest is the browser's
- live updates, direct: one state read costs casebook ${fmt(perRead.own * 1000, 2)} ms CPU (${fmt(perRead.tree * 1000, 2)} ms with PostgreSQL); at one read per ${pollMs / 1000} s that is ${fmt(direct.own * 1000, 2)} ms/s per open page (${fmt(direct.tree * 1000, 2)} ms/s with PostgreSQL), 5 pages ${fmt(direct.own * 5000, 2)} ms/s
- live updates, measured under ${rate} req/s: casebook ${fmt(cpuWith(0, 'own'), 3)} / ${fmt(cpuWith(1, 'own'), 3)} / ${fmt(cpuWith(5, 'own'), 3)} CPU s/s with 0 / 1 / 5 pages (median of ${cpuRounds}); per page ${fmt(perPage(5, 'own') * 1000, 2)} ms/s from the 5-page windows, against a spread of ${fmt(zeroSpread('own') * 1000, 1)} ms/s between 0-page windows${Math.abs(perPage(5, 'own') * 5) < zeroSpread('own') ? ' (within the noise: the direct figure is the one to quote)' : ''}`);
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  await browser?.close();
  await casebook.stop();
  await rm(dataDir, { recursive: true, force: true });
}
// A failure mid-run may leave the background load running out its duration: end now.
process.exit(failed ? 1 : 0);
