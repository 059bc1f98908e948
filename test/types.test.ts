/**
 * Type-level tests of the public contract: this file must compile (`npm test` compiles the
 * tests with the strict settings), so a change to an exported type that breaks callers, or
 * loosens what the compiler refuses, fails the build. The runtime test only checks that the
 * package root exports what DESIGN.md names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as httpool from '../src/index.js';
import {
  AcquireTimeoutError,
  type Agent,
  type Clock,
  type CloseOptions,
  type ConnectionPool,
  type DurationSummary,
  EmptyPoolError,
  HeadersTimeoutError,
  HttpoolError,
  type HttpResponse,
  type Origin,
  PoolClosedError,
  type PooledConnection,
  type PoolOptions,
  type PoolStats,
  parseProxy,
  type RetryOptions,
  type Timer,
} from '../src/index.js';

/** Compile-time equality of two types. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_proof?: T): void {}

// Functions never called: they exist to be type-checked.
export async function contract(pool: ConnectionPool, agent: Agent): Promise<void> {
  const conn = await pool.acquire({
    blocking: false,
    timeout: 100,
    signal: AbortSignal.timeout(1),
  });
  expectType<Equal<typeof conn, PooledConnection>>();
  const res = await conn.request({ method: 'POST', path: '/', body: 'x', headers: [['a', 'b']] });
  expectType<Equal<typeof res, HttpResponse>>();
  expectType<Equal<typeof res.status, number>>();
  expectType<Equal<ReturnType<typeof res.headers.get>, string | null>>();
  expectType<Equal<Awaited<ReturnType<typeof res.json>>, unknown>>();
  // json<T>() names what the caller expects; the body's json too.
  const user = await res.json<{ id: number; name: string }>();
  expectType<Equal<typeof user, { id: number; name: string }>>();
  expectType<Equal<Awaited<ReturnType<typeof res.body.json<string[]>>>, string[]>>();
  expectType<Equal<typeof res.url, string>>();
  expectType<Equal<typeof res.redirectUrls, readonly string[]>>();
  expectType<Equal<ReturnType<typeof res.headers.getSetCookie>, string[]>>();
  for (const [name, value] of res.headers.entries())
    expectType<Equal<[typeof name, typeof value], [string, string]>>();
  res.headers.forEach((value, name) => {
    expectType<Equal<[typeof value, typeof name], [string, string]>>();
  });
  const failed = new HeadersTimeoutError(1);
  expectType<Equal<typeof failed.origin, string | undefined>>();
  expectType<Equal<typeof failed.path, string | undefined>>();
  for await (const chunk of res.body) expectType<Equal<typeof chunk, Uint8Array>>();
  conn.release();
  pool.release(conn);
  await using _lease = await pool.acquire();
  const stats: PoolStats = pool.stats();
  expectType<Equal<typeof stats.open, number>>();
  expectType<Equal<typeof stats.waitTime, DurationSummary>>();
  expectType<Equal<typeof conn, PooledConnection>>();
  const proxyOrigin: Origin = parseProxy('http://proxy:3128').origin;
  expectType<Equal<typeof proxyOrigin.port, number>>();
  // A clock of the caller's own, as the `clock` option takes.
  const clock: Clock = {
    now: () => 0,
    schedule: (): Timer => ({ cancel() {} }),
  };
  const timed: PoolOptions = { clock };
  void timed;
  const fetched = await agent.fetch('http://localhost/', { method: 'GET' });
  expectType<Equal<typeof fetched, Response>>();
  const viaAgent = await agent.request(new URL('http://localhost/'), { redirect: 'follow' });
  expectType<Equal<typeof viaAgent, HttpResponse>>();
  const closing: CloseOptions = { timeout: 5000 };
  await pool.close(closing);
  await agent.close({ timeout: Number.POSITIVE_INFINITY });
  await pool.close();

  // What the compiler must refuse.
  // @ts-expect-error a method is a string
  await pool.request({ method: 1 });
  // @ts-expect-error no such option
  await pool.acquire({ wait: true });
  // @ts-expect-error a body is not a number
  await pool.request({ body: 42 });
  // @ts-expect-error redirect modes are a closed set
  await agent.request('http://localhost/', { redirect: 'sometimes' });
  // @ts-expect-error a close timeout is a number of ms
  await pool.close({ timeout: '5s' });
  // @ts-expect-error redirectUrls is read-only
  res.redirectUrls.push('http://localhost/');
  // @ts-expect-error an error's location is read-only
  failed.origin = 'http://localhost';
  // @ts-expect-error the response body's producer side is not public
  res.body.push(new Uint8Array(1));
  // @ts-expect-error exactOptionalPropertyTypes: undefined is not a size
  const bad: PoolOptions = { maxSize: undefined };
  void bad;

  // The everyday options, and the top-level functions over the default agent.
  await pool.request({ query: { a: 1, b: ['x', 2n, null], c: undefined }, json: { x: [1] } });
  await agent.request('/relative', { query: new URLSearchParams('a=1'), decompress: true });
  const top = await httpool.request('http://localhost/', { method: 'post', json: null });
  expectType<Equal<typeof top, HttpResponse>>();
  expectType<Equal<ReturnType<typeof httpool.getDefaultAgent>, Agent>>();
  expectType<Equal<Awaited<ReturnType<typeof httpool.fetch>>, Response>>();
  // @ts-expect-error a query value is a string, number, boolean or bigint, not an object
  await pool.request({ query: { a: { b: 1 } } });
  // @ts-expect-error decompress is a boolean
  await pool.request({ decompress: 'gzip' });
  // The names and kinds the runtime check refuses are refused by the compiler too.
  // @ts-expect-error no such pool option (maxSize)
  const typo: PoolOptions = { maxsize: 2 };
  // @ts-expect-error retry statuses are numbers
  const statuses: RetryOptions = { statusCodes: ['503'] };
  // @ts-expect-error a signal is an AbortSignal
  await pool.request({ signal: {} });
  void [typo, statuses];
}

test('the package root exports the contract of DESIGN.md', () => {
  for (const name of [
    'ConnectionPool',
    'PooledConnection',
    'Agent',
    'HttpoolError',
    'EmptyPoolError',
    'PoolClosedError',
    'AcquireTimeoutError',
  ]) {
    assert.equal(typeof (httpool as Record<string, unknown>)[name], 'function', name);
  }
  const errors: Array<[HttpoolError, string]> = [
    [new EmptyPoolError(), 'ERR_POOL_EMPTY'],
    [new PoolClosedError(), 'ERR_POOL_CLOSED'],
    [new AcquireTimeoutError(5), 'ERR_ACQUIRE_TIMEOUT'],
  ];
  for (const [error, code] of errors) {
    assert.equal(error.code, code);
    assert.ok(error instanceof HttpoolError);
    assert.ok(error instanceof Error);
  }
  // The brand lets instanceof work across copies of the package.
  const foreign = Object.create(Object.getPrototypeOf(new EmptyPoolError())) as object;
  assert.ok(foreign instanceof HttpoolError);
  assert.ok(!({ code: 'ERR_POOL_EMPTY' } instanceof HttpoolError));
});

test('instanceof works across two copies of the package, for every error class', async () => {
  // A second copy of the built errors module, as a second install would load it.
  const { mkdtempSync, copyFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { pathToFileURL, fileURLToPath } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'httpool-copy-'));
  copyFileSync(fileURLToPath(new URL('../src/errors.js', import.meta.url)), join(dir, 'errors.js'));
  const other = (await import(pathToFileURL(join(dir, 'errors.js')).href)) as typeof httpool;
  const theirs = new other.SocketError('reset');
  assert.notEqual(other.SocketError, httpool.SocketError);
  assert.ok(theirs instanceof httpool.HttpoolError);
  assert.ok(theirs instanceof httpool.SocketError);
  assert.ok(!(theirs instanceof httpool.StreamResetError));
  assert.ok(new other.StreamResetError('x', 2) instanceof httpool.StreamResetError);
  assert.ok(new other.AcquireTimeoutError(5) instanceof httpool.AcquireTimeoutError);
  assert.ok(!(new other.AcquireTimeoutError(5) instanceof httpool.SocketError));
  // Ours, the usual way, and nothing without the brand.
  assert.ok(new httpool.SocketError('x') instanceof other.SocketError);
  assert.ok(!(new Error('x') instanceof httpool.SocketError));
});
