// A hot-reloaded config inside the plugin: its reloads counted by result, its version in /metrics and /health,
// a refused file a warning (the config in force stays).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createConfig } from '@headroom/core/config';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

test('reloads by result, the version in force in /metrics and /health; a refused file warns', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'headroom-config-'));
  const schema = {
    type: 'object',
    properties: { pageCap: { type: 'integer', minimum: 1, default: 20 } },
    additionalProperties: false,
  };
  await writeFile(join(dir, 'app.json'), JSON.stringify({ pageCap: 25 }));
  const config = await createConfig<{ pageCap: number }>({ schema, dir, file: 'app.json', watch: false });
  const app = Fastify();
  await app.register(headroom, { service: 's', version: '1', defaultMetrics: false });
  app.headroom.config.add(config);
  try {
    const first = config.version;
    let health = (await app.inject('/health')).json();
    assert.deepEqual(health.checks['config:version'], [{ status: 'pass', output: first }]);
    await writeFile(join(dir, 'app.json'), JSON.stringify({ pageCap: 50 }));
    assert.equal((await config.reload()).result, 'applied');
    await writeFile(join(dir, 'app.json'), JSON.stringify({ pageCap: 0 }));
    assert.equal((await config.reload()).result, 'rejected');
    assert.equal(config.get().pageCap, 50, 'the config in force stays');
    health = (await app.inject('/health')).json();
    assert.equal(health.status, 'warn');
    assert.match(health.checks['config:version'][0].output, /refused/);
    const metrics = (await app.inject('/metrics')).body;
    assert.match(metrics, /headroom_config_reloads_total\{result="applied"\} 1/);
    assert.match(metrics, /headroom_config_reloads_total\{result="rejected"\} 1/);
    assert.match(
      metrics,
      new RegExp(`headroom_config_info\\{version="${config.version}",checksum="[0-9a-f]{12}"\\} 1`),
    );
    assert.notEqual(config.version, first);
  } finally {
    await app.close();
    await config.close();
    await rm(dir, { recursive: true, force: true });
  }
});
