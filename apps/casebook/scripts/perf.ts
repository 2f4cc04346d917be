// `npm run perf`: start casebook (embedded PostgreSQL, demo data), run the golden path with the headroom
// CLI, gate it against headroom.yaml, stop casebook; the exit code is the gate's.

import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const server = spawn(process.execPath, [join(root, 'src', 'server.ts')], {
  env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn' },
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
