import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DurationRecorder } from '../../src/client/histogram.js';

describe('DurationRecorder (the histogram behind stats() timings)', () => {
  test('an empty recorder reports zeros', () => {
    assert.deepEqual(new DurationRecorder().summary(), {
      count: 0,
      mean: 0,
      max: 0,
      p50: 0,
      p99: 0,
    });
  });

  test('count, mean and max are exact; negative and NaN values count as 0', () => {
    const recorder = new DurationRecorder();
    for (const value of [2, 4, -5, Number.NaN, 9]) recorder.record(value);
    const summary = recorder.summary();
    assert.equal(summary.count, 5);
    assert.equal(summary.mean, 3);
    assert.equal(summary.max, 9);
  });

  test('percentiles are within 10 % of the exact ones and never above the maximum', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 100_000, noNaN: true }), {
          minLength: 1,
          maxLength: 300,
        }),
        (values) => {
          const recorder = new DurationRecorder();
          for (const value of values) recorder.record(value);
          const sorted = [...values].sort((a, b) => a - b);
          const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1]!;
          const { p50, p99, max } = recorder.summary();
          for (const [got, want] of [
            [p50, exact(0.5)],
            [p99, exact(0.99)],
          ] as const) {
            assert.ok(got <= max, `${got} above max ${max}`);
            assert.ok(got >= want * 0.999 && got <= want * 1.1, `${got} vs exact ${want}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('values past the last bucket still count, reported as the maximum', () => {
    const recorder = new DurationRecorder();
    recorder.record(1e12);
    assert.equal(recorder.summary().p99, 1e12);
  });
});
