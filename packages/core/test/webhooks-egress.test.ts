// Webhook egress and signatures, as a receiver and the network see them: forbidden address ranges refused
// before any packet leaves (names resolved by an injected resolver, never sent anywhere but loopback), the
// vetted address being the one connected to, no redirect followed, and signatures checked by the npm
// `standardwebhooks` verifier (the spec authors' library), through a secret rotation.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { FakeClock, systemClock } from '../src/clock/index.ts';
import { isHeadroomError } from '../src/errors/index.ts';
import {
  checkWebhookUrl,
  deliverWebhook,
  forbiddenRange,
  generateWebhookSecret,
  type Resolver,
  standardWebhooksAttempts,
  standardWebhooksRetryDelay,
  vettedLookup,
  webhookHeaders,
} from '../src/webhooks/index.ts';

const seen: { url: string; local: string }[] = [];
// Listens on 127.0.0.2 only: a connection reaching it used the address the lookup vetted.
const receiver = createServer((req, res) => {
  seen.push({ url: req.url ?? '', local: req.socket.localAddress ?? '' });
  if (req.url === '/moved') {
    res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
});
let port = 0;
before(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.2', resolve));
  port = (receiver.address() as AddressInfo).port;
});
after(() => receiver.close());

const reasonOf = (e: unknown) => (isHeadroomError(e) ? `${e.code}:${e.context.reason}` : String(e));
const fixed =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

test('every range that is not public unicast is forbidden, addresses that embed IPv4 included', () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', 'loopback'],
    ['127.9.9.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:10.0.0.1', 'ipv4Mapped'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2002:a00:1::', '6to4'],
    ['2001::1', 'teredo'],
    ['2001:db8::1', 'reserved'],
    ['not an address', 'invalid'],
    ['93.184.216.34', undefined],
    ['2606:4700:4700::1111', undefined],
  ];
  for (const [address, range] of cases) assert.equal(forbiddenRange(address), range, address);
});

test('registration: a forbidden URL is a 422 naming its reason; a public one passes', async () => {
  const refused = async (url: string, options: Parameters<typeof checkWebhookUrl>[1] = {}) => {
    try {
      await checkWebhookUrl(url, options);
      return 'passed';
    } catch (error) {
      assert.ok(isHeadroomError(error) && error.status === 422, String(error));
      return reasonOf(error);
    }
  };
  assert.equal(await refused('ftp://hooks.example.com/x'), 'HR_WEBHOOK_URL_FORBIDDEN:scheme');
  assert.equal(await refused('not a url'), 'HR_WEBHOOK_URL_FORBIDDEN:invalid-url');
  assert.equal(await refused('https://user:pw@hooks.example.com/'), 'HR_WEBHOOK_URL_FORBIDDEN:credentials');
  assert.equal(await refused('http://127.0.0.1:8080/'), 'HR_WEBHOOK_URL_FORBIDDEN:loopback');
  assert.equal(await refused('http://[::ffff:10.0.0.1]/'), 'HR_WEBHOOK_URL_FORBIDDEN:ipv4Mapped');
  assert.equal(await refused('http://[fd00::1]/'), 'HR_WEBHOOK_URL_FORBIDDEN:uniqueLocal');
  const internal = { resolver: fixed('93.184.216.34', '10.0.0.5') };
  assert.equal(
    await refused('https://hooks.example.com/', internal),
    'HR_WEBHOOK_URL_FORBIDDEN:private',
    'any forbidden answer',
  );
  const metadata = { resolver: fixed('169.254.169.254') };
  assert.equal(await refused('http://metadata.example/', metadata), 'HR_WEBHOOK_URL_FORBIDDEN:linkLocal');
  const broken: Resolver = async () => {
    throw new Error('ENOTFOUND');
  };
  assert.equal(
    await refused('https://nowhere.example/', { resolver: broken }),
    'HR_WEBHOOK_URL_FORBIDDEN:unresolvable',
  );
  assert.equal(await refused('https://hooks.example.com/', { resolver: fixed('93.184.216.34') }), 'passed');
  const local = { resolver: fixed('127.0.0.2'), allowedHosts: [`receiver.test:${port}`] };
  assert.equal(await refused(`http://receiver.test:${port}/hook`, local), 'passed', 'an allowed host:port');
  assert.equal(
    await refused('http://receiver.test:9/hook', local),
    'HR_WEBHOOK_URL_FORBIDDEN:loopback',
    'the allowance is for that port only',
  );
});

test('delivery: the connection goes to the address the lookup vetted, looked up once; forbidden ones never connect; no redirect followed', async () => {
  let lookups = 0;
  const resolver: Resolver = async (host) => {
    lookups++;
    assert.equal(host, 'receiver.test');
    return [{ address: '127.0.0.2', family: 4 }];
  };
  const allowedAgent = new Agent({
    connect: { lookup: vettedLookup(port, { resolver, allowedHosts: [`receiver.test:${port}`] }) },
  });
  const ok = await request(`http://receiver.test:${port}/hook`, { dispatcher: allowedAgent });
  assert.equal(ok.statusCode, 200);
  await ok.body.text();
  assert.equal(lookups, 1);
  assert.deepEqual(seen.at(-1), { url: '/hook', local: '127.0.0.2' });

  const moved = await request(`http://receiver.test:${port}/moved`, { dispatcher: allowedAgent });
  assert.equal(moved.statusCode, 302, 'a redirect is an answer, not followed');
  await moved.body.text();
  assert.equal(seen.at(-1)?.url, '/moved');
  await allowedAgent.close();

  const before = seen.length;
  const strictAgent = new Agent({ connect: { lookup: vettedLookup(port, { resolver }) } });
  await assert.rejects(
    request(`http://receiver.test:${port}/hook`, { dispatcher: strictAgent }),
    (error: unknown) =>
      reasonOf(error) === 'HR_WEBHOOK_URL_FORBIDDEN:loopback' ||
      reasonOf((error as { cause?: unknown }).cause) === 'HR_WEBHOOK_URL_FORBIDDEN:loopback',
  );
  assert.equal(seen.length, before, 'the receiver saw nothing');
  await strictAgent.close();
});

test('signatures verify with the standardwebhooks package, with either secret during a rotation', () => {
  const current = generateWebhookSecret();
  const previous = generateWebhookSecret();
  assert.match(current, /^whsec_[A-Za-z0-9+/]{32}$/);
  const body = JSON.stringify({ type: 'case.created', timestamp: new Date().toISOString(), data: { id: 7 } });
  const headers = webhookHeaders({
    id: 'msg_2x7Rkq',
    timestamp: Math.floor(Date.now() / 1000),
    body,
    secrets: [current, previous],
  });
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  for (const secret of [current, previous]) {
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
  }
  assert.throws(
    () => new Webhook(generateWebhookSecret()).verify(body, headers),
    'another secret does not verify',
  );
  assert.throws(() => new Webhook(current).verify(`${body} `, headers), 'a changed body does not verify');
  assert.throws(() => webhookHeaders({ id: 'a.b', timestamp: 1, body, secrets: [current] }), /no dot/);
});

test('deliverWebhook: a signed POST the standardwebhooks verifier accepts; 2xx ok, 410 gone, 503 Retry-After, the answer capped at 1 KB', async () => {
  const got: { headers: Record<string, string>; body: string }[] = [];
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.writeHead(204).end();
  const hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      got.push({ headers: req.headers as Record<string, string>, body });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.2', resolve));
  const hookPort = (hooks.address() as AddressInfo).port;
  const secret = generateWebhookSecret();
  const message = {
    id: 'msg_1',
    type: 'case.created',
    data: { id: 7, title: 'Card testing' },
    occurredAt: new Date('2026-12-05T10:00:00Z'),
    url: `http://hooks.test:${hookPort}/in`,
    secrets: [secret],
  };
  const options = {
    clock: systemClock(),
    resolver: fixed('127.0.0.2'),
    allowedHosts: [`hooks.test:${hookPort}`],
  };
  try {
    const ok = await deliverWebhook(message, options);
    assert.equal(ok.ok, true);
    assert.equal(ok.status, 204);
    const sent = got.at(-1)!;
    assert.deepEqual(new Webhook(secret).verify(sent.body, sent.headers), {
      type: 'case.created',
      timestamp: '2026-12-05T10:00:00.000Z',
      data: { id: 7, title: 'Card testing' },
    });
    assert.equal(sent.headers['webhook-id'], 'msg_1');

    answer = (res) => res.writeHead(410).end('gone');
    assert.deepEqual(
      (({ ok, status, gone }) => ({ ok, status, gone }))(await deliverWebhook(message, options)),
      { ok: false, status: 410, gone: true },
    );
    answer = (res) => res.writeHead(503, { 'retry-after': '120' }).end();
    assert.equal((await deliverWebhook(message, options)).retryAfterMs, 120_000);
    answer = (res) => res.writeHead(500).end('x'.repeat(1_000_000));
    const big = await deliverWebhook(message, options);
    assert.equal(big.ok, false);
    assert.equal(big.response?.length, 1024, 'the first 1 KB kept, the rest read and dropped');
    answer = (res) => {
      // An answer without end: the attempt stops reading after 64 KB instead of waiting out its 15 s.
      res.writeHead(500);
      const flood = setInterval(() => res.write('y'.repeat(16_384)), 1);
      res.on('close', () => clearInterval(flood));
    };
    const endless = await deliverWebhook(message, options);
    assert.deepEqual([endless.status, endless.error, endless.response?.length], [500, undefined, 1024]);
    answer = (res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
    assert.equal((await deliverWebhook(message, options)).status, 302, 'no redirect followed');

    const before = got.length;
    const refused = await deliverWebhook(message, {
      ...options,
      resolver: fixed('10.0.0.9'),
      allowedHosts: [],
    });
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /HR_WEBHOOK_URL_FORBIDDEN: .*private/);
    assert.equal(got.length, before, 'nothing reached the receiver');
    const scheme = await deliverWebhook({ ...message, url: 'ftp://hooks.test/' }, options);
    assert.match(scheme.error ?? '', /HR_WEBHOOK_URL_FORBIDDEN/);
  } finally {
    hooks.close();
  }
});

test('deliverWebhook: an answer that never comes ends the attempt at its time limit', async () => {
  const silent = createServer(() => {
    // never answers
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.2', resolve));
  const silentPort = (silent.address() as AddressInfo).port;
  const clock = new FakeClock();
  try {
    const attempt = deliverWebhook(
      {
        id: 'msg_2',
        type: 'case.updated',
        data: {},
        occurredAt: new Date(0),
        url: `http://slow.test:${silentPort}/`,
        secrets: [generateWebhookSecret()],
      },
      { clock, timeout: 15_000, resolver: fixed('127.0.0.2'), allowedHosts: ['slow.test'] },
    );
    await new Promise((resolve) => setTimeout(resolve, 50)); // the request is out
    clock.advance(15_000);
    const result = await attempt;
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /no answer within 15000 ms/);
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
});

test('the Standard Webhooks retry schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, each ±10%', () => {
  const middle = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((attempt) =>
    standardWebhooksRetryDelay(attempt, () => 0.5),
  );
  assert.deepEqual(
    middle,
    [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000],
  );
  assert.equal(
    standardWebhooksRetryDelay(2, () => 0),
    4_500,
    '-10%',
  );
  assert.equal(
    standardWebhooksRetryDelay(2, () => 0.999_999),
    5_500,
    '+10%',
  );
  assert.equal(
    standardWebhooksRetryDelay(50, () => 0.5),
    86_400_000,
    'past the schedule: its last wait',
  );
  assert.equal(standardWebhooksAttempts, 11);
});
