// The short forms of `npm run chaos`, as CI runs them: chaos/run.ts as a child process (it starts PostgreSQL,
// redis-server, nginx, the enrichment simulator and two casebook processes of its own), exit 0 and the figures of
// its JSON file. The overload drill is not among them yet: on this 2-core machine its admitted p99 and its
// recovery fail (see chaos/README.md), and a red `npm test` for that would hide every other result.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DrillResult } from '../chaos/drill.ts';

test('npm run chaos -- --short (redis, postgres-pause): no failed request, no write lost, back on their own', {
  timeout: 170_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'headroom-chaos-test-'));
  const out = join(dir, 'chaos.json');
  try {
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '..', 'chaos', 'run.ts'),
        '--short',
        '--only',
        'redis',
        '--only',
        'postgres-pause',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    console.log(output.replace(/^/gm, '# '));
    assert.equal(code, 0, output);

    const report = JSON.parse(await readFile(out, 'utf8')) as { pass: boolean; drills: DrillResult[] };
    assert.equal(report.pass, true);
    const drill = (name: string) => {
      const found = report.drills.find((d) => d.drill === name);
      assert.ok(found, `no drill ${name} in ${out}`);
      return found;
    };
    for (const d of report.drills) {
      assert.ok(d.writes.acknowledged > 0, `${d.drill}: no write acknowledged`);
      assert.equal(d.writes.lost, 0, `${d.drill}: acknowledged writes lost`);
    }
    const redis = drill('redis');
    assert.equal(redis.failed, 0);
    assert.equal(redis.statuses.none ?? 0, 0);
    assert.ok(redis.recoveryMs !== undefined && redis.recoveryMs <= 15_000);
    const pause = drill('postgres-pause');
    assert.equal(pause.failed, 0);
    assert.ok(pause.recoveryMs !== undefined && pause.recoveryMs <= 5_000);
    assert.ok((pause.statuses['503'] ?? 0) > 0, 'the pause refused nothing: was PostgreSQL paused?');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
