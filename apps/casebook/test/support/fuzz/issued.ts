// Cursors and entity tags, the values the API issues and expects back: real ones, slightly changed ones, and
// forgeries a decoder might take (timestamps Date.parse accepts and PostgreSQL does not, ids out of range).

import fc from 'fast-check';
import { anyJson, edgeNumbers, text } from './arbitraries.ts';
import { type Own, own } from './own.ts';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value) ?? '').toString('base64url');

/**
 * Cursors that Date.parse accepts but PostgreSQL does not, ids out of range, extra members, wrong types,
 * garbage, and the real ones in `issued` as they are and slightly changed (read when a value is drawn, so the
 * caller may fill it after building the table).
 */
export function cursorArbitrary(issued: readonly string[]): fc.Arbitrary<string> {
  // Timestamps Date.parse takes and PostgreSQL refuses (or prints differently), and impossible dates.
  const badAt = fc.constantFrom(
    '1',
    'Jan 1',
    '+275760-09-13T00:00:00Z',
    '-271821-04-20',
    '-271821-04-20T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-02-30 00:00:00+00',
    '2026-05-01 12:00:00+00\u0000',
    '2026-05-01\u0000 12:00:00+00',
    '2026-05-01 25:00:00+00',
    '2026-05-01 12:00:00+99',
    '2026-05-01 12:00:00.1234567+00',
    '0000-01-01 00:00:00+00',
    '2026-05-01T12:00:00Z',
    'infinity',
    'epoch',
  );
  // Timestamps in PostgreSQL's own form at its edges: a decoder that takes them hands them to SQL.
  const goodAt = fc.constantFrom(
    '2026-05-01 12:00:00+00',
    '2024-02-29 00:00:00+00',
    '1900-02-29 00:00:00+00',
    '0001-01-01 00:00:00+15',
    '9999-12-31 23:59:59-15',
    '2026-05-01 12:00:00+15:59:59',
    '2026-05-01 12:00:00-15:59:59',
    '2026-05-01 12:00:00.999999+00',
    '2026-05-01 23:59:60+00',
    '2026-05-01 12:00:00+05:30',
  );
  const real = fc.nat().map((i) => issued[i % Math.max(issued.length, 1)] ?? 'x');
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(badAt, fc.integer({ min: 1, max: 400 })).map(encode) },
    {
      weight: 2,
      arbitrary: fc.tuple(goodAt, fc.oneof(fc.constantFrom(...edgeNumbers), anyJson)).map(encode),
    },
    { weight: 1, arbitrary: fc.tuple(text, fc.integer({ min: 1, max: 400 })).map(encode) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.tuple(goodAt, fc.constant(1), anyJson).map(encode), // an extra member
        fc.tuple(fc.constant(1), goodAt).map(encode), // members swapped
        fc.tuple(goodAt, fc.constant('1')).map(encode), // id as a string
        fc.constant(encode({ at: '2026-05-01 12:00:00+00', id: 1 })),
        fc.constant(encode([])),
      ),
    },
    { weight: 2, arbitrary: real },
    {
      weight: 1,
      arbitrary: fc.tuple(real, fc.constantFrom('=', '==', '.', '+', '/', '\u0000', ' ')).map(([c, extra]) =>
        // A real cursor as standard base64, padded, or with a byte appended: not the exact encoding.
        extra === '+' || extra === '/' ? Buffer.from(c, 'base64url').toString('base64') : `${c}${extra}`,
      ),
    },
    { weight: 1, arbitrary: anyJson.map(encode) },
    { weight: 1, arbitrary: text },
  );
}

/**
 * If-Match / If-None-Match values: the addressed case's current tag, other real tags from `issued` (read
 * when drawn; stale once a case changes), ours out of range, made-up digests, lists, weak tags, junk.
 */
export function entityTagArbitrary(issued: readonly string[]): fc.Arbitrary<string | Own> {
  const real = fc.nat().map((i) => issued[i % Math.max(issued.length, 1)] ?? '"x"');
  return fc.oneof(
    { weight: 4, arbitrary: own('etag') },
    { weight: 2, arbitrary: real },
    { weight: 1, arbitrary: real.map((tag) => `W/${tag}`) },
    // The variants a client may hold: sent compressed, served stale, both; and a coding we never send.
    {
      weight: 2,
      arbitrary: fc
        .tuple(real, fc.constantFrom('-gzip', '-br', '~stale', '~stale-gzip', '-zstd', '-gzip-gzip'))
        .map(([tag, mark]) => `${tag.slice(0, -1)}${mark}"`),
    },
    { weight: 1, arbitrary: real.map((tag) => `"0-AAAAAAAAAAAAAAAA", ${tag}`) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        '*',
        '"2147483648-x"',
        '"2147483648-AAAAAAAAAAAAAAAA"',
        '"99999999999999999999-AAAAAAAAAAAAAAAA"',
        '"0-AAAAAAAAAAAAAAAA"',
        '"-1-AAAAAAAAAAAAAAAA"',
        '"1-AAAAAAAAAAAAAAAA"',
        '"1-AAAAAAAAAAAAAAAA-gzip"',
        '"1-AAAAAAAAAAAAAAAA.1f~stale-br"',
        'W/"1-AAAAAAAAAAAAAAAA"',
        '"1-AAAAAAAAAAAAAAAA", *',
        '*, *',
        '"a,b", "c"',
        ',,,',
        'garbage',
        '"',
        '""',
        `"${'9'.repeat(400)}"`,
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
  );
}
