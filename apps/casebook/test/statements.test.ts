// No N+1: a detail request costs the same number of SQL statements at every expand depth.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCache } from '@headroom/core/cache';
import { FakeClock } from '@headroom/core/clock';
import type pg from 'pg';
import { buildApp } from '../src/app.ts';
import { profiles, seed } from '../src/seed/index.ts';
import { testNow } from './support/app.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
const statements: string[] = [];

before(async () => {
  db = await createTestDatabase();
  await seed(db.pool, profiles.test);
});
after(() => db.close());

/** The real pool, with every statement recorded on its way through (pool.query and checked-out clients). */
function recording(pool: pg.Pool): pg.Pool {
  const record = (config: unknown) =>
    statements.push(typeof config === 'string' ? config : (config as { text: string }).text);
  const wrapped = new WeakSet<object>();
  return new Proxy(pool, {
    get(target, key, receiver) {
      if (key === 'query') {
        return (config: unknown, values?: unknown) => {
          record(config);
          return target.query(config as string, values as unknown[]);
        };
      }
      if (key === 'connect') {
        return async () => {
          const client = await target.connect();
          if (wrapped.has(client)) return client; // a pooled client comes back: wrap it once
          wrapped.add(client);
          const query = client.query.bind(client) as (...args: unknown[]) => unknown;
          // Every argument passes through: pool.query hands a pooled client a callback as the third.
          client.query = ((...args: unknown[]) => {
            record(args[0]);
            return query(...args);
          }) as typeof client.query;
          return client;
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

test('detail at expand depth 0, 1, 2 and 3: one statement for auth, one for the case; a cache hit none', async () => {
  const clock = new FakeClock({ now: testNow });
  const cache = createCache({ name: 'statements', clock });
  const app = await buildApp({ pool: recording(db.pool), clock, cache });
  try {
    const login = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
    });
    const token = login.json().token;
    const { rows } = await db.pool.query(
      "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' AND c.owner_id IS NOT NULL LIMIT 1",
    );
    for (const expand of ['', 'owner', 'owner.team', 'owner.team.org', 'owner,owner.team,owner.team.org']) {
      const get = () =>
        app.inject({
          url: `/v1/cases/${rows[0].id}${expand ? `?expand=${expand}` : ''}`,
          headers: { authorization: `Bearer ${token}` },
        });
      cache.clearLocal();
      statements.length = 0;
      assert.equal((await get()).statusCode, 200);
      assert.equal(statements.length, 2, `expand=${expand}: ${statements.join('\n---\n')}`);
      assert.match(statements[1]!, /FROM cases c/);
      statements.length = 0;
      assert.equal((await get()).statusCode, 200);
      assert.equal(
        statements.length,
        0,
        `expand=${expand}, cached: the principal and the case both come from the cache`,
      );
    }
  } finally {
    await app.close();
  }
});
