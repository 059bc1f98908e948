/**
 * Leases and the leak detector on their own, on a FakeClock: when the leak timer fires and
 * when it must not, what the warning says, and which collected leases count as abandoned.
 * Then once through a pool, to see the pool's clock drive the detector.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Leased, LeaseState, Leases } from '../../src/client/lease.js';
import { FakeClock } from '../../src/clock.js';
import { ConnectionPool } from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { startHttpServer } from '../helpers/servers.js';

const ORIGIN = 'http://leases.example';

/** Collects the HTTPOOL_LEAK warnings emitted while `body` runs (and a tick after). */
async function leakWarnings(body: () => void | Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code === 'HTTPOOL_LEAK') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await body();
    // emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

function book(
  leakDetectionTimeout: number | undefined,
  onAbandoned: (slot: Leased) => void = () => {},
) {
  const clock = new FakeClock();
  const leases = new Leases<Leased>({ origin: ORIGIN, leakDetectionTimeout, clock, onAbandoned });
  return { clock, leases };
}

describe('Leases: the leak timer', () => {
  const cases: Array<{
    name: string;
    timeout: number | undefined;
    heldFor: number;
    leaks: number;
  }> = [
    { name: 'a lease returned in time', timeout: 100, heldFor: 99, leaks: 0 },
    { name: 'a lease held to the timeout', timeout: 100, heldFor: 100, leaks: 1 },
    { name: 'a lease held far past it warns once', timeout: 100, heldFor: 10_000, leaks: 1 },
    { name: 'a zero timeout warns at once', timeout: 0, heldFor: 0, leaks: 1 },
    { name: 'no timeout, no timer', timeout: undefined, heldFor: 1e9, leaks: 0 },
    {
      name: 'an Infinity timeout, no timer',
      timeout: Number.POSITIVE_INFINITY,
      heldFor: 1e9,
      leaks: 0,
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.leaks} leak(s)`, async () => {
      const { clock, leases } = book(c.timeout);
      const lease = new LeaseState();
      const warnings = await leakWarnings(() => {
        leases.begin(lease, Number.NaN);
        clock.advance(c.heldFor);
        leases.end(lease);
      });
      assert.equal(warnings.length, c.leaks);
      assert.equal(leases.leaks, c.leaks);
      // Ended: nothing left scheduled.
      assert.equal(clock.pending, 0);
      assert.equal(lease.leakTimer, undefined);
    });
  }

  test('the warning names the origin, the time and the acquiring stack', async () => {
    const { clock, leases } = book(250);
    const lease = new LeaseState();
    const warnings = await leakWarnings(() => {
      leases.begin(lease, Number.NaN);
      clock.advance(250);
    });
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^a connection to http:\/\/leases\.example has been leased for more than 250 ms/,
    );
    assert.match(warnings[0]!, /acquired here\n\s+at /);
    assert.match(warnings[0]!, /lease\.test\.js/);
  });

  test('without detection the stack is not taken, and a warning says how to get it', async () => {
    const { leases } = book(undefined);
    const lease = new LeaseState();
    leases.begin(lease, Number.NaN);
    assert.equal(lease.acquiredAt, undefined);
    const warnings = await leakWarnings(() => leases.warn('was lost', lease.acquiredAt));
    assert.match(
      warnings[0]!,
      /was lost .*; set leakDetectionTimeout to see where it was acquired$/,
    );
  });

  test('each lease has its own timer: the next lease starts from zero', async () => {
    const { clock, leases } = book(100);
    const lease = new LeaseState();
    const warnings = await leakWarnings(() => {
      leases.begin(lease, Number.NaN);
      clock.advance(60);
      leases.end(lease);
      leases.begin(lease, Number.NaN);
      clock.advance(60);
    });
    assert.equal(warnings.length, 0);
    assert.equal(lease.id, 2);
    assert.equal(clock.pending, 1);
  });

  test('end() twice records one lease; begin() and end() keep the timings', () => {
    const { leases } = book(undefined);
    const lease = new LeaseState();
    assert.equal(lease.active, false);
    leases.begin(lease, performance.now());
    assert.equal(lease.active, true);
    leases.end(lease);
    leases.end(lease);
    assert.equal(lease.active, false);
    assert.equal(leases.waitTime.summary().count, 1);
    assert.equal(leases.leaseTime.summary().count, 1);
  });
});

describe('Leases: abandoned leases', () => {
  /** Begins a lease of `slot`, watches a handle for it, and drops the handle. */
  function dropHandle(leases: Leases<Leased>, slot: Leased): void {
    leases.begin(slot.lease, Number.NaN);
    leases.watch({ handle: true }, slot);
  }

  test('a handle collected while its lease is current is reported', async () => {
    const abandoned: Leased[] = [];
    const { leases } = book(undefined, (slot) => abandoned.push(slot));
    const slot: Leased = { lease: new LeaseState() };
    dropHandle(leases, slot);
    await collectGarbage(20, () => abandoned.length > 0);
    assert.deepEqual(abandoned, [slot]);
  });

  test('a handle collected after its lease ended, or after a later lease began, is not', async () => {
    const abandoned: Leased[] = [];
    const { leases } = book(undefined, (slot) => abandoned.push(slot));
    const ended: Leased = { lease: new LeaseState() };
    dropHandle(leases, ended);
    leases.end(ended.lease);
    const relent: Leased = { lease: new LeaseState() };
    dropHandle(leases, relent);
    leases.end(relent.lease);
    leases.begin(relent.lease, Number.NaN);
    // A third, still current, tells when the collector has run the finalizers.
    const current: Leased = { lease: new LeaseState() };
    dropHandle(leases, current);
    await collectGarbage(20, () => abandoned.length > 0);
    // A few more rounds, for finalizers of the other two that might come later.
    await collectGarbage(3);
    assert.deepEqual(abandoned, [current]);
  });
});

describe('a pool’s leak detector', async () => {
  const server = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  });
  after(() => server.close());

  test('runs on the pool’s clock', async () => {
    const clock = new FakeClock();
    const pool = new ConnectionPool(server.origin, { leakDetectionTimeout: 5000, clock });
    try {
      const held = await pool.acquire();
      const warnings = await leakWarnings(() => clock.advance(4999));
      assert.deepEqual(warnings, []);
      const late = await leakWarnings(() => clock.advance(1));
      assert.equal(late.length, 1);
      assert.match(late[0]!, /leased for more than 5000 ms/);
      assert.equal(pool.stats().leaks, 1);
      held.release();
    } finally {
      await pool.close();
    }
  });
});
