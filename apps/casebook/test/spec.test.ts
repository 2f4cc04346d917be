// casebook's headroom.yaml is valid and in step with the router: an objective for every API route of the
// golden path, and no objective for a route that does not exist.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadSpec, type Spec } from '@headroom/core/slo';
import { startTestApp, type TestApp } from './support/app.ts';

/** Account management is not on the golden path and has no objective on purpose. */
const exempt = new Set([
  'POST /v1/auth/logout',
  'GET /v1/me',
  'POST /v1/api-keys',
  'GET /v1/api-keys',
  'DELETE /v1/api-keys/:id',
]);

let t: TestApp;
let spec: Spec;
before(async () => {
  t = await startTestApp({ seeded: false });
  spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
});
after(() => t.close());

test('every /v1 route has an objective, and every objective names a real route', () => {
  const routes = new Set(
    t.app.headroom.routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`),
  );
  const objectives = new Set(spec.objectives.map((o) => `${o.method} ${o.route}`));
  const uncovered = [...routes].filter((r) => r.includes(' /v1/') && !exempt.has(r) && !objectives.has(r));
  const unknown = [...objectives].filter((o) => !routes.has(o));
  assert.deepEqual(uncovered, []);
  assert.deepEqual(unknown, []);
});

test('objectives are tighter than the targets casebook was set (cache-hit p95 178 ms; p95 < 200 ms under the mix)', () => {
  // Not request/response calls: an export's event stream lasts as long as the export, a download as long as
  // its file takes to send; their budgets are the export's (5 s for 20,000 cases) and the file's.
  const lasting = new Set(['export-events', 'export-download']);
  for (const objective of spec.objectives) {
    if (lasting.has(objective.name)) continue;
    assert.ok((objective.latency.p95 ?? 0) < 178, `${objective.name} p95 ${objective.latency.p95} ms`);
  }
});
