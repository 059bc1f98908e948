/**
 * Header flattening as a table: every accepted headers input gives the same pairs in the same
 * order, as strings from toHeaderPairs and as given from headerEntries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerEntries, toHeaderPairs } from '../../src/http/header-pairs.js';
import type { HeadersInput } from '../../src/http/options.js';

const cases: Array<[string, HeadersInput | undefined, Array<[string, string | number]>]> = [
  ['none', undefined, []],
  ['an empty object', {}, []],
  [
    'an object, in key order',
    { b: '1', a: 2 },
    [
      ['b', '1'],
      ['a', 2],
    ],
  ],
  [
    'undefined and null fields left out',
    { a: undefined, b: null, c: 'x' } as unknown as HeadersInput,
    [['c', 'x']],
  ],
  [
    'arrays spread',
    { 'set-x': ['1', 2], y: 'z' },
    [
      ['set-x', '1'],
      ['set-x', 2],
      ['y', 'z'],
    ],
  ],
  [
    'pairs as they come, repeats kept',
    [
      ['a', '1'],
      ['A', 2],
      ['a', '3'],
    ],
    [
      ['a', '1'],
      ['A', 2],
      ['a', '3'],
    ],
  ],
  ['a Map', new Map<string, string | number>([['k', 5]]) as unknown as HeadersInput, [['k', 5]]],
];

for (const [name, input, entries] of cases) {
  test(`${name}: the same pairs, as strings and as given`, () => {
    assert.deepEqual(headerEntries(input), entries);
    assert.deepEqual(
      toHeaderPairs(input),
      entries.map(([field, value]) => [field, String(value)]),
    );
  });
}

test('a fresh array each time: the caller may push onto it', () => {
  const input = [['a', '1']] as HeadersInput;
  const first = headerEntries(input);
  first.push(['b', '2']);
  assert.deepEqual(headerEntries(input), [['a', '1']]);
});
