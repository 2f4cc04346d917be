// The release under test in a load run's artifact: read from the target's own headroom_build_info (through a
// protected /metrics with a token), or named by flags; a target that cannot say leaves it out and says why.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { HeadroomError } from '@headroom/core/errors';
import { headroom } from '@headroom/fastify';
import Fastify from 'fastify';
import type { RunArtifact } from '../src/artifact.ts';
import { buildInfo } from '../src/release.ts';

const bin = join(import.meta.dirname, '..', 'src', 'bin.ts');
const app = Fastify();
let target = '';
let dir = '';

before(async () => {
  await app.register(headroom, {
    service: 'shop',
    version: '2.4.1',
    commit: '0123456789abcdef',
    defaultMetrics: false,
    metricsAuthorize: (request) => {
      if (request.headers.authorization !== 'Bearer scrape-token') {
        throw new HeadroomError('HR_UNAUTHORIZED', 'a token is needed', { status: 401 });
      }
    },
  });
  app.get('/ping', async () => ({ ok: true }));
  target = await app.listen({ port: 0, host: '127.0.0.1' });
  dir = await mkdtemp(join(tmpdir(), 'headroom-release-'));
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: `${error.stdout}${error.stderr}`,
    }),
  );

async function load(
  name: string,
  extra: string[],
): Promise<{ code: number; stdout: string; artifact: RunArtifact }> {
  const scenario = join(dir, `${name}.yaml`);
  await writeFile(
    scenario,
    `name: ${name}\ntarget: ${target}\nstages: [{ name: s, duration: 1s, rate: 20/s }]\nflows: [{ name: ping, steps: [{ method: GET, path: /ping }] }]\n`,
  );
  const out = join(dir, `${name}.json`);
  const { code, stdout } = await run(['load', scenario, '--out', out, ...extra]);
  return { code, stdout, artifact: JSON.parse(await readFile(out, 'utf8')) as RunArtifact };
}

test('read from the target’s headroom_build_info, through its protected /metrics', async () => {
  const markdown = join(dir, 'from-metrics.md');
  const { code, stdout, artifact } = await load('from-metrics', [
    '--metrics-token',
    'scrape-token',
    '--markdown',
    markdown,
  ]);
  assert.equal(code, 0, stdout);
  assert.deepEqual(artifact.release, { version: '2.4.1', commit: '0123456789abcdef', source: 'metrics' });
  assert.match(stdout, /release: 2\.4\.1 \(commit 0123456789abcdef, from the target's \/metrics\)/);
  assert.match(
    await readFile(markdown, 'utf8'),
    /^service under test: release `2\.4\.1`, commit `0123456789ab`$/m,
  );
});

test('flags win; a /metrics that refuses leaves the release out and says why, and the run goes on', async () => {
  const named = await load('from-flags', ['--release-version', '3.0.0-rc.1', '--release-commit', 'feedface']);
  assert.deepEqual(named.artifact.release, { version: '3.0.0-rc.1', commit: 'feedface', source: 'flags' });
  const refused = await load('refused', []);
  assert.equal(refused.code, 0, refused.stdout);
  assert.equal(refused.artifact.release, undefined);
  assert.match(refused.stdout, /release: unknown \(.*\/metrics answered 401/);
});

test('buildInfo reads the labels whatever their order and escapes', () => {
  assert.deepEqual(buildInfo('# HELP x\nheadroom_build_info{commit="a\\"b",service="s",version="1"} 1\n'), {
    version: '1',
    commit: 'a"b',
  });
  assert.equal(buildInfo('http_requests_total 3\n'), undefined);
});
