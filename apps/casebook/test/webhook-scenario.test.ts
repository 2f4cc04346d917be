// The webhooks load scenario, shortened, through the `headroom` CLI against casebook's server.ts and the
// README's receiver (both real processes): the run is judged against headroom.yaml with no failed request, and
// every event the writes caused reaches the receiver with a signature that verifies.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '@headroom/dev-servers/ports';
import { until } from '@headroom/dev-servers/until';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { parse, stringify } from 'yaml';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/server-process.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const casebook = join(import.meta.dirname, '..');

test('scenarios/webhooks.yaml: judged with no failed request, and every event is delivered, signed', async () => {
  const port = await freePort();
  const receiver = spawn(
    process.execPath,
    [join(casebook, 'scripts', 'webhook-receiver.ts'), '--raw', '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  let buffered = '';
  receiver.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  await until(() => lines.some((line) => line.includes('listening')), { what: 'the receiver' });
  const db = await createTestDatabase();
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    SEED_PROFILE: 'test',
    WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`,
    QUOTA_SCALE: '100',
  });
  const dir = await mkdtemp(join(tmpdir(), 'webhook-scenario-'));
  try {
    const scenario = parse(await readFile(join(casebook, 'scenarios', 'webhooks.yaml'), 'utf8'));
    scenario.target = server.url;
    scenario.spec = join(casebook, 'headroom.yaml');
    scenario.vars.receiver = `http://127.0.0.1:${port}/casebook`;
    scenario.stages = [
      { name: 'warm-up', duration: '1s', rate: '2/s', judge: false },
      { name: 'steady', duration: '4s', rate: '10/s' },
    ];
    const file = join(dir, 'webhooks.yaml');
    await writeFile(file, stringify(scenario));
    const cli = spawn(process.execPath, [join(root, 'packages', 'cli', 'src', 'bin.ts'), 'load', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout!.on('data', (chunk) => {
      output += chunk;
    });
    cli.stderr!.on('data', (chunk) => {
      output += chunk;
    });
    const [code] = await once(cli, 'exit');
    // Judged against headroom.yaml (0 pass, 1 a budget breached: latency on a busy machine is not this test's
    // business); never refused as bad input, and no request failed or broke a check.
    assert.ok(code === 0 || code === 1, output);
    for (const route of ['POST /v1/cases', 'POST /v1/cases/:id/comments', 'PATCH /v1/cases/:id']) {
      const row = output.split('\n').find((line) => line.startsWith('| steady | `' + route + '`'));
      assert.ok(row, `${route} was loaded and judged:\n${output}`);
      const cells = row.split('|').map((cell) => cell.trim());
      assert.deepEqual(
        [cells.at(-3), cells.at(-2)],
        ['0', '0'],
        `no 5xx, no network error, no failed check: ${row}`,
      );
    }

    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const events = async () =>
        (
          await pool.query(
            `SELECT count(*)::int AS events,
               (SELECT count(*)::int FROM headroom.webhook_deliveries WHERE state <> 'delivered') AS undelivered
             FROM headroom.webhook_events`,
          )
        ).rows[0] as { events: number; undelivered: number };
      await until(async () => (await events()).undelivered === 0, {
        timeout: 20_000,
        what: 'every delivery',
      });
      const { events: count } = await events();
      const secret = (await pool.query('SELECT secret FROM headroom.webhook_endpoints')).rows[0]
        .secret as string;
      const received = lines
        .filter((line) => line.includes('"path"'))
        .map((line) => JSON.parse(line) as { headers: Record<string, string>; body: string });
      const ids = new Set<string>();
      for (const r of received) {
        new Webhook(secret).verify(r.body, r.headers);
        ids.add(r.headers['webhook-id']!);
      }
      assert.ok(count >= 3 * 40 * 0.9, `the writes caused events (${count})`);
      assert.equal(ids.size, count, 'every event reached the receiver');
    } finally {
      await pool.end();
    }
  } finally {
    await server.stop();
    receiver.kill('SIGTERM');
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
