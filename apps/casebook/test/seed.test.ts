// The dataset generator: the demo contract, determinism, tenant-consistent references, usable sequences.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyPassword } from '../src/auth/passwords.ts';
import { profiles, seed } from '../src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let a: TestDatabase;
before(async () => {
  a = await createTestDatabase();
  await seed(a.pool, profiles.test);
});
after(() => a.close());

/** A digest of a table's content in id order (password hashes are salted, so users leave them out). */
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
  ['users', 'id, tenant_id, team_id, email, name, role'],
  ['cases'],
  ['entities'],
  ['case_entities'],
  ['events'],
  ['comments'],
];

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
        assert.ok(await verifyPassword('headroom-demo', rows[0]?.password_hash));
      }
    }
  });

  test('cases speak the language of investigations: "fraud" in some, not all, in every tenant', async () => {
    const { rows } = await a.pool.query(
      `SELECT tenant_id, count(*) FILTER (WHERE search @@ to_tsquery('english', 'fraud'))::int AS fraud, count(*)::int AS total
       FROM cases GROUP BY tenant_id ORDER BY tenant_id`,
    );
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.ok(row.fraud > 0 && row.fraud < row.total, JSON.stringify(row));
    }
  });

  test('every table has rows; owners sit in teams in orgs', async () => {
    for (const [table] of tables) {
      const { rows } = await a.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
      assert.ok(rows[0].n > 0, `${table} is empty`);
    }
    const chain = await a.pool.query(
      `SELECT count(*)::int AS n FROM cases c JOIN users u ON u.id = c.owner_id JOIN teams t ON t.id = u.team_id JOIN orgs o ON o.id = t.org_id`,
    );
    assert.ok(chain.rows[0].n > 0);
  });

  test('no row refers into another tenant', async () => {
    const { rows } = await a.pool.query(`SELECT
      (SELECT count(*) FROM events e JOIN cases c ON c.id = e.case_id WHERE c.tenant_id <> e.tenant_id)
      + (SELECT count(*) FROM events e JOIN users u ON u.id = e.actor_id WHERE u.tenant_id <> e.tenant_id)
      + (SELECT count(*) FROM comments m JOIN cases c ON c.id = m.case_id WHERE c.tenant_id <> m.tenant_id)
      + (SELECT count(*) FROM cases c JOIN users u ON u.id = c.owner_id WHERE u.tenant_id <> c.tenant_id)
      + (SELECT count(*) FROM case_entities l JOIN entities e ON e.id = l.entity_id WHERE e.tenant_id <> l.tenant_id)
      + (SELECT count(*) FROM users u JOIN teams t ON t.id = u.team_id WHERE t.tenant_id <> u.tenant_id) AS crossing`);
    assert.equal(Number(rows[0].crossing), 0);
  });

  test('events and comments happen after their case was opened', async () => {
    const { rows } = await a.pool.query(
      'SELECT count(*)::int AS n FROM events e JOIN cases c ON c.id = e.case_id WHERE e.occurred_at < c.created_at',
    );
    assert.equal(rows[0].n, 0);
  });
});

describe('generator', () => {
  test('the same options give the same rows; another seed gives others', async () => {
    const b = await createTestDatabase();
    const c = await createTestDatabase();
    try {
      await seed(b.pool, profiles.test);
      await seed(c.pool, { ...profiles.test, seed: 2 });
      for (const [table, columns] of tables) {
        assert.equal(
          await digest(a, table, columns),
          await digest(b, table, columns),
          `${table} differs between runs`,
        );
      }
      assert.notEqual(await digest(a, 'cases'), await digest(c, 'cases'));
    } finally {
      await b.close();
      await c.close();
    }
  });

  test('identity sequences continue after the seeded ids', async () => {
    const { rows } = await a.pool.query(
      `INSERT INTO cases (tenant_id, title, status, priority, created_at, updated_at)
       VALUES (1, 'after seeding', 'open', 'low', now(), now()) RETURNING id`,
    );
    const max = await a.pool.query("SELECT max(id)::int AS m FROM cases WHERE title <> 'after seeding'");
    assert.ok(rows[0].id > max.rows[0].m);
  });

  test('refuses a database that has tenants; ifEmpty skips it untouched', async () => {
    await assert.rejects(seed(a.pool, profiles.test), /already has tenants/);
    const before = await digest(a, 'cases');
    const report = await seed(a.pool, { ...profiles.test, ifEmpty: true });
    assert.equal(report.skipped, true);
    assert.equal(await digest(a, 'cases'), before);
  });
});
