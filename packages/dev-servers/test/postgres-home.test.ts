// Clusters kept outside DATA_DIR (as root) are removed once their DATA_DIR link is gone, and only then.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sweepOrphanClusters } from '../src/postgres.ts';

test('a cluster whose data directory link was deleted is swept; linked ones and running ones stay', async () => {
  const root = await mkdtemp(join(tmpdir(), 'headroom-sweep-'));
  try {
    const home = join(root, 'home');
    await mkdir(home);
    const cluster = async (name: string, origin: string, linked: boolean, pid?: number) => {
      const dir = join(home, name);
      await mkdir(dir);
      await writeFile(join(dir, 'PG_VERSION'), '18\n');
      if (pid !== undefined) await writeFile(join(dir, 'postmaster.pid'), `${pid}\n`);
      await writeFile(`${dir}.origin`, `${origin}\n`);
      if (linked) {
        await mkdir(join(origin, '..'), { recursive: true });
        await symlink(dir, origin);
      }
      return dir;
    };
    const kept = await cluster('postgres-aaa', join(root, 'app1', '.data', 'postgres'), true);
    const orphan = await cluster('postgres-bbb', join(root, 'app2', '.data', 'postgres'), false);
    const running = await cluster(
      'postgres-ccc',
      join(root, 'app3', '.data', 'postgres'),
      false,
      process.pid,
    );
    const notes: string[] = [];
    const removed = await sweepOrphanClusters(home, (line) => notes.push(line));
    assert.deepEqual(removed, [orphan]);
    assert.ok(!existsSync(orphan) && !existsSync(`${orphan}.origin`));
    assert.ok(existsSync(kept) && existsSync(running));
    assert.match(notes[0] ?? '', /removed .*postgres-bbb: its data directory .* is gone/);
    assert.deepEqual(await sweepOrphanClusters(join(root, 'absent'), () => {}), [], 'no home, nothing to do');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
