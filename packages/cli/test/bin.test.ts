import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin.ts');
const scenario = join(root, 'apps/casebook/scenarios/normal.yaml');

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );

test('load refuses a bad --warm-connections or --workers before sending anything (exit 2, the flag named)', async () => {
  for (const [flag, value] of [
    ['--warm-connections', '-1'],
    ['--warm-connections', 'many'],
    ['--workers', '0'],
  ] as const) {
    const { code, stderr } = await run([
      'load',
      scenario,
      '--target',
      'http://127.0.0.1:9',
      `${flag}=${value}`,
    ]);
    assert.equal(code, 2, `${flag} ${value}`);
    assert.match(stderr, new RegExp(`${flag} must be a whole number`));
  }
});
