// sqlComment and parseSqlComment together: what the one writes the other reads back (test/db-leaderboard.test.ts
// round-trips them through PostgreSQL), the spec's own example, what pg_stat_statements keeps, and texts that are
// not tag comments at all.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSqlComment, sqlComment, withoutSqlComment } from './sql-comment.ts';

test('sqlComment: keys sorted, values encoded so nothing can close the comment; nothing to say is empty', () => {
  assert.equal(
    sqlComment({ statement: 'case-detail-1', route: 'GET /v1/cases/:id', unset: undefined }),
    "/*route='GET%20%2Fv1%2Fcases%2F%3Aid',statement='case-detail-1'*/",
  );
  assert.equal(
    sqlComment({ route: "POST /v1/it's/*/(x)!~" }),
    "/*route='POST%20%2Fv1%2Fit%27s%2F%2A%2F%28x%29%21%7E'*/",
  );
  assert.equal(sqlComment({}), '');
  assert.equal(sqlComment({ route: undefined }), '');
});

test('parseSqlComment reads back what sqlComment writes, values decoded', () => {
  for (const tags of [
    { route: 'GET /v1/cases/:id', statement: 'case-detail-1' },
    { route: "POST /v1/it's/*/(x)!~", statement: 'a,b=c' },
    { 'odd key': 'ünïcode ✓', route: '*/ DROP TABLE cases; /*' },
  ]) {
    assert.deepEqual(parseSqlComment(`SELECT 1\n${sqlComment(tags)}`), tags);
    assert.equal(withoutSqlComment(`SELECT 1\n${sqlComment(tags)}`), 'SELECT 1');
  }
});
test('either key may be missing; other keys are kept', () => {
  assert.deepEqual(parseSqlComment("SELECT 1 /*route='GET%20%2F'*/"), { route: 'GET /' });
  assert.deepEqual(parseSqlComment("SELECT 1 /*statement='s1'*/"), { statement: 's1' });
  // The spec's example, with its \' escape and a traceparent.
  assert.deepEqual(
    parseSqlComment(
      "SELECT * FROM FOO /*action='%2Fparam*d',controller='index',framework='spring',traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7',name='it\\'s'*/",
    ),
    {
      action: '/param*d',
      controller: 'index',
      framework: 'spring',
      traceparent: '00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01',
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
      name: "it's",
    },
  );
});

test('a comment anywhere counts; several merge, the later winning', () => {
  assert.deepEqual(parseSqlComment("/*route='GET%20%2Fa'*/ SELECT 1"), { route: 'GET /a' });
  assert.deepEqual(parseSqlComment("SELECT /*route='GET%20%2Fa',x='1'*/ 1 /*route='GET%20%2Fb'*/"), {
    route: 'GET /b',
    x: '1',
  });
  assert.deepEqual(parseSqlComment(" SELECT 1 /* route = 'r' , statement = 's' */ "), {
    route: 'r',
    statement: 's',
  });
});

test('malformed and foreign comments are ignored, not errors', () => {
  const none = [
    'SELECT 1',
    '',
    'SELECT 1 /* just a note */',
    // What pg_stat_statements (PostgreSQL 18) writes into a squashed IN list.
    'SELECT * FROM t WHERE id IN ($1 /*, ... */)',
    'SELECT 1 /*route=GET*/',
    "SELECT 1 /*route='unterminated*/",
    "SELECT 1 /*route='%E0%A4%A'*/",
    "SELECT 1 /*route='a' statement='b'*/",
    "SELECT 1 /*route='a'",
    'SELECT 1 /**/',
    "SELECT 1 /*__proto__='x'*/",
  ];
  for (const text of none) assert.deepEqual(parseSqlComment(text), {}, text);
  assert.deepEqual(parseSqlComment("SELECT * FROM t WHERE id IN ($1 /*, ... */)\n/*statement='by-ids'*/"), {
    statement: 'by-ids',
  });
});

test('withoutSqlComment drops the tag comments only', () => {
  assert.equal(withoutSqlComment("SELECT $1\n/*route='GET%20%2F',statement='s'*/"), 'SELECT $1');
  assert.equal(
    withoutSqlComment("SELECT * FROM t WHERE id IN ($1 /*, ... */)\n/*route='x'*/"),
    'SELECT * FROM t WHERE id IN ($1 /*, ... */)',
  );
  assert.equal(withoutSqlComment('SELECT 1 /* a note */'), 'SELECT 1 /* a note */');
});
