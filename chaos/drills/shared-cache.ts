// Shared cache: a second, real nginx in front of both instances with a careless proxy_cache (the default key, which
// leaves out Authorization, and fallback TTLs for answers that say nothing about caching), under load from three
// tenants and anonymous callers on the same cacheable URLs. Not one answer may go from one tenant to another or to
// an anonymous caller: a probe reads every answer it gets and checks that it is its caller's (or a 401), and the
// nginx access log must show no answer of the load served from the cache.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNginx } from '@headroom/dev-servers/nginx';
import type { Cluster } from '../cluster.ts';
import {
  addCounts,
  check,
  type Drill,
  drillResult,
  failedCount,
  mergeCells,
  noWriteLost,
  sleepUntil,
  statusCounts,
} from '../drill.ts';
import { runLoad } from '../load.ts';
import { startWriter, verifyWrites } from '../probe.ts';

const slugs = ['acme', 'globex', 'initech'] as const;
const anonymous = 'anonymous';
const terms = ['fraud', 'phishing', 'chargeback', 'invoice'];
/** The probe's pace: at most one answer read every 4 ms, beside the load. */
const everyMs = 4;

export const sharedCache: Drill = {
  name: 'shared-cache',
  proves:
    'a careless nginx proxy_cache (no Authorization in the key, 10 min fallback TTL) in front: 0 answers served across tenants or to anonymous callers',
  async run(cluster: Cluster, { short }) {
    const started = performance.now();
    const seconds = short ? 10 : 30;
    const rate = short ? 150 : 200;
    const owners = new Map<number, string>();
    for (const row of (
      await cluster.pool.query<{ id: number; slug: string }>(
        'SELECT c.id, t.slug FROM cases c JOIN tenants t ON t.id = c.tenant_id',
      )
    ).rows)
      owners.set(row.id, row.slug);
    // Five owned cases of each tenant; every caller asks for all of them, so each URL is asked for by all.
    const { rows } = await cluster.pool.query<{ id: number }>(
      `SELECT id FROM (SELECT c.id, row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.id) AS n
         FROM cases c WHERE c.owner_id IS NOT NULL) owned WHERE n <= 5 ORDER BY id`,
    );
    const caseIds = rows.map((row) => row.id);
    const vars = { caseIds, terms };
    // The same URLs for every caller: the load's (templates) and the probe's (each one in turn).
    const templates = {
      'GET /v1/me': '/v1/me',
      'GET /v1/cases/search': `/v1/cases/search?q=\${pick(vars.terms)}&limit=20`,
      'GET /v1/cases/:id': `/v1/cases/\${pick(vars.caseIds)}?expand=owner`,
      'GET /v1/cases/:id/comments': `/v1/cases/\${pick(vars.caseIds)}/comments`,
    };
    const paths = [
      '/v1/me',
      ...terms.map((q) => `/v1/cases/search?q=${q}&limit=20`),
      ...caseIds.map((id) => `/v1/cases/${id}?expand=owner`),
      ...caseIds.map((id) => `/v1/cases/${id}/comments`),
    ];
    const tokens: Record<string, string> = {};
    const headers: Record<string, Record<string, string>> = { [anonymous]: {} };
    for (const slug of slugs) {
      tokens[slug] = await cluster.login(`analyst@${slug}.test`);
      headers[slug] = { authorization: `Bearer ${tokens[slug]}` };
    }
    const callers = Object.keys(headers);

    // An upstream that says nothing about caching and echoes its caller: shows that this nginx caches what it is
    // not told not to, so that nothing served from its cache below is casebook's doing.
    const control = createServer((request, response) => {
      response.end(`control ${request.headers.authorization ?? anonymous} ${randomUUID()}`);
    });
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    const controlPort = (control.address() as AddressInfo).port;
    const nginx = await startNginx({
      http: ({ port, prefix }) =>
        [
          `  proxy_cache_path ${prefix}/cache keys_zone=shared:10m;`,
          '  upstream casebook {',
          ...cluster.instances.map((i) => `    server ${new URL(i.url).host} max_fails=0;`),
          '    keepalive 32;',
          '  }',
          '  server {',
          `    listen 127.0.0.1:${port};`,
          // The careless part: the default key ($scheme$proxy_host$request_uri) and a TTL for whatever the
          // upstream does not forbid.
          '    proxy_cache shared;',
          '    proxy_cache_valid 200 404 10m;',
          '    proxy_cache_valid any 1m;',
          '    add_header X-Cache-Status $upstream_cache_status always;',
          `    location /_control/ { proxy_pass http://127.0.0.1:${controlPort}; }`,
          '    location / {',
          '      proxy_pass http://casebook;',
          '      proxy_http_version 1.1;',
          '      proxy_set_header Connection "";',
          '      proxy_next_upstream off;',
          '    }',
          '  }',
        ].join('\n'),
      workerConnections: 1024,
    }).catch((error: Error) => {
      control.close();
      throw error;
    });
    try {
      const viaControl = async (caller: string) => {
        const res = await fetch(`${nginx.url}/_control/x`, { headers: headers[caller]! });
        return { cache: res.headers.get('x-cache-status'), body: await res.text() };
      };
      const first = await viaControl('acme');
      const second = await viaControl('globex');
      const careless = second.cache === 'HIT' && second.body === first.body;
      const writer = startWriter(nginx.url, tokens.acme!, cluster.caseIds.slice(180, 190), {
        drill: 'shared-cache',
        everyMs: 100,
      });
      let loading = true;
      const checking = checkAnswers(nginx.url, callers, paths, headers, owners, () => loading);
      // One run a caller, all at once: the engine names its cells by route template, not by flow.
      const runs = await Promise.all(
        callers.map((caller) =>
          runLoad(
            {
              name: `shared-cache-${caller}`,
              target: nginx.url,
              stages: [{ name: 'load', seconds, rate: rate / callers.length }],
              flows: Object.entries(templates).map(([name, path]) => ({
                name,
                weight: 1,
                steps: [{ method: 'GET', path, headers: headers[caller]! }],
              })),
              connections: 16,
            },
            vars,
          ),
        ),
      ).finally(() => {
        loading = false;
      });
      const checked = await checking;
      const ledger = await writer.stop();
      await verifyWrites(cluster.pool, ledger);

      // Every answer nginx gave, the load's included: none may have come from its cache.
      const log = (await nginx.accessLog()).split('\n').filter((line) => / "GET \/v1\//.test(line));
      const hits = log.filter((line) => / HIT "/.test(line));
      const byCaller = (caller: string) => mergeCells(runs[callers.indexOf(caller)]!.cells, caller);
      // The load: a tenant gets 200 for its own records and 404 for others'; an anonymous caller only 401.
      const anon = byCaller(anonymous);
      const anonWrong = anon.count - (anon.codes[401] ?? 0);
      const tenantWrong = failedCount(statusCounts(slugs.map(byCaller)), [404]);
      const statuses = addCounts(
        addCounts(statusCounts(callers.map(byCaller)), ledger.statuses),
        checked.statuses,
      );
      const checks = [
        check(
          'the set-up is careless',
          careless,
          careless
            ? 'an answer without Cache-Control went from acme to globex (HIT): nginx caches what it is not told not to'
            : `the control answer was not served from the cache (${second.cache}): the drill proves nothing`,
        ),
        check(
          'every answer the probe read was its caller’s',
          checked.wrong.length === 0 && checked.count > 0,
          `${checked.wrong.length} wrong of ${checked.count} read (${callers.join(', ')} on ${paths.length} URLs)`,
        ),
        check(
          'nothing served from the cache',
          hits.length === 0 && log.length > 0,
          `${hits.length} of ${log.length} answers in nginx's access log were cache HITs`,
        ),
        check(
          'the load: 401 to anonymous callers, 200/404 to tenants',
          anonWrong === 0 && tenantWrong === 0,
          `${anonWrong} anonymous answers not 401, ${tenantWrong} tenant answers neither 2xx nor 404`,
        ),
        noWriteLost(ledger),
      ];
      return drillResult('shared-cache', {
        checks,
        statuses,
        failed: anonWrong + tenantWrong + checked.wrong.length + failedCount(ledger.statuses),
        ledger,
        recoveryMs: undefined,
        durationMs: performance.now() - started,
        notes: [
          ...checked.wrong.slice(0, 10).map((line) => `probe saw: ${line}`),
          ...hits.slice(0, 5).map((line) => `cache HIT: ${line}`),
          `${rate} requests/s for ${seconds} s through the caching nginx (${callers.length} callers, ${paths.length} URLs each); achieved ${runs.map((r) => r.stages[0]!.achievedRate.toFixed(0)).join(' / ')}; the probe read ${checked.count} answers`,
        ],
      });
    } finally {
      await nginx.stop();
      control.close();
    }
  },
};

/**
 * Reads each caller's answer on each path in turn, one request at a time while `going()`, and says what is wrong
 * with any: an anonymous caller must get 401; a tenant its own records (200) and 404 for others', with no other
 * tenant's address anywhere in the body.
 */
async function checkAnswers(
  origin: string,
  callers: readonly string[],
  paths: readonly string[],
  headers: Record<string, Record<string, string>>,
  owners: ReadonlyMap<number, string>,
  going: () => boolean,
): Promise<{ count: number; wrong: string[]; statuses: Record<string, number> }> {
  const wrong: string[] = [];
  const statuses: Record<string, number> = {};
  let count = 0;
  for (let n = 0; going(); n++) {
    const next = performance.now() + everyMs;
    // Callers vary fastest, so the same URL is asked by each caller in a row: what a careless cache serves on.
    const caller = callers[n % callers.length]!;
    const path = paths[Math.floor(n / callers.length) % paths.length]!;
    let status = 'none';
    let why: string | undefined;
    try {
      const res = await fetch(`${origin}${path}`, {
        headers: headers[caller]!,
        signal: AbortSignal.timeout(5_000),
      });
      const body = await res.text();
      status = String(res.status);
      why = judge(caller, path, res.status, body, owners);
      if (why) why += ` [X-Cache-Status: ${res.headers.get('x-cache-status')}] ${body.slice(0, 200)}`;
    } catch (error) {
      why = `no answer: ${(error as Error).message}`;
    }
    count++;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (why) wrong.push(`GET ${path} as ${caller}: ${why}`);
    await sleepUntil(next);
  }
  return { count, wrong, statuses };
}

/** What is wrong with `caller`'s answer on `path`, if anything. */
function judge(
  caller: string,
  path: string,
  status: number,
  body: string,
  owners: ReadonlyMap<number, string>,
): string | undefined {
  if (caller === anonymous) return status === 401 ? undefined : `${status}, not 401`;
  const stranger = slugs.find((slug) => slug !== caller && body.includes(`@${slug}.test`));
  if (stranger) return `carries an address of ${stranger}`;
  const id = Number(/^\/v1\/cases\/(\d+)/.exec(path)?.[1]);
  if (id) {
    const mine = owners.get(id) === caller;
    if (status !== (mine ? 200 : 404))
      return `${status}, not ${mine ? 200 : 404} (case of ${owners.get(id)})`;
    if (!mine) return undefined;
    if (path.includes('expand=owner')) {
      const detail = JSON.parse(body) as { id: number; owner?: { email?: string } };
      if (detail.id !== id) return `the detail of case ${detail.id}`;
      if (!detail.owner?.email?.endsWith(`@${caller}.test`)) return `owner ${detail.owner?.email}`;
    }
    return undefined;
  }
  if (status !== 200) return `${status}, not 200`;
  if (path === '/v1/me') {
    const me = JSON.parse(body) as { tenant?: { slug?: string } };
    return me.tenant?.slug === caller ? undefined : `the tenant ${me.tenant?.slug}`;
  }
  const page = JSON.parse(body) as { data: { id: number }[] };
  const foreign = page.data.find((row) => owners.get(row.id) !== caller);
  return foreign ? `case ${foreign.id} of ${owners.get(foreign.id)}` : undefined;
}
