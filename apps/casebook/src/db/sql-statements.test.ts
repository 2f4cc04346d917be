import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitStatements } from './sql-statements.ts';

test('semicolons end statements only outside quotes, identifiers, dollar bodies and comments', () => {
  const sql = [
    "-- headroom: no-transaction; a comment's semicolon",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x) WHERE note <> ';';",
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "odd;name" ON t (y);',
    "SELECT E'it\\'s; escaped', 'doubled '';'' quote';",
    '/* outer; /* nested; */ still; */ SELECT 1;',
    'DO $fn$ BEGIN PERFORM 1; PERFORM $$;$$; END $fn$;',
    'SELECT $1::int;',
    '-- trailing comment only',
  ].join('\n');
  assert.deepEqual(splitStatements(sql), [
    "-- headroom: no-transaction; a comment's semicolon\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x) WHERE note <> ';'",
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "odd;name" ON t (y)',
    "SELECT E'it\\'s; escaped', 'doubled '';'' quote'",
    '/* outer; /* nested; */ still; */ SELECT 1',
    'DO $fn$ BEGIN PERFORM 1; PERFORM $$;$$; END $fn$',
    'SELECT $1::int',
  ]);
});

test('no statements in a script of comments and blanks', () => {
  assert.deepEqual(splitStatements('-- nothing\n\n/* here */;\n'), []);
});
