import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeadroomError, isHeadroomError } from './headroom-error.ts';

test('carries code, status, cause and context', () => {
  const cause = new Error('socket closed');
  const err = new HeadroomError('HR_NOT_FOUND', 'case 1 not found', {
    status: 404,
    cause,
    context: { id: 1 },
  });
  assert.equal(err.code, 'HR_NOT_FOUND');
  assert.equal(err.status, 404);
  assert.equal(err.cause, cause);
  assert.deepEqual(err.context, { id: 1 });
  assert.ok(err instanceof Error);
});

test('isHeadroomError recognises the brand, not the class identity', () => {
  assert.ok(isHeadroomError(new HeadroomError('HR_INTERNAL', 'x')));
  const lookalike = Object.defineProperty(new Error('x'), Symbol.for('headroom.error'), { value: true });
  assert.ok(isHeadroomError(lookalike), 'a copy from another install must still be recognised');
  assert.ok(!isHeadroomError(new Error('x')));
  assert.ok(!isHeadroomError(null));
});

test('stack: false makes a planned refusal without a stack trace, and leaves the global limit as it was', () => {
  const before = Error.stackTraceLimit;
  const planned = new HeadroomError('HR_RATE_LIMITED', 'slow down', { status: 429, stack: false });
  assert.equal(Error.stackTraceLimit, before);
  assert.equal(planned.stack?.includes('\n    at '), false);
  assert.ok(isHeadroomError(planned));
  const fault = new HeadroomError('HR_INTERNAL', 'boom');
  assert.ok(fault.stack?.includes('\n    at '));
});
