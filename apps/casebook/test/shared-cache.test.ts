// casebook behind a real nginx proxy_cache set up carelessly (a fallback TTL for 200 and 404, a cache key
// without Authorization): nothing is served from one caller to another, or to anonymous callers.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { systemClock } from '@headroom/core/clock';
import { type NginxServer, startNginx } from '@headroom/dev-servers/nginx';
import { operatorHeaders, startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let nginx: NginxServer;
let control: Server;
let acme: string;
let globex: string;
let acmeCase: number;

before(async () => {
  // Real time: the suggestions policies must time out on their own here.
  t = await startTestApp({ deps: { clock: systemClock() } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = (t.app.server.address() as AddressInfo).port;
  // An upstream that sends no Cache-Control at all: proves this nginx does cache by its fallback TTL.
  control = createServer((_request, response) => response.end(`control ${Math.random()}`));
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const controlPort = (control.address() as AddressInfo).port;
  nginx = await startNginx({
    http: ({ port, prefix }) => `
      proxy_cache_path ${prefix}/cache keys_zone=api:1m;
      server {
        listen 127.0.0.1:${port};
        proxy_cache api;
        proxy_cache_valid 200 404 10m;
        add_header X-Cache-Status $upstream_cache_status always;
        location /control/ { proxy_pass http://127.0.0.1:${controlPort}; }
        location / { proxy_set_header Host $host; proxy_pass http://127.0.0.1:${upstream}; }
      }`,
  });
  acme = await t.login('analyst@acme.test');
  globex = await t.login('analyst@globex.test');
  acmeCase = (await t.as(acme, { url: '/v1/cases/search?limit=1' })).json().data[0].id;
});

after(async () => {
  await nginx?.stop();
  await new Promise((resolve) => control?.close(resolve));
  await t?.close();
});

interface Seen {
  status: number;
  cache: string | null;
  control: string | null;
  vary: string | null;
  body: string;
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

test('the set-up really caches: an answer without Cache-Control is served from nginx the second time', async () => {
  const first = await get('/control/x');
  const second = await get('/control/x');
  assert.equal(first.cache, 'MISS');
  assert.equal(second.cache, 'HIT');
  assert.equal(second.body, first.body);
});

test('every readable route, as tenant A, tenant B, anonymous and A again: no HIT, nothing of A for anyone else', async () => {
  const paths = [
    '/v1/me',
    '/v1/cases/search',
    '/v1/cases/search?q=fraud',
    `/v1/cases/${acmeCase}`,
    `/v1/cases/${acmeCase}?expand=owner.team.org`,
    `/v1/cases/${acmeCase}?fields=title`,
    `/v1/cases/${acmeCase}/timeline`,
    `/v1/cases/${acmeCase}/comments`,
    `/v1/cases/${acmeCase}/suggestions`,
    '/v1/api-keys',
    '/v1/cases/search?limit=1000',
    '/v1/nope',
    '/health',
    '/health/ready',
    '/health/live',
    '/metrics',
  ];
  const a = { authorization: `Bearer ${acme}` };
  const b = { authorization: `Bearer ${globex}` };
  const failures: string[] = [];
  let answers = 0;
  for (const path of paths) {
    const asA = await get(path, a);
    const asB = await get(path, b);
    const anonymous = await get(path);
    const again = await get(path, a);
    const asOperator = path === '/metrics' ? await get(path, operatorHeaders) : undefined;
    for (const [who, seen] of Object.entries({ asA, asB, anonymous, again, asOperator })) {
      if (!seen) continue;
      answers++;
      if (seen.cache === 'HIT') failures.push(`${path} ${who}: served from nginx's cache`);
      if (!/\b(private|no-store)\b/.test(seen.control ?? '')) {
        failures.push(`${path} ${who}: Cache-Control ${seen.control}`);
      }
      if (/\bprivate\b/.test(seen.control ?? '') && !/authorization/i.test(seen.vary ?? '')) {
        failures.push(`${path} ${who}: private without Vary: authorization`);
      }
    }
    if (asA.status === 200 && path.startsWith('/v1/')) {
      if (asB.body === asA.body) failures.push(`${path}: tenant B got tenant A's bytes`);
      if (anonymous.body === asA.body) failures.push(`${path}: an anonymous caller got tenant A's bytes`);
      if (anonymous.status !== 401) failures.push(`${path}: anonymous answered ${anonymous.status}`);
    }
    if (path === '/metrics') {
      for (const seen of [asA, asB, anonymous, again]) {
        if (seen.status !== 401) failures.push(`/metrics without the operator token: ${seen.status}`);
      }
      if (asOperator?.status !== 200) failures.push(`/metrics as the operator: ${asOperator?.status}`);
    }
  }
  console.log(`# nginx ${paths.length} paths × callers: ${answers} answers, ${failures.length} crossings`);
  assert.deepEqual(failures, []);
  assert.doesNotMatch(await nginx.accessLog(), / HIT "GET \/(v1|health|metrics)/);
});
