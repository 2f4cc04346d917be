// Values for the fuzz suite's fields: text a database cannot hold, numbers at every edge, any JSON for the
// wrong-type cases, ids as path segments; and the valid values they mix with, so requests get past validation.

import fc from 'fast-check';
import { type Own, type OwnKind, own } from './own.ts';

/** Strings that broke, or could break, something between the socket and PostgreSQL. */
export const edgeStrings = [
  '',
  ' ',
  '\t\n',
  '\u00a0\u3000',
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
  '\u0301\u0301\u0301',
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
  'true',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '1.5',
  '2147483648',
  '9007199254740993',
  '__proto__',
  'constructor',
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

/** One past each maxLength the schemas declare (role 50, attribute key 64, name 100, title 200, ...). */
const overLengths = [51, 65, 101, 201, 255, 1_001, 1_025, 10_001];

/** Strings just over a limit, in characters that count differently as UTF-16, code points and bytes. */
export const overLong = fc
  .tuple(fc.constantFrom(...overLengths), fc.constantFrom('a', 'é', '😀', '\u0000', 'e\u0301'))
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)));

/** Any text, with the edge strings often. */
export const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...edgeStrings) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: overLong },
);

/** Any number, with the edges often. */
export const number = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...edgeNumbers) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

/** A JSON value of any type, for the wrong-type cases: scalars, arrays, objects nested a few levels. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: text },
  { weight: 2, arbitrary: number },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.oneof(text, number), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(text, fc.oneof(text, number), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

/** Text a text field must take: plain, and Unicode that is no edge (accents, RTL, combining, astral). */
export const validText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'fraud ring',
      'Zoë',
      '日本語',
      'עברית \u200f',
      '\u202eevil',
      'e\u0301',
      '😀',
      '\u{10ffff}',
    ),
  },
);

/** One field of a route: values its schema accepts, and the hostile ones (any JSON value by default). */
export interface Field {
  valid: fc.Arbitrary<unknown>;
  hostile: fc.Arbitrary<unknown>;
}

/**
 * A field of a route.
 *
 * @example
 * const limit = field(fc.integer({ min: 1, max: 100 }));
 */
export function field(valid: fc.Arbitrary<unknown>, hostile?: fc.Arbitrary<unknown>): Field {
  return { valid, hostile: hostile ? fc.oneof(hostile, anyJson) : anyJson };
}

/**
 * The field valid most of the time, hostile otherwise: with a few fields a request, many requests get past
 * validation with one hostile field, which is what reaches the handler's own checks.
 */
export function mostly(f: Field): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: f.valid }, { weight: 1, arbitrary: f.hostile });
}

/** Path parameter `:id` of a route on `kind`: mostly one of the caller's own, else any id or junk. */
export function idArbitrary(kind: OwnKind): fc.Arbitrary<string | Own> {
  return fc.oneof({ weight: 3, arbitrary: own(kind) }, { weight: 2, arbitrary: idSegment });
}

/** A path segment where an id goes: numbers at every edge as text, and junk. */
export const idSegment = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 400 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom(...edgeNumbers.map(String), '2147483648', '9007199254740993') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('abc', '1e3', '0x10', '%00', '%FF', '..', '1;DROP', '+1', ' 1', '01', '1.0'),
  },
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', 'true', 'null', '-0', '%F0%9F%98%80', '1%00') },
  { weight: 1, arbitrary: text.map((s) => encodeURIComponent(s.isWellFormed() ? s : s.toWellFormed())) },
);
