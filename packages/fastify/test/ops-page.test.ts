// The operations page `/_headroom`: sign-in with the service's own authentication into a signed session
// cookie, CSRF-guarded actions, a strict Content-Security-Policy; then, in headless Chromium against a real
// server on 127.0.0.1, every view filled with the figures the admin API and /metrics give for the same moment,
// and a breaker reset and a flag toggle clicked from the page.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { FakeClock } from '@headroom/core/clock';
import { until } from '@headroom/dev-servers/until';
import { launch } from '../../cli/test/support/chromium.ts';
import { histogramQuantile } from '../src/ops-page/route-series.ts';
import type { OpsState } from '../src/ops-page/state.ts';
import { analyst, operatorToken, opsApp } from './support/ops-app.ts';
import { scratchDatabase } from './support/scratch-database.ts';

type Injected = Awaited<ReturnType<Awaited<ReturnType<typeof opsApp>>['app']['inject']>>;

/** The sign-in form as a browser posts it (asking for HTML first). */
const form = (fields: Record<string, string>) => ({
  method: 'POST' as const,
  url: '/_headroom/sign-in',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,*/*;q=0.8' },
  payload: new URLSearchParams(fields).toString(),
});

const cookieOf = (response: Injected) => {
  const header = String(response.headers['set-cookie']);
  return header.slice(0, header.indexOf(';'));
};

const csrfOf = (html: string) => /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1] ?? '';

async function signedIn(app: Awaited<ReturnType<typeof opsApp>>['app']) {
  const signIn = await app.inject(form({ token: operatorToken }));
  assert.equal(signIn.statusCode, 303, signIn.body);
  const cookie = cookieOf(signIn);
  const page = await app.inject({ url: '/_headroom', headers: { cookie } });
  assert.equal(page.statusCode, 200);
  return { cookie, csrf: csrfOf(page.body) };
}

test('without a session: the page sends you to sign in, the API and the actions answer 401', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock() });
  try {
    const page = await app.inject('/_headroom');
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, '/_headroom/sign-in');
    const state = await app.inject('/_headroom/api/state');
    assert.equal(state.statusCode, 401);
    assert.match(String(state.headers['content-type']), /^application\/problem\+json/);
    assert.equal(state.json().code, 'HR_UNAUTHENTICATED');
    const reset = await app.inject({ method: 'POST', url: '/_headroom/api/breakers/upstream/reset' });
    assert.equal(reset.statusCode, 401);
    const signIn = await app.inject('/_headroom/sign-in');
    assert.equal(signIn.statusCode, 200);
    assert.match(signIn.body, /name="token"/);
    assert.match(signIn.body, /name="email"/);
  } finally {
    await close();
  }
});

test('every answer carries the strict CSP, nosniff, no referrer to others and no-store; assets are revalidated by ETag; br or gzip when asked', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock() });
  try {
    const { cookie } = await signedIn(app);
    for (const url of [
      '/_headroom',
      '/_headroom/api/state',
      '/_headroom/sign-in',
      '/_headroom/assets/page.js',
    ]) {
      const response = await app.inject({ url, headers: { cookie } });
      assert.equal(
        response.headers['content-security-policy'],
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        url,
      );
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(response.headers['referrer-policy'], 'same-origin', url);
      if (!url.includes('/assets/')) assert.equal(response.headers['cache-control'], 'no-store', url);
    }
    for (const file of ['page.js', 'page.css', 'uplot.js', 'uplot.css']) {
      const asset = await app.inject(`/_headroom/assets/${file}`);
      assert.equal(asset.statusCode, 200, file);
      assert.match(String(asset.headers['cache-control']), /no-cache/);
      assert.match(String(asset.headers.etag), /^W\/"[A-Za-z0-9_-]+"$/, 'a weak ETag: any coding');
      const again = await app.inject({
        url: `/_headroom/assets/${file}`,
        headers: { 'if-none-match': String(asset.headers.etag), 'accept-encoding': 'br' },
      });
      assert.equal(again.statusCode, 304, file);
    }
    // Compressed when asked, whatever the service does: br first, then gzip; the bytes are the same.
    const plain = await app.inject('/_headroom/assets/uplot.js');
    for (const [coding, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const coded = await app.inject({
        url: '/_headroom/assets/uplot.js',
        headers: { 'accept-encoding': `${coding}, identity;q=0.5` },
      });
      assert.equal(coded.headers['content-encoding'], coding);
      assert.match(String(coded.headers.vary), /accept-encoding/i);
      assert.ok(coded.rawPayload.length < plain.rawPayload.length / 2, `${coding} is smaller`);
      assert.equal(decode(coded.rawPayload).toString(), plain.body, coding);
    }
    const state = await app.inject({
      url: '/_headroom/api/state',
      headers: { cookie, 'accept-encoding': 'gzip, br' },
    });
    assert.equal(state.statusCode, 200);
    assert.equal(state.headers['content-encoding'], 'br');
    assert.equal(JSON.parse(brotliDecompressSync(state.rawPayload).toString()).release.version, '1.2.3');
    const page = await app.inject({ url: '/_headroom', headers: { cookie } });
    assert.doesNotMatch(page.body, /<script>|<style>|style="/, 'nothing inline');
  } finally {
    await close();
  }
});

test('sign-in: an operator gets an HttpOnly SameSite=Strict cookie for the page only; others are refused', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock() });
  try {
    const operator = await app.inject(form({ token: operatorToken }));
    assert.equal(operator.statusCode, 303);
    assert.equal(operator.headers.location, '/_headroom');
    assert.match(
      String(operator.headers['set-cookie']),
      /^headroom_ops=v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Path=\/_headroom; Max-Age=28800; HttpOnly; SameSite=Strict$/,
    );
    const other = await app.inject(form(analyst));
    assert.equal(other.statusCode, 403);
    assert.match(other.body, /needs the operator role/);
    assert.equal(other.headers['set-cookie'], undefined);
    const wrong = await app.inject(form({ token: 'not-the-token' }));
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /not valid/);
    assert.match(wrong.body, /name="token"/, 'the form again');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const empty = await app.inject(form({ email: analyst.email }));
    assert.equal(empty.statusCode, 401, 'an email without a password is not tried');
    const foreign = await app.inject({
      ...form({ token: operatorToken }),
      headers: { ...form({}).headers, origin: 'http://evil.example' },
    });
    assert.equal(foreign.statusCode, 403);
    assert.equal(foreign.headers['set-cookie'], undefined);

    // A client that does not ask for HTML gets problem+json with a stable code, as from every other route.
    const api = (fields: Record<string, string>) =>
      app.inject({
        ...form(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        remoteAddress: '127.0.0.7', // its own bucket of attempts
      });
    for (const [fields, status, code] of [
      [{ token: 'not-the-token' }, 401, 'HR_UNAUTHENTICATED'],
      [analyst, 403, 'HR_FORBIDDEN'],
      [{}, 401, 'HR_UNAUTHENTICATED'],
    ] as const) {
      const answer = await api(fields);
      assert.equal(answer.statusCode, status);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
      assert.equal(answer.json().code, code);
    }
  } finally {
    await close();
  }
});

test('over https the cookie is Secure', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock(), trustProxy: true });
  try {
    const operator = await app.inject({
      ...form({ token: operatorToken }),
      headers: { ...form({}).headers, 'x-forwarded-proto': 'https' },
    });
    assert.match(String(operator.headers['set-cookie']), /; HttpOnly; SameSite=Strict; Secure$/);
  } finally {
    await close();
  }
});

test('sign-in attempts beyond the limit per client address get 429 with Retry-After', async () => {
  const clock = new FakeClock();
  const { app, close } = await opsApp({ clock, page: { signInLimit: { limit: 3, window: 60_000 } } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await app.inject(form({ token: 'guess' }))).statusCode, 401);
    const limited = await app.inject(form({ token: operatorToken }));
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['retry-after'], '20');
    assert.match(limited.body, /Too many sign-in attempts/);
    const limitedApi = await app.inject({
      ...form({ token: operatorToken }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual([limitedApi.statusCode, limitedApi.json().code], [429, 'HR_RATE_LIMITED']);
    const other = await app.inject({ ...form({ token: operatorToken }), remoteAddress: '127.0.0.9' });
    assert.equal(other.statusCode, 303, 'another address has its own bucket');
    clock.advance(20_000);
    assert.equal((await app.inject(form({ token: operatorToken }))).statusCode, 303);
    const metrics = (await app.inject('/metrics')).body;
    assert.match(
      metrics,
      /headroom_ratelimit_decisions_total\{policy="ops-sign-in",result="limited",source="store"\} 2/,
    );
  } finally {
    await close();
  }
});

test('a tampered, foreign or expired session is refused', async () => {
  const clock = new FakeClock();
  const { app, close } = await opsApp({ clock });
  const other = await opsApp({ clock, page: { secret: 'another-secret-0123456789abcdef0123' } });
  try {
    const { cookie } = await signedIn(app);
    const state = (c: string) => app.inject({ url: '/_headroom/api/state', headers: { cookie: c } });
    assert.equal((await state(cookie)).statusCode, 200);
    const [name, value] = cookie.split('=') as [string, string];
    const [version, payload, signature] = value.split('.') as [string, string, string];
    const payloadFields = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const longer = Buffer.from(
      JSON.stringify({ ...payloadFields, exp: payloadFields.exp + 86_400_000 }),
    ).toString('base64url');
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
    for (const tampered of [
      `${name}=${version}.${longer}.${signature}`,
      `${name}=${version}.${payload}.${flipped}`,
      `${name}=${version}.${payload}.`,
      `${name}=v2.${payload}.${signature}`,
      `${name}=${value}.x`,
    ]) {
      assert.equal((await state(tampered)).statusCode, 401, tampered);
      assert.equal((await app.inject({ url: '/_headroom', headers: { cookie: tampered } })).statusCode, 303);
    }
    const { cookie: foreign } = await signedIn(other.app);
    assert.equal((await state(foreign)).statusCode, 401, 'signed with another secret');
    // A valid cookie beside a bad one (another path's, say) still counts.
    assert.equal((await state(`${name}=junk; ${cookie}`)).statusCode, 200);
    clock.advance(8 * 3_600_000 - 1);
    assert.equal((await state(cookie)).statusCode, 200, 'just before it expires');
    clock.advance(1);
    assert.equal((await state(cookie)).statusCode, 401, 'expired after 8 h');
  } finally {
    await close();
    await other.close();
  }
});

test('actions need the session’s CSRF token and the page’s origin', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock() });
  try {
    const { cookie, csrf } = await signedIn(app);
    const second = await signedIn(app);
    assert.notEqual(second.csrf, csrf, 'each session its own token');
    const reset = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/_headroom/api/breakers/upstream/reset',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        payload: '{}',
      });
    const refusals: [string, Record<string, string>][] = [
      ['no token', {}],
      ['a wrong token', { 'x-csrf-token': csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }],
      ["another session's token", { 'x-csrf-token': second.csrf }],
      ['a foreign origin', { 'x-csrf-token': csrf, origin: 'http://evil.example' }],
      ['another site', { 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }],
      ['a sibling site', { 'x-csrf-token': csrf, 'sec-fetch-site': 'same-site' }],
    ];
    for (const [what, headers] of refusals) {
      const refused = await reset(headers);
      assert.equal(refused.statusCode, 403, what);
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.json().code, 'HR_CSRF', what);
    }
    const done = await reset({
      'x-csrf-token': csrf,
      origin: 'http://localhost:80',
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().state, 'closed');

    // Sign-out needs the token too, then clears the cookie.
    const signOut = (token: string) =>
      app.inject({
        method: 'POST',
        url: '/_headroom/sign-out',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ csrf_token: token }).toString(),
      });
    assert.equal((await signOut('wrong')).statusCode, 403);
    const out = await signOut(csrf);
    assert.equal(out.statusCode, 303);
    assert.match(
      String(out.headers['set-cookie']),
      /^headroom_ops=; Path=\/_headroom; Max-Age=0; HttpOnly; SameSite=Strict$/,
    );
  } finally {
    await close();
  }
});

test('flag overrides need a reason and are recorded as the page’s session; bad names and values are 4xx', async () => {
  const { app, close } = await opsApp({ clock: new FakeClock() });
  try {
    const { cookie, csrf } = await signedIn(app);
    const post = (url: string, body: unknown) =>
      app.inject({
        method: 'POST',
        url: `/_headroom/api/${url}`,
        headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
    const noReason = await post('flags/suggestions/override', { value: false });
    assert.equal(noReason.statusCode, 400);
    assert.equal(noReason.json().code, 'HR_VALIDATION');
    const wrongType = await post('flags/suggestions/override', { value: 'off', reason: 'test' });
    assert.equal(wrongType.statusCode, 400);
    assert.equal(wrongType.json().field, 'body.value');
    assert.equal((await post('flags/nope/override', { value: false, reason: 'x' })).statusCode, 404);
    assert.equal((await post('breakers/nope/reset', {})).statusCode, 404);
    assert.equal((await post('queues/exports/pause', {})).statusCode, 404, 'no queue registered');
    const off = await post('flags/suggestions/override', { value: false, reason: 'upstream incident' });
    assert.equal(off.statusCode, 200);
    assert.equal(off.json().value, false);
    const admin = await app.inject({
      url: '/admin/flags',
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    const change = admin.json().changes[0];
    assert.equal(change.reason, 'upstream incident');
    assert.match(change.by, /^operator \(ops page, session [A-Za-z0-9_-]{22}\)$/);
    const cleared = await post('flags/suggestions/clear', { reason: 'incident over' });
    assert.equal(cleared.json().cleared, true);
    const invalidated = await post('caches/cases/invalidate', { tenant: 'acme', tags: ['case:1'] });
    assert.deepEqual(invalidated.json(), { cache: 'cases', tenant: 'acme', invalidated: ['case:1'] });
    assert.equal(
      (await post('caches/cases/invalidate', { tags: ['case:1'] })).statusCode,
      400,
      'a tenant is required',
    );
  } finally {
    await close();
  }
});

// biome-ignore lint/suspicious/noExplicitAny: the admin API's JSON, compared whole or read field by field
type Json = any;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// The Prometheus text format, enough of it for these series: name{a="b",...} value.
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

// As the page writes a share: per cent to one decimal, no trailing zero.
const pct = (share: number) => String(Number((share * 100).toFixed(1)));

const sum = (samples: Sample[], name: string, where: Record<string, string>) =>
  samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);

// A route's histogram from /metrics, all codes together, as histogramQuantile takes it.
function bucketsOf(samples: Sample[], route: string): [number, number][] {
  const edges = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== 'http_request_duration_seconds_bucket' || s.labels.route !== route) continue;
    const edge = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    edges.set(edge, (edges.get(edge) ?? 0) + s.value);
  }
  return [...edges.entries()].sort((a, b) => a[0] - b[0]);
}

// The page's own formatting of milliseconds (page-script.ts `fmt.ms`).
const ms = (v: number | null) =>
  v == null ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);

test('the slow statements are read at most once every 15 s, however often pages poll; a failed read is not kept', async () => {
  const clock = new FakeClock();
  let reads = 0;
  let fail = false;
  const slowQueries = async () => {
    reads++;
    if (fail) throw new Error('the database is down');
    return { queries: [{ queryid: String(reads) }] };
  };
  const { app, close } = await opsApp({ clock, page: { slowQueries } });
  try {
    const { cookie } = await signedIn(app);
    const state = async () => (await app.inject({ url: '/_headroom/api/state', headers: { cookie } })).json();
    assert.deepEqual((await state()).slow_queries, { data: { queries: [{ queryid: '1' }] } });
    await state();
    clock.advance(14_999);
    await state();
    assert.equal(reads, 1);
    clock.advance(1);
    fail = true;
    assert.deepEqual((await state()).slow_queries, { error: 'the slow queries could not be read' });
    fail = false;
    assert.deepEqual((await state()).slow_queries, { data: { queries: [{ queryid: '3' }] } });
    assert.equal(reads, 3);
  } finally {
    await close();
  }
});

test('in Chromium: sign in, every view filled with the figures of the admin API and /metrics, actions by click', {
  timeout: 180_000,
}, async (t) => {
  const db = await scratchDatabase();
  const { app, close } = await opsApp({ db: db.pool, page: { pollInterval: 1000 } });
  const browser = await launch();
  const shots = await mkdtemp(join(tmpdir(), 'headroom-ops-page-'));
  try {
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const get = (path: string) => fetch(`${origin}${path}`);
    const admin = async (path: string): Promise<Json> =>
      (
        await fetch(`${origin}/admin/${path}`, { headers: { authorization: `Bearer ${operatorToken}` } })
      ).json();
    const traffic = async () => {
      for (let i = 0; i < 20; i++) await get('/fast');
      for (let i = 0; i < 8; i++) await get('/slow');
      for (const id of ['1', '1', '2']) await get(`/cases/${id}`);
    };
    for (let i = 0; i < 6; i++) assert.ok((await get('/boom')).status >= 500);
    // A noisy tenant past its 3 a minute, a quiet one within it.
    const limited: Record<string, number[]> = { noisy: [], quiet: [] };
    for (const [tenant, times] of [
      ['noisy', 7],
      ['quiet', 2],
    ] as const) {
      for (let i = 0; i < times; i++) {
        limited[tenant]!.push((await fetch(`${origin}/limited`, { headers: { 'x-tenant': tenant } })).status);
      }
    }
    assert.deepEqual(limited, { noisy: [200, 200, 200, 429, 429, 429, 429], quiet: [200, 200] });
    await get('/no-such-route');

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Runs in the page (strings: this file is type-checked without the DOM library).
    await context.addInitScript(
      "globalThis.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => globalThis.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
    );
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
        errors.push(message.text());
    });
    // Anything not to this server is refused and recorded: the page must need nothing else.
    await page.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort();
    });

    // Not signed in: to the form. An analyst is refused; the operator gets in.
    await page.goto(`${origin}/_headroom`);
    assert.equal(new URL(page.url()).pathname, '/_headroom/sign-in');
    await page.fill('input[name="email"]', analyst.email);
    await page.fill('input[name="password"]', analyst.password);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/_headroom/sign-in') && r.request().method() === 'POST'),
      page.click('button:text-is("Sign in")'),
    ]);
    assert.equal(refused.status(), 403);
    assert.match((await page.textContent('body')) ?? '', /needs the operator role/);
    await page.goto(`${origin}/_headroom/sign-in`);
    await page.fill('input[name="token"]', operatorToken);
    await Promise.all([
      page.waitForURL(`${origin}/_headroom`),
      page.click('button:text-is("Sign in with the token")'),
    ]);
    await page.waitForSelector('body[data-drawn="true"]');

    // Traffic while the page polls (its live chart needs two polls with answers between them), then quiet.
    const polls = async () => Number(await page.getAttribute('body', 'data-polls'));
    const first = await polls();
    while ((await polls()) < first + 3) await traffic();
    const quiet = await polls();
    await until(async () => (await polls()) >= quiet + 2, {
      timeout: 10_000,
      what: 'two polls after the traffic',
    });

    // The same moment from every side: the page's state, the admin API and /metrics.
    const state = (await page.evaluate(async () => (await fetch('/_headroom/api/state')).json())) as OpsState;
    const metrics = parseMetrics(await (await get('/metrics')).text());
    assert.deepEqual(state.breakers, (await admin('breakers')).data);
    assert.deepEqual(
      state.bulkheads.map(({ rejected: _, ...b }) => b),
      (await admin('bulkheads')).data,
    );
    assert.equal(
      state.bulkheads[0]?.rejected,
      sum(metrics, 'headroom_concurrency_rejected_total', { limiter: 'search' }),
    );
    assert.deepEqual(state.caches, (await admin('caches')).data);
    assert.deepEqual(state.degrader, (await admin('degrader')).data);
    assert.deepEqual(state.flags?.data, (await admin('flags')).data);
    const withoutAge = (queues: { oldestReadyMs?: number; dead_jobs?: unknown }[]) =>
      queues.map(({ oldestReadyMs: _, dead_jobs: __, ...q }) => q);
    assert.ok(state.queues && 'data' in state.queues);
    assert.deepEqual(withoutAge(state.queues.data), withoutAge((await admin('queues')).data));
    assert.deepEqual(state.failing_webhooks, await admin('webhooks/failing'));
    const rateLimits = await admin('ratelimits/tenants');
    // reset_s counts down with the clock: the two reads differ by the time between them.
    const withoutReset = (rows: { policies: { reset_s?: number }[] }[]) =>
      rows.map((r) => ({ ...r, policies: r.policies.map(({ reset_s: _, ...p }) => p) }));
    assert.equal(state.rate_limits?.since, rateLimits.since);
    assert.deepEqual(withoutReset(state.rate_limits!.data), withoutReset(rateLimits.data));
    assert.deepEqual(
      state.rate_limits?.data.map((r) => [r.tenant, r.admitted, r.refused]),
      [
        ['noisy', 3, 4],
        ['quiet', 2, 0],
      ],
    );
    assert.equal(
      sum(metrics, 'headroom_ratelimit_decisions_total', { policy: 'per-tenant', result: 'limited' }),
      4,
    );
    // The slowest statements of the test's database (the job queue's and the page's own reads among them).
    assert.ok(state.slow_queries && 'data' in state.slow_queries, JSON.stringify(state.slow_queries));
    const statements = state.slow_queries.data as { queries: { queryid: string; calls: number }[] };
    assert.ok(statements.queries.length > 0);
    assert.equal(state.breakers[0]?.state, 'open');
    assert.deepEqual(
      state.breaker_transitions.map(({ breaker, from, to, reason }) => [breaker, from, to, reason]),
      [['upstream', 'closed', 'open', 'failure-rate']],
    );
    assert.equal(sum(metrics, 'headroom_breaker_transitions_total', { breaker: 'upstream' }), 1);
    // The dead letters are the admin API's, without their payloads.
    const imports = state.queues.data.find((q) => q.queue === 'imports')!;
    const [deadJob] = (await admin('queues/imports/dead')).data;
    assert.deepEqual(imports.dead_jobs, [
      {
        id: deadJob.id,
        tenant: 'acme',
        attempts: deadJob.attempts,
        reason: 'error',
        last_error: 'the file is not CSV',
        finished_at: deadJob.finishedAt,
      },
    ]);
    assert.equal(sum(metrics, 'headroom_breaker_state', { breaker: 'upstream' }), 2);
    assert.equal(
      state.caches[0]?.requests.l1.hit,
      sum(metrics, 'headroom_cache_requests_total', { tier: 'l1', result: 'hit' }),
    );
    const build = metrics.find((s) => s.name === 'headroom_build_info')!.labels;
    assert.deepEqual(
      [state.release.service, state.release.version, state.release.commit],
      [build.service, build.version, build.commit],
    );
    assert.equal(
      state.config?.version,
      metrics.find((s) => s.name === 'headroom_config_info')?.labels.version,
    );
    for (const slo of state.slos) {
      const route = slo.route!;
      assert.equal(slo.requests, sum(metrics, 'http_requests_total', { route }), route);
      assert.equal(
        slo.errors,
        metrics
          .filter(
            (s) =>
              s.name === 'http_requests_total' && s.labels.route === route && s.labels.code!.startsWith('5'),
          )
          .reduce((n, s) => n + s.value, 0),
        route,
      );
      const p95 = slo.latency.find((l) => l.percentile === 'p95')!;
      assert.equal(p95.observed_ms, histogramQuantile(bucketsOf(metrics, route), 0.95)! * 1000, route);
      // The first sample was taken at start-up, before any answer: each recent window holds every answer.
      assert.deepEqual(
        slo.burn.map((w) => [w.window_s, w.requests, w.failed, w.burn_rate]),
        [
          [300, slo.requests, slo.errors, slo.burn_rate],
          [3600, slo.requests, slo.errors, slo.burn_rate],
        ],
        route,
      );
    }
    const [serialize] = state.slos[0]!.phases;
    assert.equal(serialize?.phase, 'serialize');
    assert.equal(serialize.budget_ms, 5);
    assert.equal(
      serialize.requests,
      sum(metrics, 'headroom_phase_duration_seconds_count', { route: '/fast', phase: 'serialize' }),
    );
    assert.equal(serialize.requests, state.slos[0]!.requests, 'every answer of /fast serialized a body');
    const slow = state.slos.find((s) => s.name === 'slow')!;
    assert.equal(
      slow.latency.find((l) => l.percentile === 'p95')?.breached,
      true,
      'slow misses its 2 ms p95',
    );
    assert.equal(state.slos.find((s) => s.name === 'boom')?.errors_breached, true);
    assert.ok(state.offenders.by_errors.some((r) => r.route === '/boom'));
    assert.ok(
      !state.offenders.by_latency.some((r) => r.route.startsWith('/_headroom')),
      "the page's own routes are left out",
    );

    // The page shows those figures, red only where a budget is breached.
    const row = (table: string, key: string) =>
      page.$$eval(`#${table} tr[data-key="${key}"] td`, (cells) =>
        cells.map((c) => [c.textContent, c.className]),
      );
    const fast = await row('slo-table', 'fast');
    assert.equal(fast[2]?.[0], String(state.slos[0]!.requests));
    const fastP95 = state.slos[0]!.latency.find((l) => l.percentile === 'p95')!;
    assert.equal(fast[4]?.[0], `${ms(fastP95.observed_ms)} / ${ms(fastP95.budget_ms)}`);
    assert.ok(
      fast.every(([, cls]) => !cls?.includes('breach')),
      'fast holds every budget',
    );
    const slowRow = await row('slo-table', 'slow');
    assert.match(slowRow[4]?.[0] ?? '', / \/ 2\.00 ✗$/);
    assert.match(slowRow[4]?.[1] ?? '', /breach/);
    assert.equal((await row('breakers', 'upstream'))[1]?.[0], 'open');
    const l1 = state.caches[0]!.requests.l1;
    const l1Answers = l1.hit + l1.stale + l1.miss + (l1.error ?? 0);
    const cacheRow = await row('caches', 'cases');
    assert.equal(cacheRow[2]?.[0], String(l1Answers));
    assert.equal(cacheRow[1]?.[0], [l1.hit, l1.stale, l1.miss].map((n) => pct(n / l1Answers)).join(' / '));
    assert.equal(cacheRow[3]?.[0], 'no L2');
    assert.equal(cacheRow[8]?.[0], 'no bus');
    assert.equal((await row('queues', 'exports'))[2]?.[0], '1');
    assert.equal((await row('flags', 'suggestions'))[1]?.[0], 'true');
    assert.equal((await row('slow-routes', 'GET /slow')).length, 5);
    assert.equal((await row('failing-routes', 'GET /boom'))[2]?.[0], String(state.slos[2]!.errors));
    assert.match((await page.textContent('#release-facts')) ?? '', /Version1\.2\.3.*Commitabc1234/s);
    assert.equal(await page.textContent('#bulkheads tr[data-key="search"] td'), 'search');
    // /slow misses its budget: the rule is breaching once a verdict saw enough answers (not long enough to
    // degrade), and then in red.
    const rule = await row('degrader', 'slow-sheds-related');
    assert.deepEqual(rule.slice(0, 2), [
      ['slow-sheds-related', 'text '],
      ['GET /slow', 'text '],
    ]);
    assert.ok(
      (rule[2]?.[0] === 'breaching' && rule[2][1] === 'text breach') ||
        (rule[2]?.[0] === 'normal' && rule[2][1] === 'text '),
      JSON.stringify(rule[2]),
    );
    assert.equal((await row('slo-phases', 'fast serialize'))[2]?.[0], String(serialize.requests));
    assert.equal(
      (await row('breaker-transitions', `${state.breaker_transitions[0]!.at} upstream closed open`))[4]?.[0],
      'failure-rate',
    );
    assert.equal((await row('dead-jobs', `imports ${deadJob.id}`))[5]?.[0], 'the file is not CSV');
    const noisy = await row('rate-limits', 'noisy');
    assert.deepEqual(
      noisy.slice(0, 5).map(([text]) => text),
      ['noisy', '3', '4', '57.1', '100'],
    );
    assert.match(noisy[2]?.[1] ?? '', /breach/);
    assert.equal((await row('rate-limits', 'quiet'))[2]?.[1], '', 'no refusal, no red');
    // pg_stat_statements moves with every poll (the page's own reads are statements too): the rows are there,
    // each with its calls and its share.
    const listed = await page.$$eval('#slow-queries tbody tr[data-key]', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)),
    );
    assert.ok(listed.length > 0 && listed.length <= 5, JSON.stringify(listed));
    assert.ok(listed.every((cells) => /^\d+$/.test(cells[2] ?? '') && /^\d+\.\d$/.test(cells[4] ?? '')));
    const charts = await page.$$eval('#slo-charts figure', (figures) =>
      figures.map((f) => ({
        budget: f.dataset.budget,
        series: f.dataset.series,
        yTicks: f.dataset.yTicks,
        points: Number(f.dataset.points),
      })),
    );
    assert.equal(charts.length, 3);
    assert.deepEqual(
      charts.map((c) => c.budget),
      ['50', '2', '50'],
    );
    assert.ok(
      charts.every((c) => c.series === 'p95 (ms)|budget (ms)' && c.yTicks && c.points >= 2),
      JSON.stringify(charts),
    );
    const drawn = await page.evaluate(() =>
      (
        globalThis as unknown as {
          headroomCharts: { objective: string; uplot: { data: (number | null)[][] } }[];
        }
      ).headroomCharts
        .filter((c) => c.uplot.data[1]!.some((v) => v != null))
        .map((c) => c.objective),
    );
    assert.ok(drawn.includes('slow') && drawn.includes('fast'), `live p95 drawn for ${drawn}`);
    // At 1280 px the page itself never scrolls sideways either.
    assert.equal(
      await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
      0,
    );
    for (const id of ['slos', 'offenders', 'protection', 'cache', 'work', 'release']) {
      await page.locator(`#${id}`).screenshot({ path: join(shots, `${id}-1280.png`) });
    }
    await page.screenshot({ path: join(shots, 'page-1280.png'), fullPage: true });

    // A breaker reset by click: closed, and the transition counted.
    await page.click('button[aria-label="Reset breaker upstream"]');
    await page.waitForSelector('#status:text("Breaker upstream reset.")');
    assert.equal((await admin('breakers')).data[0].state, 'closed');
    const afterReset = parseMetrics(await (await get('/metrics')).text());
    assert.equal(
      sum(afterReset, 'headroom_breaker_transitions_total', {
        breaker: 'upstream',
        from: 'open',
        to: 'closed',
      }),
      1,
    );
    await page.waitForSelector('#breakers tr[data-key="upstream"] td:nth-child(2):text-is("closed")');

    // A flag toggled by click needs a reason, and the audit names the page's session.
    await page.click('button[aria-label="Turn off suggestions"]');
    await page.waitForSelector('#status:text("A reason is required")');
    await page.fill('input[aria-label="Reason for changing suggestions"]', 'upstream incident');
    await page.click('button[aria-label="Turn off suggestions"]');
    await page.waitForSelector('#status:text("Flag suggestions turned off.")');
    const flags = await admin('flags');
    assert.equal(flags.data.find((f: { flag: string }) => f.flag === 'suggestions').value, false);
    assert.equal(flags.changes[0].reason, 'upstream incident');
    assert.match(flags.changes[0].by, /^operator \(ops page, session [A-Za-z0-9_-]{22}\)$/);
    await page.waitForSelector('#flags tr[data-key="suggestions"] td:nth-child(2):text-is("false")');
    await page.waitForSelector('#flag-changes td:text("upstream incident")');

    // The degrader's features kept on by hand: an override of each of its flags, with the reason given.
    await page.fill(
      'input[aria-label="Reason for overriding rule slow-sheds-related"]',
      'drill: keep related',
    );
    await page.click('button[aria-label="Keep the features of rule slow-sheds-related on"]');
    await page.waitForSelector('#status:text("Features of slow-sheds-related kept on.")');
    const related = (await admin('flags')).data.find((f: { flag: string }) => f.flag === 'related');
    assert.deepEqual(related.overrides, { '*': true });
    assert.equal((await admin('flags')).changes[0].reason, 'drill: keep related');

    // A dead job redriven by click: ready again, and gone from the dead letters.
    await page.click(`button[aria-label="Redrive job ${deadJob.id} of queue imports"]`);
    await page.waitForSelector(`#status:text("Job ${deadJob.id} redriven.")`);
    const redriven = (await admin('queues')).data.find((q: { queue: string }) => q.queue === 'imports');
    assert.deepEqual([redriven.dead, redriven.ready], [0, 1]);
    await page.waitForSelector('#dead-jobs td.empty');

    // By keyboard alone: Tab to the queue's pause button, Enter; the focus is visible.
    await page.focus('#invalidate button');
    let focused = '';
    for (let i = 0; i < 40 && focused !== 'Pause queue exports'; i++) {
      await page.keyboard.press('Tab');
      focused = (await page.evaluate("document.activeElement.getAttribute('aria-label') || ''")) as string;
    }
    assert.equal(focused, 'Pause queue exports');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'the focused button shows it');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#status:text("Queue exports paused.")');
    assert.equal((await admin('queues')).data[0].paused, true);

    // Invalidate by tag for one tenant: the next read loads again.
    const loads = (await admin('caches')).data[0].loads.total;
    await page.selectOption('#invalidate select', 'cases');
    await page.fill('#invalidate input[name="tenant"]', 'acme');
    await page.fill('#invalidate input[name="tags"]', 'case:1');
    await page.click('#invalidate button');
    await page.waitForSelector('#status:text("Invalidated case:1 for tenant acme.")');
    await get('/cases/1');
    assert.equal((await admin('caches')).data[0].loads.total, loads + 1);

    // Without the CSRF token, or from another origin: 403.
    const bare = await page.evaluate(async () => {
      const r = await fetch('/_headroom/api/breakers/upstream/isolate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return [r.status, ((await r.json()) as { code: string }).code];
    });
    assert.deepEqual(bare, [403, 'HR_CSRF']);
    const cookie = (await context.cookies()).find((c) => c.name === 'headroom_ops')!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    const csrf = (await page.getAttribute('meta[name="csrf-token"]', 'content'))!;
    const foreign = await fetch(`${origin}/_headroom/api/breakers/upstream/isolate`, {
      method: 'POST',
      headers: {
        cookie: `headroom_ops=${cookie.value}`,
        'x-csrf-token': csrf,
        origin: 'http://evil.example',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.equal(foreign.status, 403);
    assert.equal((await admin('breakers')).data[0].state, 'closed', 'neither isolated the breaker');

    // A 390 px phone: the tables scroll in their own boxes, the page does not.
    await page.setViewportSize({ width: 390, height: 844 });
    const now = await polls();
    await until(async () => (await polls()) > now, { timeout: 10_000, what: 'a poll at 390 px' });
    const overflow = await page.evaluate(`({
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      body: document.body.scrollWidth - document.body.clientWidth,
    })`);
    assert.deepEqual(overflow, { page: 0, body: 0 });
    await page.screenshot({ path: join(shots, 'page-390.png'), fullPage: true });

    // Chromium logs each 4xx it loads: the analyst's refusal and the action without a token, nothing else.
    const refusals = errors.filter((e) => /status of 403/.test(e));
    assert.equal(refusals.length, 2);
    assert.deepEqual(
      errors.filter((e) => !refusals.includes(e)),
      [],
    );
    assert.deepEqual(
      await page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations),
      [],
    );
    const elsewhere = requests.filter((url) => !url.startsWith(`${origin}/`));
    assert.deepEqual(elsewhere, [], 'no request leaves the server');
    assert.ok(requests.some((url) => url.endsWith('/_headroom/assets/uplot.js')));
    t.diagnostic(`screenshots: ${shots}`);
  } finally {
    await browser.close();
    await close();
    await db.close();
  }
});
