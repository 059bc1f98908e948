/**
 * The retry policy's arithmetic on its own, as tables: the backoff before each retry (with the
 * jitter pinned), Retry-After in both its forms, and the defaults a policy is filled with.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseRetryAfter,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDelay,
} from '../../src/client/retry-policy.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function policy(minDelay: number, maxDelay: number): RetryPolicy {
  const resolved = resolveRetryPolicy({ minDelay, maxDelay });
  assert.ok(resolved !== undefined);
  return resolved;
}

describe('retryDelay', () => {
  // [minDelay, maxDelay, retry, random(), expected ms]
  const backoff: Array<[number, number, number, number, number]> = [
    [100, 30_000, 1, 0, 50],
    [100, 30_000, 1, 1, 100],
    [100, 30_000, 1, 0.5, 75],
    [100, 30_000, 2, 0, 100],
    [100, 30_000, 3, 1, 400],
    [100, 30_000, 4, 0.5, 600],
    // Capped by maxDelay before the jitter: half fixed, half random, never above it.
    [100, 1000, 5, 1, 1000],
    [100, 1000, 5, 0, 500],
    [100, 1000, 30, 1, 1000],
    [0, 1000, 3, 1, 0],
    // maxDelay below minDelay is raised to it.
    [500, 100, 1, 1, 500],
  ];
  for (const [min, max, retry, random, expected] of backoff) {
    test(`minDelay ${min}, maxDelay ${max}: retry ${retry} with random ${random} waits ${expected} ms`, () => {
      assert.equal(
        retryDelay(policy(min, max), retry, null, NOW, () => random),
        expected,
      );
    });
  }

  // [Retry-After, maxDelay, expected ms]
  const asked: Array<[string, number, number]> = [
    ['0', 30_000, 0],
    ['2', 30_000, 2000],
    [' 3 ', 30_000, 3000],
    ['3600', 30_000, 30_000],
    [new Date(NOW + 5000).toUTCString(), 30_000, 5000],
    [new Date(NOW - 5000).toUTCString(), 30_000, 0],
    [new Date(NOW + 3_600_000).toUTCString(), 10_000, 10_000],
  ];
  for (const [value, max, expected] of asked) {
    test(`Retry-After ${JSON.stringify(value)} with maxDelay ${max} waits ${expected} ms`, () => {
      // The random part must not matter when the server said how long.
      for (const random of [0, 1]) {
        assert.equal(
          retryDelay(policy(100, max), 1, value, NOW, () => random),
          expected,
        );
      }
    });
  }

  for (const value of ['soon', '', '1e3', 'Mon, 99 Foo 2026']) {
    test(`an unreadable Retry-After (${JSON.stringify(value)}) falls back to the backoff`, () => {
      assert.equal(
        retryDelay(policy(100, 30_000), 2, value, NOW, () => 1),
        200,
      );
    });
  }
});

describe('parseRetryAfter', () => {
  const cases: Array<[string, number | undefined]> = [
    ['120', 120_000],
    ['0', 0],
    ['007', 7000],
    ['\t5\t', 5000],
    ['1e3', undefined],
    [new Date(NOW + 61_000).toUTCString(), 61_000],
    ['nonsense', undefined],
  ];
  for (const [value, expected] of cases) {
    test(`${JSON.stringify(value)} is ${expected} ms`, () => {
      assert.equal(parseRetryAfter(value, NOW), expected);
    });
  }
});

describe('resolveRetryPolicy', () => {
  test('true is every default; a number is the limit; false and 0 are off', () => {
    const all = resolveRetryPolicy(true)!;
    assert.equal(all.limit, 2);
    assert.deepEqual([...all.methods], ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
    assert.deepEqual([...all.statusCodes], [408, 429, 500, 502, 503, 504]);
    assert.deepEqual(
      [...all.errorCodes],
      ['ERR_SOCKET', 'ERR_CONNECT_TIMEOUT', 'ERR_HEADERS_TIMEOUT'],
    );
    assert.equal(all.minDelay, 100);
    assert.equal(all.maxDelay, 30_000);
    assert.equal(resolveRetryPolicy(5)!.limit, 5);
    assert.equal(resolveRetryPolicy(false), undefined);
    assert.equal(resolveRetryPolicy(0), undefined);
    assert.equal(resolveRetryPolicy({ limit: 0 }), undefined);
  });

  test('methods are upper-cased', () => {
    assert.deepEqual(
      [...resolveRetryPolicy({ methods: ['post', 'Get'] })!.methods],
      ['POST', 'GET'],
    );
  });
});
