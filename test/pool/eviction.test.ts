import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEviction } from '../../src/pool/eviction.js';

test('planEviction: nothing idle means nothing to do and no next run', () => {
  assert.deepEqual(planEviction([], 100), { expired: [], nextRunAt: undefined });
});

test('planEviction: expires entries at or past their deadline, next run at the earliest survivor', () => {
  const a = { deadline: 50 };
  const b = { deadline: 100 };
  const c = { deadline: 300 };
  const d = { deadline: 200 };
  const plan = planEviction([a, b, c, d], 100);
  assert.deepEqual(plan.expired, [a, b]);
  assert.equal(plan.nextRunAt, 200);
});

test('planEviction: non-monotonic deadlines (a short expiresAt above older entries) are all found', () => {
  // Bottom of the stack is oldest; the top entry got a short keep-alive hint.
  const entries = [{ deadline: 1000 }, { deadline: 1100 }, { deadline: 20 }];
  const plan = planEviction(entries, 20);
  assert.deepEqual(plan.expired, [entries[2]]);
  assert.equal(plan.nextRunAt, 1000);
});

test('planEviction: entries that never expire do not schedule a run', () => {
  assert.deepEqual(planEviction([{ deadline: Number.POSITIVE_INFINITY }], 5), {
    expired: [],
    nextRunAt: undefined,
  });
});
