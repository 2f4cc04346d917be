// `npm run perf`: start casebook (embedded PostgreSQL, demo data), turn on Server-Timing for every caller (the
// `server_timing` flag, so the gate can judge the spec's phase budgets), run the golden path with the headroom
// CLI, gate it against headroom.yaml, stop casebook; the exit code is the gate's.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const operatorToken = process.env.OPERATOR_TOKEN ?? randomBytes(24).toString('base64url');
const server = spawn(process.execPath, [join(root, 'src', 'server.ts')], {
  env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', OPERATOR_TOKEN: operatorToken },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let output = '';
  server.stdout.on('data', (chunk) => {
    output += chunk;
    const match = /casebook is ready at (http:\/\/\S+)/.exec(output);
    if (match) resolve(match[1]!);
  });
  server.once('exit', (code) => reject(new Error(`casebook exited with ${code} before it was ready`)));
});
server.stdout.resume();
const flag = await fetch(`${url}/admin/flags/server_timing`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    value: true,
    reason: 'npm run perf: the gate judges phase budgets from Server-Timing',
  }),
});
if (!flag.ok) throw new Error(`turning on server_timing failed: ${flag.status} ${await flag.text()}`);

const cli = join(root, '..', '..', 'packages', 'cli', 'src', 'bin.ts');
const scenario = join(root, 'scenarios', 'golden-path.yaml');
const load = spawn(process.execPath, [cli, 'load', scenario, '--target', url, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
const code = await new Promise<number | null>((resolve) =>
  load.once('exit', (exitCode) => resolve(exitCode)),
);
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
process.exitCode = code ?? 1;
