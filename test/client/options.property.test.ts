/**
 * Random option objects (known names and unknown ones, values of every kind) fed to
 * `acquire()`, `request()` and a lease's `request()` on a pool against a loopback server.
 * Each call must return a promise (never throw), settle with a response, a lease, an
 * HttpoolError or the reason of the signal it was given; nothing may escape as an uncaught
 * exception; and afterwards the pool must still serve, with nothing leased or waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ConnectionPool, HttpoolError, type PooledConnection } from '../../src/index.js';
import { startHttpServer, type TestServer } from '../helpers/servers.js';

/** A value made fresh at call time (signals and streams are used up); its source prints well. */
type Make = () => unknown;

const made = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Make> =>
  arb.map((v) => Object.assign(() => v, { [fc.toStringMethod]: () => fc.stringify(v) }));

/** Values of every kind, for any name. */
const anyValue: fc.Arbitrary<Make> = fc.oneof(
  made(fc.constantFrom(undefined, null, true, false, Number.NaN, Number.POSITIVE_INFINITY, -1, 0)),
  made(fc.integer({ min: -10, max: 5000 })),
  made(fc.double()),
  made(fc.string({ maxLength: 6 })),
  made(fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 3 })), { maxLength: 3 })),
  made(fc.bigInt()),
  fc.constantFrom<Make>(
    () => ({}),
    () => [],
    () => () => {},
    () => Symbol('s'),
    () => new Uint8Array(2),
    () => new Date(0),
  ),
);

/** Signals that work, signals already or soon aborted, and things that are not signals. */
const signals = fc.constantFrom<Make>(
  () => new AbortController().signal,
  () => AbortSignal.abort(),
  () => AbortSignal.timeout(1),
  () => ({ aborted: false, addEventListener() {}, removeEventListener() {} }),
  () => ({}),
  () => ({ aborted: false }),
  () => 'signal',
);

const ms = fc.constantFrom<Make>(
  () => 1,
  () => 50,
  () => 2000,
  () => 0,
  () => -1,
  () => Number.POSITIVE_INFINITY,
  () => 3e9,
  () => '100',
);

/** Plausible values for the known names, so that many calls get far enough to succeed. */
const plausible: Record<string, fc.Arbitrary<Make>> = {
  method: made(fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'get', 'GE T', '')),
  path: made(fc.constantFrom('/', '/a?b=c', 'x', '', '*', '/\r\n')),
  headers: fc.constantFrom<Make>(
    () => ({ accept: 'text/plain' }),
    () => [['x-a', 'b']],
    () => new Map([['x-a', 'b']]),
    () => ({ 'bad name': 'v' }),
    () => ({ 'x-a': 'line\r\nbreak' }),
    () => ({ 'x-a': ['1', '2'] }),
    () => ({ 'content-length': '5' }),
  ),
  body: fc.constantFrom<Make>(
    () => null,
    () => 'hello',
    () => new Uint8Array(3),
    () =>
      (async function* () {
        yield new Uint8Array(1);
      })(),
    () =>
      (async function* () {
        yield 'x';
        throw new Error('the body stream broke');
      })(),
  ),
  signal: signals,
  headersTimeout: ms,
  bodyTimeout: ms,
  acquireTimeout: ms,
  timeout: ms,
  blocking: made(fc.constantFrom(true, false, 'no', 0)),
};

const knownNames = Object.keys(plausible);
const unknownNames = fc.oneof(
  fc.constantFrom(
    'maxsize',
    'signall',
    'Timeout',
    'redirect',
    'retry',
    'fresh',
    '__proto__',
    'constructor',
    'toString',
    'acquiretimeout',
  ),
  fc.string({ minLength: 1, maxLength: 6 }),
);

/** An options object as a list of [name, value] to define, or something that is not one. */
const optionsArb: fc.Arbitrary<OptionsSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .constantFrom(...knownNames)
            .chain((name) => fc.tuple(fc.constant(name), fc.oneof(plausible[name]!, anyValue))),
        },
        { weight: 1, arbitrary: fc.tuple(unknownNames, anyValue) },
      ),
      { maxLength: 4 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<'none' | 'null' | 'array' | 'string'>(
      'none',
      'null',
      'array',
      'string',
    ),
  },
);

type OptionsSpec = Array<[string, Make]> | 'none' | 'null' | 'array' | 'string';
type Call = {
  op: 'acquire' | 'request' | 'lease';
  options: OptionsSpec;
  leaseOptions: OptionsSpec;
};

/** Builds the options, own fields only (`__proto__` included, as JSON.parse would make it). */
function build(spec: OptionsSpec, signalsSeen: unknown[]): unknown {
  if (spec === 'none') return undefined;
  if (spec === 'null') return null;
  if (spec === 'array') return [];
  if (spec === 'string') return 'GET';
  const options: Record<string, unknown> = {};
  for (const [name, make] of spec) {
    const value = make();
    if (name === 'signal') signalsSeen.push(value);
    Object.defineProperty(options, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return options;
}

const call: fc.Arbitrary<Call> = fc.record({
  op: fc.constantFrom<'acquire' | 'request' | 'lease'>('acquire', 'request', 'lease'),
  options: optionsArb,
  leaseOptions: optionsArb,
});

describe('random options on a pool', () => {
  let server: TestServer;
  before(async () => {
    server = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
  });
  after(() => server.close());

  it('every call settles typed, nothing escapes, and the pool still serves', async () => {
    const uncaught: unknown[] = [];
    const onError = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(call, { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          async (calls, hold) => {
            const pool = new ConnectionPool(server.origin, { maxSize: 1 });
            try {
              // Holding the only connection makes the calls wait in the queue for a while.
              const held = hold ? await pool.acquire() : undefined;
              const outcomes = calls.map((c) => run(pool, c));
              if (held !== undefined) setTimeout(() => held.release(), 5);
              const settled = await withBound(Promise.all(outcomes), 15_000);
              for (const problem of settled) assert.equal(problem, undefined);
              const plain = await pool.request({ path: '/' });
              assert.equal(await plain.text(), 'ok');
              const s = pool.stats();
              assert.deepEqual({ leased: s.leased, waiting: s.waiting }, { leased: 0, waiting: 0 });
            } finally {
              await pool.close({ timeout: 2000 });
            }
            assert.deepEqual(uncaught, []);
          },
        ),
        { numRuns: 150, interruptAfterTimeLimit: 40_000 },
      );
    } finally {
      // A listener fired late (a timer left behind) still shows up here.
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    }
    assert.deepEqual(uncaught, []);
  });
});

/** Runs one call; resolves with a description of what went wrong, or undefined. */
async function run(pool: ConnectionPool, c: Call): Promise<string | undefined> {
  const signalsSeen: unknown[] = [];
  const options = build(c.options, signalsSeen);
  const expected = (error: unknown): boolean =>
    error instanceof HttpoolError ||
    signalsSeen.some((s) => (s as { reason?: unknown } | null)?.reason === error);
  let pending: Promise<unknown>;
  try {
    pending = c.op === 'request' ? pool.request(options as never) : pool.acquire(options as never);
  } catch (error) {
    return `${c.op}() threw synchronously: ${String(error)}`;
  }
  if (!(pending instanceof Promise)) return `${c.op}() returned no promise`;
  let result: unknown;
  try {
    result = await pending;
  } catch (error) {
    return expected(error) ? undefined : `${c.op}() rejected untyped: ${String(error)}`;
  }
  if (c.op === 'request') {
    await (result as { dump(): Promise<void> }).dump().catch(() => {});
    return undefined;
  }
  const conn = result as PooledConnection;
  try {
    if (c.op !== 'lease') return undefined;
    const leaseSignals: unknown[] = [];
    const leaseOptions = build(c.leaseOptions, leaseSignals);
    signalsSeen.push(...leaseSignals);
    let sent: Promise<{ dump(): Promise<void> }>;
    try {
      sent = conn.request(leaseOptions as never);
    } catch (error) {
      return `conn.request() threw synchronously: ${String(error)}`;
    }
    try {
      await (await sent).dump();
    } catch (error) {
      if (!expected(error)) return `conn.request() rejected untyped: ${String(error)}`;
    }
    return undefined;
  } finally {
    conn.release();
  }
}

/** `promise`, or a rejection after `ms`: a hang fails the property instead of the whole run. */
function withBound<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`calls still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}
