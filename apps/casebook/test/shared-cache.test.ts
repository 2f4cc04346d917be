// casebook behind a real nginx proxy_cache set up carelessly (a fallback TTL for 200 and 404, a cache key
// without Authorization): nothing is served from one caller to another, or to anonymous callers.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { systemClock } from '@headroom/core/clock';
import { type NginxServer, startNginx } from '@headroom/dev-servers/nginx';
import { operatorHeaders, startTestApp, type TestApp } from './support/app.ts';

interface Seen {
  status: number;
  cache: string | null;
  control: string | null;
  vary: string | null;
  body: string;
}

interface Route {
  path: string;
  /** Tenant A. @default the acme analyst */
  a?: Record<string, string>;
  /** Tenant B. @default the globex analyst */
  b?: Record<string, string>;
  /** The answer depends on who calls (tenant, role, signed in or not). */
  perCaller: boolean;
  /** The status tenant B must get, when it is known: A's records are a 404 for B. */
  bStatus?: number;
}

type Caller = 'A' | 'B' | 'anonymous' | 'bad token' | 'A again';

/** What each caller saw on one route, in the order they asked. */
interface Walk {
  route: Route;
  seen: Record<Caller, Seen>;
}

let t: TestApp;
let nginx: NginxServer;
let control: Server;
/** A's secrets: no answer to anybody but A may contain any of them. */
let secretsOfA: string[];
let walks: Walk[];

before(async () => {
  // Real time: the suggestions policies must time out on their own here.
  t = await startTestApp({ deps: { clock: systemClock() } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = (t.app.server.address() as AddressInfo).port;
  // An upstream that says nothing about caching and echoes the caller: shows what this nginx does with that.
  control = createServer((request, response) => {
    response.statusCode = request.url?.endsWith('/missing') ? 404 : 200;
    response.end(`control ${request.headers.authorization ?? 'anonymous'} ${randomUUID()}`);
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const controlPort = (control.address() as AddressInfo).port;
  // The careless set-up: the default proxy_cache_key ($scheme$proxy_host$request_uri: no Authorization) and
  // a TTL for 200 and 404 answers that say nothing about caching.
  nginx = await startNginx({
    http: ({ port, prefix }) => `
      proxy_cache_path ${prefix}/cache keys_zone=api:1m;
      server {
        listen 127.0.0.1:${port};
        proxy_cache api;
        proxy_cache_valid 200 404 10m;
        add_header X-Cache-Status $upstream_cache_status always;
        proxy_set_header Host $host;
        location /control/ { proxy_pass http://127.0.0.1:${controlPort}; }
        location / { proxy_pass http://127.0.0.1:${upstream}; }
      }`,
  });

  const acme = bearer(await t.login('analyst@acme.test'));
  const globex = bearer(await t.login('analyst@globex.test'));
  const acmeAdmin = bearer(await t.login('admin@acme.test'));
  const globexAdmin = bearer(await t.login('admin@globex.test'));
  // A's records, found (or made) through the API itself, straight to the app: nginx sees them first below.
  const caseId = (await t.app.inject({ url: '/v1/cases/search?limit=1', headers: acme })).json().data[0].id;
  const caseTitle = (await t.app.inject({ url: `/v1/cases/${caseId}`, headers: acme })).json().title;
  const entityName = `shared-cache entity ${randomUUID()}`;
  const entity = await t.app.inject({
    method: 'POST',
    url: '/v1/entities',
    headers: acme,
    payload: { kind: 'person', name: entityName },
  });
  assert.equal(entity.statusCode, 201, entity.body);
  const keyName = `shared-cache key ${randomUUID()}`;
  const key = await t.app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: acmeAdmin,
    payload: { name: keyName },
  });
  assert.equal(key.statusCode, 201, key.body);
  secretsOfA = [
    'analyst@acme.test',
    'admin@acme.test',
    `"id":${caseId},`,
    caseTitle,
    entityName,
    keyName,
    key.json().prefix,
    '# TYPE ', // the metrics text
  ];

  const routes: Route[] = [
    { path: '/v1/me', perCaller: true },
    { path: '/v1/cases/search', perCaller: true },
    { path: '/v1/cases/search?q=fraud', perCaller: true },
    { path: `/v1/cases/${caseId}`, perCaller: true, bStatus: 404 },
    { path: `/v1/cases/${caseId}?expand=owner.team.org`, perCaller: true, bStatus: 404 },
    { path: `/v1/cases/${caseId}?fields=title`, perCaller: true, bStatus: 404 },
    { path: `/v1/cases/${caseId}/timeline`, perCaller: true, bStatus: 404 },
    { path: `/v1/cases/${caseId}/comments`, perCaller: true, bStatus: 404 },
    { path: `/v1/cases/${caseId}/suggestions`, perCaller: true, bStatus: 404 },
    { path: `/v1/entities/${entity.json().id}`, perCaller: true, bStatus: 404 },
    // Analysts are refused (403); then, on the same URL, admins get their own tenant's keys.
    { path: '/v1/api-keys', perCaller: true },
    { path: '/v1/api-keys', a: acmeAdmin, b: globexAdmin, perCaller: true },
    { path: '/v1/cases/search?limit=abc', perCaller: true }, // 400 for a signed-in caller, 401 otherwise
    { path: '/v1/cases/0', perCaller: true },
    { path: '/v1/nope', perCaller: false },
    { path: '/health', perCaller: false },
    { path: '/health/ready', perCaller: false },
    { path: '/health/live', perCaller: false },
    // Caller A is the operator here; every other caller must be refused.
    { path: '/metrics', a: operatorHeaders, perCaller: true },
  ];
  walks = [];
  for (const route of routes) {
    const a = route.a ?? acme;
    const seen = {
      A: await get(route.path, a),
      B: await get(route.path, route.b ?? globex),
      anonymous: await get(route.path),
      'bad token': await get(route.path, bearer('not-a-token')),
      'A again': await get(route.path, a),
    };
    walks.push({ route, seen });
  }
});

after(async () => {
  await nginx?.stop();
  await new Promise((resolve) => control?.close(resolve));
  await t?.close();
});

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(`${nginx.url}${path}`, { headers });
  return {
    status: res.status,
    cache: res.headers.get('x-cache-status'),
    control: res.headers.get('cache-control'),
    vary: res.headers.get('vary'),
    body: await res.text(),
  };
}

/** Each answer of every walk that `check` objects to, as `<path> as <caller>: <why> [<what was seen>]`. */
function failures(check: (seen: Seen, caller: Caller, walk: Walk) => string | undefined): string[] {
  const found: string[] = [];
  for (const walk of walks) {
    for (const [caller, seen] of Object.entries(walk.seen) as [Caller, Seen][]) {
      const why = check(seen, caller, walk);
      if (why) {
        const headers = `X-Cache-Status: ${seen.cache}, Cache-Control: ${seen.control}, Vary: ${seen.vary}`;
        found.push(`${walk.route.path} as ${caller}: ${why} [${seen.status}; ${headers}]`);
      }
    }
  }
  return found;
}

test('the set-up really is careless: answers without Cache-Control, 200 or 404, go from one caller to the next', async () => {
  for (const path of ['/control/x', '/control/missing']) {
    const first = await get(path, bearer('caller-a'));
    const second = await get(path, bearer('caller-b'));
    assert.equal(first.cache, 'MISS', path);
    assert.equal(second.cache, 'HIT', path);
    assert.equal(second.status, first.status, path);
    assert.match(second.body, /^control Bearer caller-a /, `${path}: caller B gets caller A's answer`);
  }
});

test('as A, B, anonymous, a bad token and A again, on every readable route: nothing comes from the cache', async () => {
  assert.deepEqual(
    failures((seen) => (seen.cache === 'HIT' ? "served from nginx's cache" : undefined)),
    [],
  );
  const log = (await nginx.accessLog()).split('\n').filter((line) => /"GET \/(v1|health|metrics)/.test(line));
  assert.equal(log.length, walks.length * 5, 'one access-log line an answer');
  assert.deepEqual(
    log.filter((line) => / HIT "/.test(line)),
    [],
  );
});

test('no caller but A gets A’s bytes, and each caller gets the status of its own rights', async () => {
  assert.deepEqual(
    failures((seen, caller, { route, seen: { A } }) => {
      if (caller === 'A again')
        return seen.status === A.status ? undefined : `${seen.status}, first ${A.status}`;
      if (caller === 'A') return undefined;
      const secret = secretsOfA.find((candidate) => seen.body.includes(candidate));
      if (secret) return `carries ${secret}`;
      if (route.perCaller && A.status < 300 && seen.body === A.body) return "A's bytes";
      if (caller === 'B' && route.bStatus && seen.status !== route.bStatus) return `not ${route.bStatus}`;
      if (route.path === '/metrics')
        return seen.status === 401 || seen.status === 403 ? undefined : 'not 401/403';
      if (caller !== 'B' && route.perCaller && seen.status !== 401) return 'not 401';
      return undefined;
    }),
    [],
  );
  const metrics = walks.find((walk) => walk.route.path === '/metrics');
  assert.ok(metrics);
  assert.equal(metrics.seen.A.status, 200, 'the operator reads /metrics');
  assert.match(metrics.seen.A.body, /# TYPE /);
});

test('every answer says Cache-Control: private or no-store', () => {
  assert.deepEqual(
    failures((seen) => (/\b(private|no-store)\b/i.test(seen.control ?? '') ? undefined : 'neither')),
    [],
  );
});

test('every answer that depends on the caller says Vary: authorization', () => {
  assert.deepEqual(
    failures((seen, _caller, { route }) =>
      route.perCaller && !/\bauthorization\b/i.test(seen.vary ?? '') ? 'no Vary: authorization' : undefined,
    ),
    [],
  );
});
