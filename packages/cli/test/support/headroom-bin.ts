// Runs the real `headroom` binary from the repository root and never throws: the exit code, stdout and stderr
// come back for the test to judge.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The repository root. */
export const root = join(import.meta.dirname, '../../../..');
const bin = join(root, 'packages/cli/src/bin.ts');

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * @example
 * const { code, stdout, stderr } = await headroom(['load', file, '--target', url]);
 */
export function headroom(args: string[]): Promise<BinResult> {
  return promisify(execFile)(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '--conditions=@headroom/source', CI: 'true' },
    maxBuffer: 16 << 20,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/**
 * @example
 * const { code, stdout } = await headroomDb('top', ['--database-url', url, '--json']);
 */
export function headroomDb(subcommand: string, args: string[]): Promise<BinResult> {
  return headroom(['db', subcommand, ...args]);
}
