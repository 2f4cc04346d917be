// HTTP-level hostile values of the fuzz suite: content types, request ids, JSON a parser may choke on, bodies
// over the limit, path suffixes and query strings no URL library writes.

import fc from 'fast-check';

/** The content-type of a body; undefined sends none at all, even with a body. */
export const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/json; charset=latin1',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json, text/plain',
      'application/jsonx',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/problem+json',
    ),
  },
);

/** Request ids to echo or refuse: well-formed, too long, with characters a log line must not get. */
export const requestIds = fc.constantFrom(
  'fuzz-1',
  'a'.repeat(129),
  '',
  ' ',
  '../x',
  '<script>',
  '"quoted"',
  'a\tb',
);

/** JSON a parser may choke on: broken, poisoned (`__proto__`, `constructor.prototype`), nested 20,000 deep. */
export const brokenJson = [
  '{',
  '{"title":"x",}',
  '[1,]',
  '\ufeff{}',
  '{}{}',
  'nul',
  '',
  '{"title":"x","title":"y"}',
  '{"__proto__":{"admin":true},"title":"x"}',
  '{"constructor":{"prototype":{"admin":true}},"title":"x"}',
  `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
  `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
];

/** Bodies over the app's 64 KB body limit, valid JSON otherwise. */
export const oversizedBody = fc
  .constantFrom(66_000, 1_000_000)
  .map((size) => ({ json: { title: 'x', name: 'x', body: 'x', description: 'y'.repeat(size) } }));

/** What may follow a path: a trailing slash, dot segments, matrix parameters, an encoded slash. */
export const pathSuffixes = fc.constantFrom(
  '/',
  '//',
  '/.',
  '/..',
  '/../1',
  ';x=1',
  '%2F',
  '%2f..',
  '.json',
  '%20',
  '#x',
);

/** Query strings no URLSearchParams writes: bad escapes, bare names, brackets, separators. */
export const rawQueries = fc.constantFrom(
  '%',
  '%FF',
  '%E0%A4%A',
  '%C0%80',
  'q',
  '=x',
  '&&&',
  'q=%ZZ',
  'cursor[]=x',
  'cursor[a]=b',
  'limit=1;limit=2',
  'q=a+b%2B',
  '%00=1',
  'limit=%00',
  '__proto__[x]=1',
  `q=${'%41'.repeat(3_000)}`,
  Array.from({ length: 2_000 }, (_, i) => `x${i}=1`).join('&'),
);
