// casebook's server.ts as a real child process, for tests that need several instances or a real start.

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

import { testOperatorToken } from './app.ts';

const server = join(import.meta.dirname, '..', '..', 'src', 'server.ts');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts server.ts and resolves with its URL once it prints the ready banner. */
export async function startServerProcess(env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const child = spawn(process.execPath, [server], {
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'warn',
      OPERATOR_TOKEN: testOperatorToken,
      SHUTDOWN_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /casebook is ready at (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    child,
    url,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
