// Hostile values for the fuzz suite: text a database cannot hold, numbers at every edge, cursors PostgreSQL
// would reject, headers that break parsers. Each mixes plausible values in, so requests also get past validation.

import fc from 'fast-check';

/** Strings that broke, or could break, something between the socket and PostgreSQL. */
export const edgeStrings = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud800y',
  '\udc00\ud800',
  '\u202e',
  '\u200f',
  '\u200b',
  '\ufeff',
  '😀',
  '\u{10ffff}',
  'e\u0301',
  '\u{1f469}\u200d\u{1f52c}',
  "'; DROP TABLE cases;--",
  '%00',
  '%',
  '../../etc/passwd',
  '\\',
  '"',
  '{}',
  '[]',
  'null',
  'NaN',
  '1e309',
  '-0',
  'a'.repeat(201),
  'b'.repeat(10_001),
];

/** Numbers at the edges of int4, int8, doubles and JSON. */
export const edgeNumbers = [
  0,
  -0,
  -1,
  1,
  1.5,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e3,
  1e308,
  -1e308,
  5e-324,
];

/** Any text, with the edge strings often. */
export const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...edgeStrings) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
);

/** Any number, with the edges often. */
export const number = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...edgeNumbers) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

/** A JSON value of any type, for the wrong-type cases. */
export const anyJson = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(text, number), { maxLength: 3 }),
  fc.dictionary(text, fc.oneof(text, number), { maxKeys: 3 }),
);

/** `valid` most of the time, anything otherwise. */
export function mostly<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: anyJson });
}

/** A path segment where an id goes: numbers at every edge as text, and junk. */
export const idSegment = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom(...edgeNumbers.map(String), '2147483648', '9007199254740993') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('abc', '1e3', '0x10', '%00', '%FF', '..', '1;DROP', '+1', ' 1', '01', '1.0'),
  },
  { weight: 1, arbitrary: text.map((s) => encodeURIComponent(s.isWellFormed() ? s : s.toWellFormed())) },
);

const cursorOf = (at: unknown, id: unknown) => Buffer.from(JSON.stringify([at, id])).toString('base64url');

/**
 * Cursors that Date.parse accepts but PostgreSQL does not, ids out of range, extra members, garbage, and the
 * real ones in `issued` (read when a value is drawn, so the caller may fill it after building the table).
 */
export function cursorArbitrary(issued: readonly string[]): fc.Arbitrary<string> {
  // Timestamps Date.parse takes and PostgreSQL refuses (or prints differently), and impossible dates.
  const badAt = fc.constantFrom(
    '1',
    'Jan 1',
    '+275760-09-13T00:00:00Z',
    '-271821-04-20T00:00:00Z',
    '2026-02-30 00:00:00+00',
    '2026-05-01 12:00:00+00\u0000',
    '2026-05-01 25:00:00+00',
    '2026-05-01 12:00:00+99',
    '2026-05-01 12:00:00.1234567+00',
    '2026-05-01T12:00:00Z',
  );
  const goodAt = fc.constant('2026-05-01 12:00:00+00');
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(badAt, fc.integer({ min: 1, max: 400 })).map(([a, i]) => cursorOf(a, i)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(goodAt, mostly(fc.constantFrom(...edgeNumbers))).map(([a, i]) => cursorOf(a, i)),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(text, fc.integer({ min: 1, max: 400 })).map(([a, i]) => cursorOf(a, i)),
    },
    { weight: 1, arbitrary: fc.nat().map((i) => issued[i % Math.max(issued.length, 1)] ?? 'x') },
    { weight: 1, arbitrary: anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url')) },
    { weight: 1, arbitrary: text },
  );
}

/** If-Match / If-None-Match values: ours out of range, made-up digests, lists, weak tags, junk. */
export const entityTagHeader = fc.oneof(
  fc.constantFrom(
    '*',
    '"2147483648-x"',
    '"99999999999999999999-AAAAAAAAAAAAAAAA"',
    '"1-AAAAAAAAAAAAAAAA"',
    'W/"1-AAAAAAAAAAAAAAAA"',
    '"1-AAAAAAAAAAAAAAAA", *',
    '"a,b", "c"',
    'garbage',
    '"',
    '""',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 30 }),
);
