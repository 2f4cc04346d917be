// `headroom report` through the binary: a saved run rendered to all three reports, the Markdown against a
// baseline run (--baseline).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { reportArtifact } from './support/report-artifact.ts';

const bin = join(import.meta.dirname, '../src/bin.ts');
// Exit 0 or 1 is the gate's verdict, returned; anything else is a failure of the command.
const headroom = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    () => 0,
    (error: { code: number; stderr: string }) => {
      if (error.code === 1) return 1;
      throw new Error(`exit ${error.code}: ${error.stderr}`);
    },
  );

test('headroom report writes HTML, JUnit and Markdown, the Markdown against --baseline', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'headroom-report-bin-'));
  const file = (name: string) => join(dir, name);
  await writeFile(file('base.json'), JSON.stringify(reportArtifact({ failing: true }).artifact));
  await writeFile(file('pr.json'), JSON.stringify(reportArtifact({ failing: true, scale: 1.2 }).artifact));
  await writeFile(file('passing.json'), JSON.stringify(reportArtifact({ failing: false }).artifact));
  const failed = await headroom([
    'report',
    file('pr.json'),
    '--markdown',
    file('pr.md'),
    '--baseline',
    file('base.json'),
  ]);
  assert.equal(failed, 1, 'rendering a run whose gate failed exits 1, as the run did');
  await headroom(['report', file('pr.json'), '--junit', file('junit.xml'), '--html', file('report.html')]);
  assert.equal(await headroom(['report', file('passing.json'), '--markdown', file('passing.md')]), 0);
  const md = await readFile(file('pr.md'), 'utf8');
  assert.match(md, /\| route \| samples \| check \| observed \/ limit \| vs base \| verdict \|/);
  assert.match(
    md,
    /\| `GET \/fast` \| 3000 \| p95 ≤ 40 ms \| [\d.]+ ms \/ 40 ms \| \+(19|20|21)\.\d% \([\d.]+ ms\) \| pass \|/,
  );
  assert.match(
    await readFile(file('junit.xml'), 'utf8'),
    /<testcase classname="GET \/slow" name="p95 ≤ 5 ms" time="0">/,
  );
  const html = await readFile(file('report.html'), 'utf8');
  assert.match(html, /var uPlot=function/, 'uPlot inlined');
  assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)=/, 'nothing loaded from elsewhere');
  await assert.rejects(
    headroom([
      'report',
      file('pr.json'),
      '--markdown',
      file('x.md'),
      '--baseline',
      file('a'),
      '--baseline',
      file('b'),
    ]),
    /exit 2: headroom: headroom report takes one --baseline/,
  );
});
