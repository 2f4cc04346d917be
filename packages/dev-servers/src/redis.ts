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
  let port = options.port ?? (await freePort());
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
      waitForOwnServer(port, started).then(resolve, reject);
    });
  };

  // A free port can be taken again before redis-server binds it (by another test's server coming back on the
  // port it had): then this one exits at start-up, and a fresh port is tried, when the caller named none.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      if (options.port !== undefined || attempt >= 5 || !String(error).includes('exited during start-up')) {
        throw error;
      }
      port = await freePort();
    }
  }
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

  async function halt(signal: NodeJS.Signals) {
    const running = child;
    if (!running) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  }
}

/**
 * Resolves once the server on `port` answers and says it is `process` (INFO's process_id): a PONG from another
 * test's redis-server that holds the port would otherwise pass for this one. Rejects if the process exits first.
 */
async function waitForOwnServer(port: number, process: ChildProcess): Promise<void> {
  let exited = false;
  process.once('exit', () => {
    exited = true;
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited) throw new Error(`redis-server on port ${port} exited during start-up`);
    if ((await serverPid(port)) === process.pid) return;
    // Start-up is a matter of milliseconds; yield to the event loop between attempts.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`redis-server on port ${port} did not answer`);
}

/** The process id the redis-server on `port` reports, or undefined when nothing answers. */
function serverPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      text += data.toString();
      const found = /process_id:(\d+)\r\n/.exec(text);
      if (found || text.startsWith('-')) {
        socket.destroy();
        resolve(found ? Number(found[1]) : undefined);
      }
    });
    socket.once('error', () => resolve(undefined));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}
