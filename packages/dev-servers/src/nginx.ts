// A real nginx (Debian's) on a free loopback port, in the foreground, with every file in a throw-away prefix.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './ports.ts';

export interface NginxOptions {
  /**
   * What goes inside `http { ... }`: the `server` blocks and other `http`-level directives (`proxy_cache_path`,
   * say), given the port to listen on and the prefix directory (put cache paths under it). Every `listen` must
   * be `127.0.0.1:<port>`: anything else is refused before nginx starts.
   */
  http: (context: { port: number; prefix: string }) => string;
  /** The nginx binary. @default '/usr/sbin/nginx' */
  binary?: string;
  /** Connections the worker may hold, clients' and upstreams' together (two per proxied request). @default 256 */
  workerConnections?: number;
}

export interface NginxServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The prefix directory: configuration, pid, logs, cache and temp files live here. */
  readonly prefix: string;
  /** The access log so far: `<status> <$upstream_cache_status> "<request line>" <upstream address>` a line. */
  accessLog(): Promise<string>;
  /** What nginx wrote to its error log (stderr) so far. */
  errorLog(): string;
  /** Graceful stop (SIGQUIT; SIGKILL after 5 s), waiting for the exit; removes the prefix. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground on a free port of 127.0.0.1, with its error log on stderr, an access log
 * that records `$upstream_cache_status`, and the caller's `http` block. As root, workers run as `nobody`
 * (nginx gives them the cache and temp directories it creates), or as root when the prefix is out of their reach.
 *
 * @example
 * const nginx = await startNginx({
 *   http: ({ port }) => `server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:3000; } }`,
 * });
 * await fetch(`${nginx.url}/health`);
 * await nginx.stop();
 */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  const binary = options.binary ?? '/usr/sbin/nginx';
  if (!existsSync(binary)) throw new Error(`${binary} not found: install it (apt-get install nginx)`);
  const port = await freePort();
  const prefix = await mkdtemp(join(tmpdir(), 'headroom-nginx-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  try {
    const http = options.http({ port, prefix });
    checkListen(http, port);
    // Workers only need to traverse the prefix: nginx creates the cache and temp directories and chowns them.
    await chmod(prefix, 0o755);
    const confFile = join(prefix, 'nginx.conf');
    await writeFile(confFile, config(http, prefix, workerUser(prefix), options.workerConnections ?? 256));
    // `-e stderr`: without it nginx opens /var/log/nginx/error.log before it has read the configuration.
    const started = spawn(binary, ['-p', prefix, '-c', confFile, '-e', 'stderr', '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = started;
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    await waitForPort(port, started, () => stderr);
  } catch (error) {
    if (child) await halt(child, 'SIGKILL');
    await rm(prefix, { recursive: true, force: true });
    throw error;
  }
  const running = child;
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    prefix,
    accessLog: () => readFile(join(prefix, 'access.log'), 'utf8').catch(() => ''),
    errorLog: () => stderr,
    stop() {
      stopping ??= halt(running, 'SIGQUIT').then(() => rm(prefix, { recursive: true, force: true }));
      return stopping;
    },
  };
}

function config(http: string, prefix: string, user: string | undefined, workerConnections: number): string {
  return [
    user ? `user ${user};` : '',
    'worker_processes 1;',
    'error_log stderr warn;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `events { worker_connections ${workerConnections}; }`,
    'http {',
    `  log_format headroom '$status $upstream_cache_status "$request" $upstream_addr';`,
    `  access_log ${join(prefix, 'access.log')} headroom;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${join(prefix, `${kind}_temp`)};`,
    ),
    http,
    '}',
  ].join('\n');
}

/** Who the workers run as: nginx ignores `user` unless started by root. */
function workerUser(prefix: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // A TMPDIR under /root, say: `nobody` could not reach the cache, so the workers stay root (loopback only).
  return traversableByOthers(dirname(prefix)) ? 'nobody nogroup' : 'root root';
}

function traversableByOthers(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

/** Only 127.0.0.1 on the port given: a test proxy must never be reachable from elsewhere. */
function checkListen(http: string, port: number): void {
  const listens = [...http.matchAll(/(?:^|[\s;{}])listen\s+([^\s;]+)/g)].map((match) => match[1]);
  if (listens.length === 0)
    throw new Error(`options.http: no "listen 127.0.0.1:${port};" in its server blocks`);
  for (const address of listens) {
    if (address !== `127.0.0.1:${port}`) {
      throw new Error(`options.http: "listen ${address}" is not 127.0.0.1:${port}, the only address allowed`);
    }
  }
}

async function halt(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  // No pid: spawning failed, there is nothing to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  let failed: Error | undefined;
  child.once('error', (error) => {
    failed = error;
  });
  child.once('exit', (code, signal) => {
    failed ??= new Error(`nginx exited during start-up (code ${code}, signal ${signal}):\n${log()}`);
  });
  for (let attempt = 0; attempt < 300; attempt++) {
    if (failed) throw failed;
    if (await accepts(port)) return;
    // Start-up takes milliseconds; yield to the event loop between attempts.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port}:\n${log()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
