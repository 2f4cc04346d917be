// What every error answer of the fuzz suite must be: an RFC 9457 problem whose code is in docs/errors.md
// with the status the table gives it. Shared by the injected requests and the raw-socket ones.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Which statuses docs/errors.md gives a code: one status, any 4xx, or none (never sent to a client). */
type DocumentedStatus = number | '4xx' | 'internal';

/**
 * Every `HR_*` code of docs/errors.md with its Status cell: `404`, `400 (or another 4xx …)`, `500 (never sent)`.
 */
export const documentedCodes: ReadonlyMap<string, DocumentedStatus> = new Map(
  readFileSync(join(import.meta.dirname, '..', '..', '..', '..', '..', 'docs', 'errors.md'), 'utf8')
    .split('\n')
    .flatMap((line): [string, DocumentedStatus][] => {
      const row = /^\| `(HR_[A-Z0-9_]+)` \| ([^|]*)\|/.exec(line);
      if (!row?.[1]) return [];
      const cell = row[2] ?? '';
      if (/never sent/.test(cell)) return [[row[1], 'internal']];
      if (/another 4xx/.test(cell)) return [[row[1], '4xx']];
      return [[row[1], Number(/^\s*(\d{3})\b/.exec(cell)?.[1])]];
    }),
);

/** The media type of every error answer. */
export const problemType = 'application/problem+json; charset=utf-8';

/**
 * Asserts that an error answer (status >= 400) is a problem: the media type, a JSON body whose `status`
 * is the answer's, a `code` of the form `HR_*` that docs/errors.md lists for that status, `type` naming the
 * code, and a `field` on HR_VALIDATION. `body` undefined skips the body checks (HEAD has none).
 */
export function checkProblem(
  status: number,
  headers: Record<string, string | string[] | number | undefined>,
  body: string | undefined,
  where: string,
): void {
  const type = headers['content-type'];
  assert.equal(type, problemType, `${where} → ${status} with content-type ${type}: ${JSON.stringify(body)}`);
  if (body === undefined) return;
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(body);
  } catch {
    assert.fail(`${where} → ${status} problem body is not JSON: ${JSON.stringify(body.slice(0, 300))}`);
  }
  const code = problem.code;
  assert.ok(typeof code === 'string' && /^HR_[A-Z_]+$/.test(code), `${where} → code ${code}: ${body}`);
  const documented = documentedCodes.get(code);
  assert.ok(documented !== undefined, `${where} → ${status} ${code} is not in docs/errors.md`);
  assert.ok(
    documented === status || (documented === '4xx' && status >= 400 && status < 500),
    `${where} → ${status} ${code}, but docs/errors.md gives ${code} the status ${documented}`,
  );
  assert.equal(problem.status, status, `${where} → problem.status ${problem.status} on a ${status}`);
  assert.equal(problem.type, `urn:headroom:problem:${code}`, `${where} → problem.type ${problem.type}`);
  if (code === 'HR_VALIDATION') {
    assert.ok(typeof problem.field === 'string' && problem.field, `${where} → HR_VALIDATION without a field`);
  }
}
