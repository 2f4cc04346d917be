import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noneMatch, parseEntityTags, strongMatch, weakMatch } from './entity-tags.ts';

test('lists, weak tags and * parse; junk members are skipped', () => {
  assert.deepEqual(parseEntityTags('W/"1", "2" ,junk, "3"'), [
    { weak: true, opaque: '1' },
    { weak: false, opaque: '2' },
    { weak: false, opaque: '3' },
  ]);
  assert.equal(parseEntityTags(' * '), '*');
  assert.deepEqual(parseEntityTags('nonsense'), []);
});

test('members are whole entity tags: a comma may sit inside the quotes; text around a tag makes it junk', () => {
  assert.deepEqual(parseEntityTags('"a,b", W/"c"'), [
    { weak: false, opaque: 'a,b' },
    { weak: true, opaque: 'c' },
  ]);
  assert.deepEqual(parseEntityTags('x"1", "2"y, "3"'), [{ weak: false, opaque: '3' }]);
  assert.deepEqual(parseEntityTags('"1" "2"'), [], 'two tags without a comma are one malformed member');
  assert.deepEqual(parseEntityTags('w/"1"'), [], 'the weak prefix is case-sensitive');
  assert.deepEqual(parseEntityTags('"a b"'), [], 'no spaces inside a tag');
  assert.deepEqual(parseEntityTags('"unterminated'), []);
  assert.deepEqual(parseEntityTags('*, "1"'), [{ weak: false, opaque: '1' }], '* inside a list is junk');
  assert.deepEqual(parseEntityTags(',, "1" ,'), [{ weak: false, opaque: '1' }], 'empty list elements');
});

test('strong and weak comparison per RFC 9110 §8.8.3.2', () => {
  const s1 = { weak: false, opaque: '1' };
  const w1 = { weak: true, opaque: '1' };
  const s2 = { weak: false, opaque: '2' };
  assert.ok(strongMatch(s1, s1));
  assert.ok(!strongMatch(w1, w1));
  assert.ok(!strongMatch(w1, s1));
  assert.ok(weakMatch(w1, s1));
  assert.ok(!weakMatch(s1, s2));
});

test('If-None-Match: weak comparison over the list; * matches any current representation', () => {
  assert.ok(noneMatch('"a", W/"v1"', '"v1"'));
  assert.ok(noneMatch('*', '"anything"'));
  assert.ok(!noneMatch('"v2"', '"v1"'));
  assert.ok(!noneMatch(undefined, '"v1"'));
  assert.ok(!noneMatch('"v1"', undefined));
});
