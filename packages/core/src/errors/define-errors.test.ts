import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commonErrors } from './codes.ts';
import { defineErrors, type ErrorCodeOf, isErrorTable } from './define-errors.ts';
import { isHeadroomError } from './headroom-error.ts';

const exportErrors = defineErrors({
  HR_EXPORT_TOO_LARGE: { status: 413, stack: false },
  HR_EXPORT_FAILED: { status: 500, stack: true },
});

test('create takes the status and the stack rule from the table; the site adds only message and details', () => {
  const cause = new Error('disk full');
  const failed = exportErrors.create('HR_EXPORT_FAILED', 'export 7 failed', { cause, context: { id: 7 } });
  assert.equal(failed.status, 500);
  assert.equal(failed.code, 'HR_EXPORT_FAILED');
  assert.equal(failed.cause, cause);
  assert.deepEqual(failed.context, { id: 7 });
  assert.ok(failed.stack?.includes('\n    at '), 'a fault keeps its stack');

  const refused = exportErrors.create('HR_EXPORT_TOO_LARGE', 'at most 100,000 rows', {
    headers: { 'retry-after': '5' },
  });
  assert.equal(refused.status, 413);
  assert.deepEqual(refused.headers, { 'retry-after': '5' });
  assert.equal(refused.stack?.includes('\n    at '), false, 'a planned refusal has no stack');
  assert.ok(isHeadroomError(refused));
});

test('codes are constants equal to their names; is() matches a code, or any code of the table', () => {
  assert.deepEqual(exportErrors.codes, {
    HR_EXPORT_TOO_LARGE: 'HR_EXPORT_TOO_LARGE',
    HR_EXPORT_FAILED: 'HR_EXPORT_FAILED',
  });
  assert.ok(Object.isFrozen(exportErrors.codes) && Object.isFrozen(exportErrors.definitions));
  const refused = exportErrors.create('HR_EXPORT_TOO_LARGE', 'too large');
  assert.ok(exportErrors.is(refused));
  assert.ok(exportErrors.is(refused, 'HR_EXPORT_TOO_LARGE'));
  assert.ok(!exportErrors.is(refused, 'HR_EXPORT_FAILED'));
  assert.ok(!exportErrors.is(commonErrors.create('HR_INTERNAL', 'x')), 'another table’s code');
  assert.ok(!exportErrors.is(new Error('HR_EXPORT_TOO_LARGE')));
  assert.ok(
    !exportErrors.is({ code: 'HR_EXPORT_TOO_LARGE' }),
    'a plain object with the code is not the error',
  );
});

test('a table is recognised by its brand, also from another copy of the package', () => {
  assert.ok(isErrorTable(exportErrors));
  assert.ok(isErrorTable(commonErrors));
  assert.ok(!isErrorTable({ definitions: {}, codes: {}, create() {} }));
  assert.ok(!isErrorTable(null));
});

test('a wrong table fails when it is defined, naming the code', () => {
  assert.throws(
    () => defineErrors({ HR_OK: { status: 200, stack: false } }),
    /HR_OK: status must be an HTTP error status/,
  );
  assert.throws(() => defineErrors({ HR_X: { status: 404.5, stack: false } }), /HR_X/);
  assert.throws(() => defineErrors({ HR_lower: { status: 400, stack: false } }), /HR_lower is not/);
  assert.throws(
    () => defineErrors({ HR_X: { status: 400 } } as unknown as Parameters<typeof defineErrors>[0]),
    /HR_X: stack must be true or false/,
  );
});

// Type-level checks: `npm run typecheck` fails if any line marked below compiles when it should not (an
// expect-error directive with no error under it is itself an error), so a typo in a code never reaches run time.
test('types: a code the table does not declare does not compile', () => {
  type ExportCode = ErrorCodeOf<typeof exportErrors>;
  const ok: ExportCode = 'HR_EXPORT_FAILED';
  // @ts-expect-error HR_EXPORT_FAILD is a typo, not a declared code
  const typo: ExportCode = 'HR_EXPORT_FAILD';
  // @ts-expect-error create takes only declared codes
  assert.throws(() => exportErrors.create('HR_EXPORT_FAILD', 'x'));
  // @ts-expect-error the status comes from the table; a throw site cannot set it
  exportErrors.create('HR_EXPORT_FAILED', 'x', { status: 404 });
  // @ts-expect-error a code must start with HR_ (and is refused at run time too)
  assert.throws(() => defineErrors({ EXPORT_FAILED: { status: 500, stack: true } }), /EXPORT_FAILED/);
  const error = exportErrors.create('HR_EXPORT_TOO_LARGE', 'x');
  const code: 'HR_EXPORT_TOO_LARGE' = error.code; // the error carries its literal code
  assert.deepEqual([ok, typo, code], ['HR_EXPORT_FAILED', 'HR_EXPORT_FAILD', 'HR_EXPORT_TOO_LARGE']);
});
