// A real redis-server on a free loopback port, which a test can stop, kill and start again.

import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './ports.ts';

export interface RedisServerOptions {
  /** Port on 127.0.0.1; kept across restarts. @default a free port */
  port?: number;
  /** The redis-server binary. @default 'redis-server' from PATH */
  binary?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** Starts the server again on the same port (after stop or kill). */
  start(): Promise<void>;
  /** Graceful shutdown (SIGTERM), waiting for the process to exit. */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL): what a crash or an OOM kill looks like to clients. */
  kill(): Promise<void>;
}

/**
 * Starts `redis-server` with no persistence on a free port.
 *
 * @example
 * const redis = await startRedis();
 * await redis.kill();   // clients see the connection drop
 * await redis.start();  // same port, empty data
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const binary = options.binary ?? 'redis-server';
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--protected-mode', 'no', '--loglevel', 'warning');
    const started = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      started.once('error', (error) => {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(missing ? new Error(`${binary} not found: install it (apt-get install redis-server)`) : error);
      });
      waitForPing(port, started).then(resolve, reject);
    });
  };

  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    if (!running) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    start,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
  };
}

/** Resolves once the server answers PING; rejects if the process exits first. */
async function waitForPing(port: number, process: ChildProcess): Promise<void> {
  let exited = false;
  process.once('exit', () => {
    exited = true;
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited) throw new Error(`redis-server on port ${port} exited during start-up`);
    if (await ping(port)) return;
    // Start-up is a matter of milliseconds; yield to the event loop between attempts.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
