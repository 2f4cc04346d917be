// A real nginx (Debian's) on a free loopback port, in the foreground, with every file in a throw-away prefix.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface NginxOptions {
  /**
   * The `server { ... }` blocks and other `http`-level directives, given the port to listen on and the prefix
   * directory (for cache paths). Listen on `127.0.0.1:<port>` only.
   */
  http: (context: { port: number; prefix: string }) => string;
  /** The nginx binary. @default '/usr/sbin/nginx' */
  binary?: string;
}

export interface NginxServer {
  readonly port: number;
  readonly url: string;
  /** The prefix directory: logs, cache and temp files live here. */
  readonly prefix: string;
  /** The access log so far (the format `headroom` logs `$upstream_cache_status` and the status). */
  accessLog(): Promise<string>;
  /** Graceful stop (SIGQUIT), waiting for the exit; removes the prefix directory. */
  stop(): Promise<void>;
}

/**
 * Starts nginx with `error_log` to stderr, an access log with the cache status, and the caller's `http` block.
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
  const prefix = await mkdtemp(join(tmpdir(), 'headroom-nginx-'));
  // Workers run as `nobody` when started by root: they must reach the prefix (cache, temp files).
  await chmod(prefix, 0o777);
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const conf = [
    root ? 'user nobody nogroup;' : '',
    'worker_processes 1;',
    'error_log stderr warn;',
    `pid ${join(prefix, 'nginx.pid')};`,
    'events { worker_connections 256; }',
    'http {',
    '  log_format headroom \'$status $upstream_cache_status "$request" $http_authorization\';',
    `  access_log ${join(prefix, 'access.log')} headroom;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${join(prefix, `${kind}_temp`)};`,
    ),
    options.http({ port, prefix }),
    '}',
  ].join('\n');
  const confFile = join(prefix, 'nginx.conf');
  await writeFile(confFile, conf);
  const child = spawn(binary, ['-p', prefix, '-c', confFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  try {
    await waitForPort(port, child, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(prefix, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    prefix,
    accessLog: () => readFile(join(prefix, 'access.log'), 'utf8').catch(() => ''),
    async stop() {
      await halt(child);
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

async function halt(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  for (let attempt = 0; attempt < 300; attempt++) {
    if (exited) throw new Error(`nginx exited during start-up:\n${log()}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`nginx did not listen on ${port}:\n${log()}`);
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
