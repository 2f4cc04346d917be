// A real PgBouncer (Debian's `pgbouncer`, 1.18 here) on a free loopback port in front of a PostgreSQL server,
// in transaction mode by default: what a scaled deployment puts between its instances and the database. A test
// can stop, kill and start it again on the same port.
//
// Every database name is passed through (`* =`), so a test's own database is reachable by name. The user list
// holds the one user's password in plain text (PgBouncer then speaks SCRAM to both sides); the files live in a
// private temporary directory.

import { type ChildProcess, spawn } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { ensureSystemUser, type Owner } from './postgres.ts';

export interface PgBouncerOptions {
  /** The PostgreSQL server behind it. */
  upstream: { host: string; port: number; user: string; password: string };
  /** `transaction` (a server connection per transaction), `session` or `statement`. @default 'transaction' */
  poolMode?: 'transaction' | 'session' | 'statement';
  /** Server connections per database and user (`default_pool_size`). @default 10 */
  poolSize?: number;
  /** Client connections at most (`max_client_conn`). @default 1000 */
  maxClients?: number;
  /** Port on 127.0.0.1; kept across restarts. @default a free port */
  port?: number;
  /** The binary. @default /usr/sbin/pgbouncer */
  binary?: string;
  /** Receives PgBouncer's log lines. @default ignore them */
  onLog?: (line: string) => void;
}

export interface PgBouncerServer {
  readonly host: string;
  readonly port: number;
  /** A connection URL for `database` through the pooler. */
  url(database?: string): string;
  /** True while the process runs. */
  readonly running: boolean;
  /** Starts it again on the same port (after stop or kill). */
  start(): Promise<void>;
  /** Shuts down at once (SIGINT: open server connections are closed), waiting for the process to exit. */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL). */
  kill(): Promise<void>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

/**
 * Starts PgBouncer in front of `upstream`.
 *
 * @example
 * const bouncer = await startPgBouncer({ upstream: { host: pg.host, port: pg.port, user: 'postgres', password: 'postgres' } });
 * const pool = new pg.Pool({ connectionString: bouncer.url('casebook') });
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerServer> {
  const { upstream } = options;
  const binary = options.binary ?? '/usr/sbin/pgbouncer';
  const onLog = options.onLog ?? (() => {});
  // PgBouncer refuses to run as root: as root it runs as the "postgres" user, which must read its files.
  const owner: Owner | undefined = process.getuid?.() === 0 ? ensureSystemUser('postgres') : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'headroom-pgbouncer-'));
  const port = options.port ?? (await freePort());
  const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;
  const files = {
    ini: join(dir, 'pgbouncer.ini'),
    users: join(dir, 'userlist.txt'),
  };
  await writeFile(files.users, `${quote(upstream.user)} ${quote(upstream.password)}\n`, { mode: 0o600 });
  await writeFile(
    files.ini,
    [
      '[databases]',
      `* = host=${upstream.host} port=${upstream.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${files.users}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 10}`,
      `max_client_conn = ${options.maxClients ?? 1000}`,
      // Drivers send it at start-up; it changes nothing PgBouncer tracks.
      'ignore_startup_parameters = extra_float_digits',
      `admin_users = ${upstream.user}`,
      'server_login_retry = 1',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    for (const file of Object.values(files)) await chown(file, owner.uid, owner.gid);
  }

  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    const started = spawn(binary, [files.ini], { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}) });
    child = started;
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      let ready = false;
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line) onLog(line);
        if (ready) return;
        log += chunk;
        if (/process up|listening on 127\.0\.0\.1/.test(log)) {
          ready = true;
          resolve();
        }
      });
      started.once('error', (error) => {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(missing ? new Error(`${binary} not found: install it (apt-get install pgbouncer)`) : error);
      });
      started.once('exit', (code, signal) => {
        if (!ready)
          reject(new Error(`pgbouncer exited during start-up (code ${code}, signal ${signal}):\n${log}`));
      });
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
  const host = '127.0.0.1';
  return {
    host,
    port,
    url: (database = 'postgres') =>
      `postgres://${encodeURIComponent(upstream.user)}:${encodeURIComponent(upstream.password)}@${host}:${port}/${encodeURIComponent(database)}`,
    get running() {
      return child !== undefined;
    },
    start,
    stop: () => halt('SIGINT'),
    kill: () => halt('SIGKILL'),
    async close() {
      await halt('SIGINT');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
