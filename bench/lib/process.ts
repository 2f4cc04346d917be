// Child processes for benches: start a server, wait for the line that says it is ready, stop it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

export interface Started {
  child: ChildProcess;
  /** Milliseconds from spawn to the ready line. */
  readyMs: number;
  /** The first capture group of the ready pattern (a URL, say), if any. */
  match: string | undefined;
  stop(): Promise<void>;
}

/** Spawns `node <script>` (the repo's Node 24) and resolves when stdout matches `ready`. */
export function startNode(
  script: string,
  options: {
    env?: NodeJS.ProcessEnv;
    ready: RegExp;
    timeoutMs?: number;
    args?: string[];
    /** Linux: run on these CPUs only (`taskset -c`), so that a generator on the others cannot take its CPU. */
    cpus?: string;
  },
): Promise<Started> {
  const started = performance.now();
  const command = [process.execPath, script, ...(options.args ?? [])];
  if (options.cpus !== undefined) command.unshift('taskset', '-c', options.cpus);
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(
        new Error(`${script} not ready after ${options.timeoutMs ?? 300_000} ms:\n${output.slice(-4000)}`),
      );
    }, options.timeoutMs ?? 300_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = options.ready.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ child, readyMs: performance.now() - started, match: match[1], stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${output.slice(-4000)}`));
    });
  });
}

/** The operator token benches start casebook with: its `/metrics` needs it. */
export const benchOperatorToken = 'bench-operator-token-not-secret';

/** Headers that read casebook's `/metrics`. */
export const operatorHeaders = { authorization: `Bearer ${benchOperatorToken}` };

/**
 * Linux: keeps this process and every thread it starts from now on (worker threads inherit it) to `cpus`
 * (`taskset -c` syntax). False where taskset is missing.
 */
export function pinThisProcess(cpus: string): boolean {
  return (
    spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' }).status === 0
  );
}
