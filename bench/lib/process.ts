// Child processes for benches: start a server, wait for the line that says it is ready, stop it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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
  // BENCH_NODE_FLAGS: Node flags for the child (say `--cpu-prof --cpu-prof-dir=/tmp/prof`, which NODE_OPTIONS refuses).
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const command = [process.execPath, ...flags, script, ...(options.args ?? [])];
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

const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Linux: CPU seconds (user + system) used so far by `pid` itself (not its children); undefined without /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * Linux: CPU seconds (user + system) of the children this process has waited for (`/proc/self/stat` cutime +
 * cstime); undefined without /proc. Around a `wrk()` run, what wrk spent (it is the only child to exit then).
 */
export function reapedChildrenCpuSeconds(): number | undefined {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * Linux: CPU seconds (user + system) used so far by `pid` and every live process below it (a server and the
 * PostgreSQL it started, say), from `/proc/<pid>/stat`, with what each has waited for of its exited children
 * (a backend that ended still counts, with the postmaster). Undefined where `/proc` is missing.
 */
export function treeCpuSeconds(pid: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = new Map<number, { parent: number; ticks: number }>();
  for (const name of entries) {
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid … utime stime: fields after the command, which may hold spaces and parentheses.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // utime + stime, plus cutime + cstime: a descendant that has exited (a PostgreSQL backend) still counts,
      // with the parent that waited for it.
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      stats.set(Number(name), { parent: Number(fields[1]), ticks });
    } catch {
      // exited while we read
    }
  }
  const inTree = (candidate: number): boolean => {
    for (let at = candidate, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === pid) return true;
      at = stats.get(at)?.parent ?? 0;
    }
    return false;
  };
  let ticks = 0;
  for (const [candidate, stat] of stats) if (inTree(candidate)) ticks += stat.ticks;
  return ticks / clockTicks;
}

/**
 * Signs in to casebook as one of its demo logins and returns the bearer headers of the session.
 *
 * @example
 * const headers = await demoLogin(casebook.match!); // analyst@acme.test
 */
export async function demoLogin(
  origin: string,
  email = 'analyst@acme.test',
): Promise<{ authorization: string }> {
  const res = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'headroom-demo' }),
  });
  if (res.status !== 200) throw new Error(`login of ${email} answered ${res.status}: ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}
