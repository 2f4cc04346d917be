// `npm start` end to end: server.ts as a real process, on embedded PostgreSQL or on DATABASE_URL.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPgBouncer } from '@headroom/dev-servers/pgbouncer';
import pg from 'pg';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/server-process.ts';

async function start(env: NodeJS.ProcessEnv) {
  return startServerProcess(env);
}

async function login(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@initech.test', password: 'headroom-demo' }),
  });
  return res.status;
}

test('on an empty DATA_DIR: initdb, migrations, demo data, banner with logins; SIGTERM stops PostgreSQL too', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'casebook-start-'));
  await chmod(dataDir, 0o711);
  let server: Awaited<ReturnType<typeof start>> | undefined;
  try {
    server = await start({ DATA_DIR: dataDir, DATABASE_URL: '', OPERATOR_TOKEN: '' });
    const { child, url, output } = server;
    assert.match(output(), /admin@acme\.test/);
    assert.match(output(), /analyst@initech\.test/);
    assert.equal(await login(url), 200);
    assert.equal((await fetch(`${url}/health/ready`)).status, 200);
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    assert.ok(existsSync(pidFile), 'PostgreSQL runs in DATA_DIR');
    assert.ok(existsSync(join(dataDir, 'operator-token')), 'the operator token is kept in DATA_DIR');
    // pg_stat_statements (what `headroom db top` reads) and auto_explain are loaded, the statements tagged.
    const pgPort = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
    const stats = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${pgPort}/casebook`,
    });
    await stats.connect();
    try {
      const { rows } = await stats.query(
        "SELECT count(*)::int AS n FROM pg_stat_statements WHERE query LIKE '%route=''POST%20%2Fv1%2Fauth%2Flogin''%'",
      );
      assert.ok(rows[0].n > 0, 'the login route tagged its statements');
      assert.equal(
        (await stats.query('SHOW auto_explain.log_min_duration')).rows[0]['auto_explain.log_min_duration'],
        '250ms',
      );
    } finally {
      await stats.end();
    }

    // A client that sends half a body must not keep SIGTERM from finishing.
    const { port } = new URL(url);
    const stuck = connect({ port: Number(port), host: '127.0.0.1' });
    stuck.on('error', () => {});
    stuck.write(
      'POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"e',
    );
    await once(stuck, 'connect');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.ok(!existsSync(pidFile), 'PostgreSQL shut down cleanly (it removes its pid file)');
  } finally {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('DATABASE_URL switches to an external PostgreSQL; no embedded server is started', async () => {
  const db = await createTestDatabase({ migrated: false });
  const dataDir = join(tmpdir(), `casebook-unused-${process.pid}`);
  try {
    const { child, url } = await start({ DATABASE_URL: db.url, DATA_DIR: dataDir, SEED_PROFILE: 'test' });
    assert.equal(await login(url), 200);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM cases');
    assert.ok(rows[0].n > 0, 'migrated and seeded the external database');
    assert.ok(!existsSync(join(dataDir, 'postgres')), 'no embedded cluster');
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  } finally {
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('behind PgBouncer: DATABASE_URL is the pooler, DATABASE_DIRECT_URL takes migrations, seeding and LISTEN', async () => {
  const upstream = new URL(process.env.HEADROOM_TEST_PG_URL!);
  const bouncer = await startPgBouncer({
    upstream: {
      host: upstream.hostname,
      port: Number(upstream.port),
      user: decodeURIComponent(upstream.username),
      password: decodeURIComponent(upstream.password),
    },
    poolSize: 2,
  });
  const db = await createTestDatabase({ migrated: false });
  const dataDir = join(tmpdir(), `casebook-unused-${process.pid}-b`);
  const name = new URL(db.url).pathname.slice(1);
  try {
    const { child, url } = await start({
      DATABASE_URL: bouncer.url(name),
      DATABASE_DIRECT_URL: db.url,
      DATA_DIR: dataDir,
      SEED_PROFILE: 'test',
      DB_STATEMENT_TIMEOUT_MS: '1500',
    });
    assert.equal(await login(url), 200);
    const signedIn = await fetch(`${url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
    });
    const { token } = (await signedIn.json()) as { token: string };
    const search = await fetch(`${url}/v1/cases/search?q=fraud`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(search.status, 200);
    const { rows } = await db.pool.query(
      `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
       WHERE d.datname = current_database() AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
    );
    assert.deepEqual(rows[0]?.setconfig, [
      'statement_timeout=1500',
      'idle_in_transaction_session_timeout=5000',
    ]);
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  } finally {
    await db.close();
    await bouncer.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
