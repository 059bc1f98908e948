import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/clock.js';
import { ConnectTimeoutError, SocketError } from '../../src/errors.js';
import type { Dialed, DialOptions, DialTarget } from '../../src/net/dial.js';
import { type Attempt, dialFirst, dialResolved } from '../../src/net/eyeballs.js';

const v4 = (address: string): LookupAddress => ({ address, family: 4 });
const v6 = (address: string): LookupAddress => ({ address, family: 6 });

/** What a fake attempt does for an address: connect after `ms`, fail after `ms`, or hang. */
type Plan = { connect: number; deaf?: true } | { fail: number } | 'hang';

interface Started {
  address: string;
  at: number;
  servername: string | undefined;
  aborted: boolean;
  socket: Socket | undefined;
}

/** An attempt on the fake clock that follows `plans` per address and records what it saw. */
function fakeAttempts(clock: FakeClock, plans: Record<string, Plan>) {
  const started: Started[] = [];
  const attempt: Attempt = (target: DialTarget, options: DialOptions) =>
    new Promise<Dialed>((resolve, reject) => {
      const record: Started = {
        address: target.hostname,
        at: clock.now(),
        servername: target.servername,
        aborted: false,
        socket: undefined,
      };
      started.push(record);
      const plan = plans[target.hostname] ?? 'hang';
      options.signal?.addEventListener('abort', () => {
        record.aborted = true;
        // A deaf attempt connects anyway, as a real one may have in the same tick.
        if (typeof plan === 'object' && 'deaf' in plan) return;
        reject(options.signal!.reason);
      });
      if (plan === 'hang') return;
      if ('connect' in plan) {
        clock.schedule(() => {
          record.socket = new Socket();
          resolve({ socket: record.socket, reads: undefined, alpnProtocol: undefined });
        }, plan.connect);
      } else {
        clock.schedule(() => {
          const cause = Object.assign(new Error(`connect ECONNREFUSED ${target.hostname}:80`), {
            code: 'ECONNREFUSED',
          });
          reject(new SocketError(`${options.what} failed: ${cause.message}`, { cause }));
        }, plan.fail);
      }
    });
  return { attempt, started };
}

const target: DialTarget = { hostname: 'many.test', port: 80, secure: false };
const opts = (clock: FakeClock, timeout = 10_000): DialOptions => ({
  timeout,
  clock,
  what: 'connecting to http://many.test',
});

/** Lets promise callbacks run between steps of the fake clock. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Happy Eyeballs', () => {
  test('a first address that hangs costs one attempt delay; the winner is the second', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, {
      '127.0.0.1': 'hang',
      '::1': { connect: 5 },
    });
    const pending = dialFirst(
      target,
      [v4('127.0.0.1'), v6('::1')],
      opts(clock),
      250,
      undefined,
      attempt,
    );
    await settle();
    assert.deepEqual(
      started.map((s) => [s.address, s.at]),
      [['127.0.0.1', 0]],
    );
    clock.advance(249);
    await settle();
    assert.equal(started.length, 1, 'the second attempt waits the whole delay');
    clock.advance(1);
    await settle();
    assert.deepEqual(
      started.map((s) => [s.address, s.at]),
      [
        ['127.0.0.1', 0],
        ['::1', 250],
      ],
    );
    clock.advance(5);
    const dialed = await pending;
    assert.equal(dialed.socket, started[1]!.socket);
    await settle();
    assert.equal(started[0]!.aborted, true, 'the loser is called off');
    assert.equal(clock.pending, 0, 'no timer is left behind');
    // The TLS name stays the host's, not the address's.
    assert.deepEqual(
      started.map((s) => s.servername),
      ['many.test', 'many.test'],
    );
  });

  test('a connection that lands after the race was won is closed, not leaked', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, {
      '127.0.0.1': { connect: 300 },
      '127.0.0.2': { connect: 50, deaf: true },
    });
    const pending = dialFirst(
      target,
      [v4('127.0.0.1'), v4('127.0.0.2')],
      opts(clock),
      250,
      undefined,
      attempt,
    );
    await settle();
    clock.advance(250);
    await settle();
    clock.advance(50);
    const dialed = await pending;
    await settle();
    assert.equal(dialed.socket, started[0]!.socket, 'the first to connect won');
    assert.equal(started[1]!.socket?.destroyed, true, 'the late one is destroyed');
  });

  test('a refused address falls through to the next at once', async () => {
    const clock = new FakeClock();
    const failed: string[] = [];
    const { attempt, started } = fakeAttempts(clock, {
      '127.0.0.2': { fail: 1 },
      '127.0.0.3': { fail: 1 },
      '127.0.0.1': { connect: 1 },
    });
    const pending = dialFirst(
      target,
      [v4('127.0.0.2'), v4('127.0.0.3'), v4('127.0.0.1')],
      opts(clock),
      250,
      (address) => failed.push(address),
      attempt,
    );
    for (let i = 0; i < 4; i++) {
      clock.advance(1);
      await settle();
    }
    await pending;
    assert.deepEqual(
      started.map((s) => [s.address, s.at]),
      [
        ['127.0.0.2', 0],
        ['127.0.0.3', 1],
        ['127.0.0.1', 2],
      ],
    );
    assert.deepEqual(failed, ['127.0.0.2', '127.0.0.3']);
  });

  test('when every address fails, the error names each one', async () => {
    const clock = new FakeClock();
    const { attempt } = fakeAttempts(clock, {
      '127.0.0.2': { fail: 1 },
      '::1': { fail: 1 },
    });
    const pending = dialFirst(
      target,
      [v4('127.0.0.2'), v6('::1')],
      opts(clock),
      250,
      undefined,
      attempt,
    );
    const outcome = assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof SocketError);
      assert.match(error.message, /every address/);
      assert.match(error.message, /127\.0\.0\.2/);
      assert.match(error.message, /::1/);
      assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    for (let i = 0; i < 3; i++) {
      clock.advance(1);
      await settle();
    }
    await outcome;
  });

  test('the connect timeout bounds the whole race, and calls off every attempt', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, {});
    const pending = dialFirst(
      target,
      [v4('127.0.0.1'), v4('127.0.0.2'), v4('127.0.0.3')],
      opts(clock, 600),
      250,
      undefined,
      attempt,
    );
    const outcome = assert.rejects(pending, ConnectTimeoutError);
    for (let t = 0; t < 700; t += 50) {
      clock.advance(50);
      await settle();
    }
    await outcome;
    assert.deepEqual(
      started.map((s) => s.at),
      [0, 250, 500],
    );
    assert.ok(started.every((s) => s.aborted));
    assert.equal(clock.pending, 0);
  });

  test('from a local address, only addresses of its family are tried', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, { '127.0.0.2': { connect: 1 } });
    const source = { addresses: () => [v6('::1'), v4('127.0.0.2')] };
    const pending = dialResolved(
      target,
      source,
      { ...opts(clock), localAddress: '127.0.0.1' },
      attempt,
    );
    await settle();
    clock.advance(1);
    await pending;
    assert.deepEqual(
      started.map((s) => s.address),
      ['127.0.0.2'],
    );
  });

  test('the lookup counts against the connect timeout', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, {});
    const source = { addresses: () => new Promise<readonly LookupAddress[]>(() => {}) };
    const outcome = assert.rejects(
      dialResolved(target, source, opts(clock, 1000), attempt),
      ConnectTimeoutError,
    );
    clock.advance(1000);
    await outcome;
    assert.equal(started.length, 0);
  });

  test('a failed lookup is a SocketError with the lookup error as its cause', async () => {
    const clock = new FakeClock();
    const { attempt } = fakeAttempts(clock, {});
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND many.test'), {
      code: 'ENOTFOUND',
    });
    const source = { addresses: () => Promise.reject(cause) };
    await assert.rejects(dialResolved(target, source, opts(clock), attempt), (error: unknown) => {
      assert.ok(error instanceof SocketError);
      assert.equal(error.cause, cause);
      assert.match(error.message, /connecting to http:\/\/many\.test failed: .*ENOTFOUND/);
      return true;
    });
    assert.equal(clock.pending, 0);
  });

  test('an abort calls off the race', async () => {
    const clock = new FakeClock();
    const { attempt, started } = fakeAttempts(clock, {});
    const controller = new AbortController();
    const pending = dialFirst(
      target,
      [v4('127.0.0.1'), v4('127.0.0.2')],
      { ...opts(clock), signal: controller.signal },
      250,
      undefined,
      attempt,
    );
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    await settle();
    assert.ok(started.every((s) => s.aborted));
    assert.equal(clock.pending, 0);
  });
});
