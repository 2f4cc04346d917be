// The dataset generator on a real PostgreSQL: the demo contract, determinism, tenant-consistent references,
// usable sequences, and a schema left exactly as the migrations made it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { verifyPassword } from '../src/auth/passwords.ts';
import { copyLines, copyText } from '../src/seed/copy.ts';
import { demoPassword, profiles, seed } from '../src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let a: TestDatabase;
before(async () => {
  a = await createTestDatabase();
  await seed(a.pool, profiles.test);
});
after(() => a.close());

/** An md5 of a table's rows in order, ids included (password hashes are salted, so users leave them out). */
async function digest(db: TestDatabase, table: string, columns = '*'): Promise<string> {
  const { rows } = await db.pool.query(
    `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS d FROM (SELECT ${columns} FROM ${table}) t`,
  );
  return rows[0].d;
}
const tables: [string, string?][] = [
  ['tenants'],
  ['orgs'],
  ['teams'],
  ['users', 'id, tenant_id, team_id, email, name, role, password_hash IS NULL, created_at'],
  ['cases'],
  ['entities'],
  ['case_entities'],
  ['events'],
  ['comments'],
];
const count = async (pool: pg.Pool, sql: string): Promise<number> =>
  Number((await pool.query(`SELECT (${sql}) AS n`)).rows[0].n);

/** Every index and constraint of the schema, as PostgreSQL prints them. */
async function schemaObjects(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ def: string }>(
    `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index JOIN pg_class c ON c.oid = indrelid
       WHERE c.relnamespace = 'public'::regnamespace
     UNION ALL
     SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace
     ORDER BY 1`,
  );
  return rows.map((r) => r.def);
}

describe('demo contract', () => {
  test('acme (enterprise), globex (pro), initech (free), each with an admin and an analyst who can log in', async () => {
    const tenants = await a.pool.query('SELECT slug, tier FROM tenants ORDER BY id');
    assert.deepEqual(tenants.rows, [
      { slug: 'acme', tier: 'enterprise' },
      { slug: 'globex', tier: 'pro' },
      { slug: 'initech', tier: 'free' },
    ]);
    for (const slug of ['acme', 'globex', 'initech']) {
      for (const role of ['admin', 'analyst']) {
        const { rows } = await a.pool.query(
          'SELECT u.role, u.password_hash, t.slug FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE email = $1',
          [`${role}@${slug}.test`],
        );
        assert.equal(rows[0]?.role, role);
        assert.equal(rows[0]?.slug, slug);
        assert.ok(await verifyPassword(demoPassword, rows[0]?.password_hash));
      }
    }
    assert.equal(await count(a.pool, 'SELECT count(DISTINCT password_hash) FROM users'), 1);
    assert.equal(await count(a.pool, 'SELECT count(*) FROM users WHERE password_hash IS NOT NULL'), 6);
  });

  test('cases speak the language of investigations: "fraud" in some, not all, in every tenant', async () => {
    const { rows } = await a.pool.query(
      `SELECT tenant_id, count(*)::int AS total,
              count(*) FILTER (WHERE title ~* '\\mfraud\\M' OR description ~* '\\mfraud\\M')::int AS fraud
       FROM cases GROUP BY tenant_id ORDER BY tenant_id`,
    );
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.ok(row.fraud > 0 && row.fraud < row.total * 0.3, JSON.stringify(row));
    }
    const searched = await count(
      a.pool,
      "SELECT count(*) FROM cases WHERE search @@ to_tsquery('english', 'fraud')",
    );
    assert.equal(
      searched,
      rows.reduce((sum, r) => sum + r.fraud, 0),
    );
  });

  test('every table has rows; owners sit in teams in orgs of their own tenant', async () => {
    for (const [table] of tables) {
      assert.ok((await count(a.pool, `SELECT count(*) FROM ${table}`)) > 0, `${table} is empty`);
    }
    const chain = await count(
      a.pool,
      `SELECT count(*) FROM cases c JOIN users u ON (u.tenant_id, u.id) = (c.tenant_id, c.owner_id)
       JOIN teams t ON (t.tenant_id, t.id) = (u.tenant_id, u.team_id) JOIN orgs o ON (o.tenant_id, o.id) = (t.tenant_id, t.org_id)`,
    );
    assert.ok(chain > 0);
  });

  test('no row refers into another tenant', async () => {
    const crossing = await count(
      a.pool,
      `(SELECT count(*) FROM events e JOIN cases c ON c.id = e.case_id WHERE c.tenant_id <> e.tenant_id)
      + (SELECT count(*) FROM events e JOIN users u ON u.id = e.actor_id WHERE u.tenant_id <> e.tenant_id)
      + (SELECT count(*) FROM comments m JOIN cases c ON c.id = m.case_id WHERE c.tenant_id <> m.tenant_id)
      + (SELECT count(*) FROM comments m JOIN users u ON u.id = m.author_id WHERE u.tenant_id <> m.tenant_id)
      + (SELECT count(*) FROM cases c JOIN users u ON u.id = c.owner_id WHERE u.tenant_id <> c.tenant_id)
      + (SELECT count(*) FROM case_entities l JOIN cases c ON c.id = l.case_id WHERE c.tenant_id <> l.tenant_id)
      + (SELECT count(*) FROM case_entities l JOIN entities e ON e.id = l.entity_id WHERE e.tenant_id <> l.tenant_id)
      + (SELECT count(*) FROM users u JOIN teams t ON t.id = u.team_id WHERE t.tenant_id <> u.tenant_id)
      + (SELECT count(*) FROM teams t JOIN orgs o ON o.id = t.org_id WHERE o.tenant_id <> t.tenant_id)`,
    );
    assert.equal(crossing, 0);
  });

  test('time runs forwards: updates, events and comments come after their case opened, before the base', async () => {
    const backwards = await count(
      a.pool,
      `(SELECT count(*) FROM cases WHERE updated_at < created_at OR updated_at > '2026-06-01Z')
      + (SELECT count(*) FROM events e JOIN cases c ON c.id = e.case_id WHERE e.occurred_at < c.created_at)
      + (SELECT count(*) FROM comments m JOIN cases c ON c.id = m.case_id WHERE m.created_at < c.created_at)`,
    );
    assert.equal(backwards, 0);
  });
});

describe('generator', () => {
  test('the same options give the same rows; another seed gives others; more comments leave events alone', async () => {
    const same = await createTestDatabase();
    const other = await createTestDatabase();
    const chattier = await createTestDatabase();
    try {
      await seed(same.pool, profiles.test);
      await seed(other.pool, { ...profiles.test, seed: 2 });
      await seed(chattier.pool, { ...profiles.test, comments: profiles.test.comments * 2 });
      for (const [table, columns] of tables) {
        assert.equal(await digest(a, table, columns), await digest(same, table, columns), `${table} differs`);
      }
      assert.notEqual(await digest(a, 'cases'), await digest(other, 'cases'));
      assert.notEqual(await digest(a, 'events'), await digest(other, 'events'));
      assert.equal(await digest(a, 'events'), await digest(chattier, 'events'));
    } finally {
      await Promise.all([same.close(), other.close(), chattier.close()]);
    }
  });

  test('indexes and foreign keys come back exactly as the migrations made them', async () => {
    const fresh = await createTestDatabase();
    try {
      assert.deepEqual(await schemaObjects(a), await schemaObjects(fresh));
    } finally {
      await fresh.close();
    }
  });

  test('identity sequences continue after the seeded ids', async () => {
    const acmeCase = await count(a.pool, 'SELECT min(id) FROM cases WHERE tenant_id = 1');
    const acmeUser = await count(a.pool, 'SELECT min(id) FROM users WHERE tenant_id = 1');
    const client = await a.pool.connect();
    try {
      await client.query('BEGIN');
      for (const [table, columns, values] of [
        [
          'cases',
          'tenant_id, title, status, priority, created_at, updated_at',
          "1, 'new', 'open', 'low', now(), now()",
        ],
        ['events', 'tenant_id, case_id, kind, summary, occurred_at', `1, ${acmeCase}, 'note', 'new', now()`],
        [
          'comments',
          'tenant_id, case_id, author_id, body, created_at',
          `1, ${acmeCase}, ${acmeUser}, 'new', now()`,
        ],
        ['entities', 'tenant_id, kind, name, created_at', "1, 'ip', '192.0.2.1', now()"],
      ]) {
        const { rows } = await client.query(
          `INSERT INTO ${table} (${columns}) VALUES (${values}) RETURNING id`,
        );
        assert.equal(Number(rows[0].id), (await count(a.pool, `SELECT max(id) FROM ${table}`)) + 1, table);
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  test('refuses a database that has tenants; ifEmpty skips it untouched', async () => {
    await assert.rejects(seed(a.pool, profiles.test), /already has tenants/);
    const before = await digest(a, 'cases');
    const report = await seed(a.pool, { ...profiles.test, ifEmpty: true });
    assert.equal(report.skipped, true);
    assert.equal(await digest(a, 'cases'), before);
  });

  test('a failure half-way leaves an empty database with its schema whole', async () => {
    const db = await createTestDatabase();
    try {
      const failing = seed(db.pool, {
        ...profiles.test,
        onProgress(table) {
          if (table === 'events') throw new Error('stop here');
        },
      });
      await assert.rejects(failing, /stop here/);
      assert.equal(await count(db.pool, 'SELECT count(*) FROM cases'), 0);
      assert.deepEqual(await schemaObjects(db), await schemaObjects(a));
    } finally {
      await db.close();
    }
  });

  test('bad options are refused by name', async () => {
    await assert.rejects(seed(a.pool, { usersPerTenant: 1 }), /usersPerTenant/);
    await assert.rejects(seed(a.pool, { events: 1.5 }), /events/);
  });

  test('COPY text escaping survives tabs, newlines, carriage returns and backslashes', async () => {
    const client = await a.pool.connect();
    try {
      await client.query('CREATE TEMP TABLE escaped (id int, body text)');
      const bodies = ['tab\there', 'line\nbreak', 'cr\rlf\r\n', 'back\\slash \\N', '\\.', 'plain'];
      await copyLines(
        client,
        'escaped',
        ['id', 'body'],
        bodies.map((b, i) => `${i}\t${copyText(b)}\n`),
      );
      const { rows } = await client.query('SELECT body FROM escaped ORDER BY id');
      assert.deepEqual(
        rows.map((r) => r.body),
        bodies,
      );
    } finally {
      await client.query('DROP TABLE IF EXISTS escaped');
      client.release();
    }
  });
});
