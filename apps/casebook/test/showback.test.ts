// Cost showback in casebook, with real logins: requests are attributed to the principal's tenant and the route's
// journey; a tenant admin's /admin/showback holds their own tenant only, and naming another tenant is refused.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acmeAdmin: string;
let acme: string;
let globex: string;
let tenantId: Record<string, string>;
before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  acmeAdmin = await t.login('admin@acme.test');
  globex = await t.login('analyst@globex.test');
  const { rows } = await t.db.pool.query<{ id: number; slug: string }>('SELECT id, slug FROM tenants');
  tenantId = Object.fromEntries(rows.map((r) => [r.slug, String(r.id)]));
  await t.as(acme, { url: '/v1/cases/search?q=fraud' });
  await t.as(globex, { url: '/v1/cases/search?q=fraud' });
  await t.as(globex, { url: '/v1/cases/search?q=fraud' });
});
after(() => t.close());

interface Row {
  tenant: string;
  feature: string;
  requests: number;
}

test('requests are attributed to the principal’s tenant and the route’s journey', async () => {
  const res = await t.operator({ url: '/admin/showback' });
  assert.equal(res.statusCode, 200);
  const rows = res.json().data as Row[];
  const search = (tenant: string) => rows.find((r) => r.tenant === tenant && r.feature === 'case-search');
  assert.equal(search(tenantId.acme!)?.requests, 1);
  assert.equal(search(tenantId.globex!)?.requests, 2);
  assert.ok(
    rows.some((r) => r.tenant === 'anonymous'),
    'logins carry no principal yet',
  );
  const metrics = (await t.operator({ url: '/metrics' })).body;
  assert.match(
    metrics,
    new RegExp(
      `^headroom_tenant_requests_total\\{tenant="${tenantId.globex}",feature="case-search"\\} 2$`,
      'm',
    ),
  );
});

test('a tenant admin sees their own tenant only, and cannot name another', async () => {
  const own = await t.as(acmeAdmin, { url: '/admin/showback' });
  assert.equal(own.statusCode, 200);
  const rows = own.json().data as Row[];
  assert.ok(rows.length > 0);
  assert.deepEqual(new Set(rows.map((r) => r.tenant)), new Set([tenantId.acme]));
  assert.equal(own.json().shares_of, 'tenant');
  const crossed = await t.as(acmeAdmin, { url: `/admin/showback?tenant=${tenantId.globex}` });
  assert.equal(crossed.statusCode, 403);
  assert.doesNotMatch(crossed.body, /case-search/);
  assert.equal((await t.as(acme, { url: '/admin/showback' })).statusCode, 403, 'an analyst is no admin');
});
