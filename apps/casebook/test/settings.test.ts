// casebook.yaml reloaded by a running casebook (a real server.ts process, no restart): a Kubernetes ConfigMap's
// symlink swap changes a tier's page cap, its rate limit and a flag at the next request; an invalid file is
// refused with every problem logged, the config in force stays, and /health and /metrics say so. Plus the
// example file shipped in the repo: it is valid and equal to the built-in defaults.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { loadSpec } from '@headroom/core/slo';
import { until } from '@headroom/dev-servers/until';
import { casebookFlagDefinitions } from '../src/flags.ts';
import { defaultSettingsDir, flagDefinitions, loadSettings, settingsFile } from '../src/settings.ts';
import { testOperatorToken } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/server-process.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A ConfigMap volume: `..data` → `..<version>/`, and the file a symlink through `..data`. */
async function configMap(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'casebook-config-'));
  dirs.push(dir);
  let n = 0;
  const write = async (text: string) => {
    const version = `..2026_12_05_${n++}`;
    await mkdir(join(dir, version));
    await writeFile(join(dir, version, settingsFile), text);
    // The kubelet's swap: a new symlink renamed over ..data (one atomic rename).
    await symlink(version, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  await write(yaml);
  await symlink(join('..data', settingsFile), join(dir, settingsFile));
  return { dir, write };
}

test('the example casebook.yaml in the repo is valid and holds the built-in defaults', async () => {
  const example = await loadSettings({ dir: defaultSettingsDir, clock: new FakeClock(), watch: false });
  const empty = await configMap('{}\n');
  const defaults = await loadSettings({ dir: empty.dir, clock: new FakeClock(), watch: false });
  try {
    const { flags, degrade, ...rest } = example.get();
    const { flags: noFlags, degrade: noDegrade, ...builtIn } = defaults.get();
    assert.deepEqual(rest, builtIn, 'the example documents the defaults, no more, no less');
    assert.deepEqual(
      flagDefinitions(example.get()),
      flagDefinitions(defaults.get()),
      'the flags as built in',
    );
    assert.deepEqual(Object.keys(flags), Object.keys(casebookFlagDefinitions), 'every flag named');
    assert.deepEqual(noDegrade, {});
    // The degrade timings it shows are headroom.yaml's own.
    const spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
    assert.deepEqual(
      Object.keys(degrade),
      spec.degrade.map((rule) => rule.name),
    );
    for (const rule of spec.degrade) {
      assert.equal(degrade[rule.name]?.breachFor, rule.breachFor, rule.name);
      assert.equal(degrade[rule.name]?.restoreFor, rule.restoreFor, rule.name);
    }
    assert.ok(noFlags);
  } finally {
    await example.close();
    await defaults.close();
  }
});

test('a running casebook applies a ConfigMap swap without a restart (page cap, quota, flag); an invalid file is refused and the config in force stays', async () => {
  const db = await createTestDatabase();
  const config = await configMap('{}\n');
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    SEED_PROFILE: 'test',
    CONFIG_DIR: config.dir,
    LOG_LEVEL: 'info',
  });
  try {
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
    });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const search = async () => {
      const res = await fetch(`${server.url}/v1/cases/search?limit=50`, { headers: auth });
      assert.equal(res.status, 200);
      const { data } = (await res.json()) as { data: { id: number }[] };
      return { items: data.length, first: data[0]!.id, limit: res.headers.get('ratelimit-policy') };
    };
    const suggestions = async () => {
      const res = await fetch(`${server.url}/v1/cases/${(await search()).first}/suggestions`, {
        headers: auth,
      });
      assert.equal(res.status, 200);
      return res.headers.get('x-headroom-degraded');
    };
    const before = await search();
    assert.equal(before.items, 50, 'acme is enterprise: pages of 50 by default');
    assert.equal(await suggestions(), null);
    const pid = server.child.pid;

    await config.write(`tiers:
  enterprise:
    pageCap: 7
    rateLimit: { limit: 12000, window: 60000, burst: 400 }
flags:
  suggestions: { default: false }
`);
    await until(async () => (await search()).items === 7, { what: 'the new page cap', timeout: 10_000 });
    assert.equal(await suggestions(), 'suggestions', 'the flag turned off by the file');
    const after = await search();
    assert.equal(after.limit, '"enterprise";q=12000;w=60', 'the new quota is the policy in force');
    assert.equal(before.limit, '"enterprise";q=30000;w=60');
    assert.equal(server.child.pid, pid, 'the same process');
    assert.match(server.output(), /config applied/);

    // Invalid: two problems. Refused, both named; the last good config stays.
    await config.write(`tiers:
  enterprise:
    pageCap: 0
cache:
  ttl: soon
`);
    await until(() => /config refused/.test(server.output()), {
      what: 'the refusal logged',
      timeout: 10_000,
    });
    assert.match(server.output(), /tiers\/enterprise\/pageCap|tiers\.enterprise\.pageCap/);
    assert.match(server.output(), /cache\/ttl|cache\.ttl/);
    assert.equal((await search()).items, 7, 'the config in force stays');
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string }[]>;
    };
    assert.equal(health.checks['config:version']?.[0]?.status, 'warn');
    const metrics = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${testOperatorToken}` } })
    ).text();
    assert.match(metrics, /headroom_config_reloads_total\{result="applied"\} 1/);
    assert.match(metrics, /headroom_config_reloads_total\{result="rejected"\} 1/);
  } finally {
    await server.stop();
    await db.close();
  }
});
