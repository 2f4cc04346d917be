import assert from 'node:assert/strict';
import { test } from 'node:test';
import { render, renderDeep } from './template.ts';

const context = (values: Record<string, unknown>, random = () => 0.5) => ({ values, random });

test('variables, nested paths and typed whole expressions', () => {
  const ctx = context({ id: 42, feed: { users: { email: 'a@b.c' } } });
  assert.equal(render('/v1/cases/${id}', ctx), '/v1/cases/42');
  assert.equal(render('${id}', ctx), 42);
  assert.equal(render('${ feed.users.email }', ctx), 'a@b.c');
  assert.deepEqual(renderDeep({ email: '${feed.users.email}', n: ['${id}'] }, ctx), {
    email: 'a@b.c',
    n: [42],
  });
});

test('pick and int use the seeded random source', () => {
  const ctx = context({ vars: { terms: ['a', 'b', 'c', 'd'] } }, () => 0.75);
  assert.equal(render('${pick(vars.terms)}', ctx), 'd');
  assert.equal(render('${int(1, 4)}', ctx), 4);
  assert.equal(
    render(
      '${int(1, 4)}',
      context({}, () => 0),
    ),
    1,
  );
});

test('unknown names and functions fail with the expression in the message', () => {
  assert.throws(() => render('${nope}', context({})), /\$\{nope\} is not defined/);
  assert.throws(() => render('${shout(x)}', context({})), /unknown function shout/);
});
