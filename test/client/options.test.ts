import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { closestName } from '../../src/client/options.js';
import {
  Agent,
  type AgentOptions,
  ConnectionPool,
  InvalidArgumentError,
  type OriginOptions,
  type PoolOptions,
} from '../../src/index.js';
import { startHttpServer, type TestServer } from '../helpers/servers.js';

/** Asserts an InvalidArgumentError whose message matches `message`. */
function invalid(message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error}`);
    assert.equal(error.code, 'ERR_INVALID_ARG');
    assert.match(error.message, message);
    return true;
  };
}

/** Options as JavaScript callers can write them: anything goes past the compiler. */
function loose<T>(value: Record<string, unknown>): T {
  return value as T;
}

/** Pools and agents made by the running test: destroyed after it, even when it failed mid-lease. */
const made: Array<{ destroy(): Promise<void> }> = [];
function opened<T extends { destroy(): Promise<void> }>(client: T): T {
  made.push(client);
  return client;
}
afterEach(() => Promise.all(made.splice(0).map((client) => client.destroy())));

/** Fails the test on any uncaught exception or unhandled rejection while `body` runs. */
async function noUncaught(body: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onError = (error: unknown): void => {
    seen.push(error);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    await body();
    // Timers and listeners the calls might have left behind get a chance to fire.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  }
  assert.deepEqual(seen, []);
}

describe('option names', () => {
  let server: TestServer;
  before(async () => {
    server = await startHttpServer((_req, res) => res.end('ok'));
  });
  after(() => server.close());

  test('an unknown pool option is refused, with the closest name', () => {
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>({ maxsize: 2 })),
      invalid(/^unknown pool option "maxsize" \(did you mean maxSize\?\)$/),
    );
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>({ idleTimout: 5 })),
      invalid(/unknown pool option "idleTimout" \(did you mean idleTimeout\?\)/),
    );
  });

  test('a name far from every known one gets no suggestion', () => {
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>({ banana: 1 })),
      invalid(/^unknown pool option "banana"$/),
    );
  });

  test('Agent options, retry options and parser limits', () => {
    assert.throws(
      () => new Agent(loose<AgentOptions>({ retries: 3 })),
      invalid(/^unknown agent option "retries" \(did you mean retry\?\)$/),
    );
    assert.throws(
      () => new Agent(loose<AgentOptions>({ retry: { limt: 2 } })),
      invalid(/^unknown retry option "limt" \(did you mean limit\?\)$/),
    );
    assert.throws(
      () => new Agent({ limits: loose({ maxHeadersize: 5 }) }),
      invalid(/^unknown parser limit "maxHeadersize" \(did you mean maxHeaderSize\?\)$/),
    );
    // The pool's own options are the agent's too, checked the same way.
    assert.throws(
      () => new Agent(loose<AgentOptions>({ maxsize: 2 })),
      invalid(/^unknown agent option "maxsize" \(did you mean maxSize\?\)$/),
    );
  });

  test('agent.request: an unknown option is refused before anything is sent', async () => {
    const agent = opened(new Agent());
    const before = server.requests;
    await assert.rejects(
      agent.request(server.origin, loose({ redirects: 'follow' })),
      invalid(/^unknown request option "redirects" \(did you mean redirect\?\)$/),
    );
    await assert.rejects(
      agent.request(server.origin, { retry: loose({ limt: 1 }) }),
      invalid(/unknown retry option "limt" \(did you mean limit\?\)/),
    );
    // The path is the URL's: given apart, it would be dropped without a word.
    await assert.rejects(
      agent.request(server.origin, loose({ path: '/x' })),
      invalid(/unknown request option "path"/),
    );
    assert.equal(server.requests, before);
    assert.deepEqual(agent.stats(), {});
  });

  test('acquire() and request() on a pool, and request() on a lease', async () => {
    const pool = opened(new ConnectionPool(server.origin, { maxSize: 1 }));
    await assert.rejects(
      pool.acquire(loose({ tiemout: 5 })),
      invalid(/^unknown acquire option "tiemout" \(did you mean timeout\?\)$/),
    );
    await assert.rejects(
      pool.request(loose({ acquireTimout: 5 })),
      invalid(/^unknown request option "acquireTimout" \(did you mean acquireTimeout\?\)$/),
    );
    // An Agent's request options are not a pool's: said so rather than ignored.
    await assert.rejects(
      pool.request(loose({ redirect: 'follow' })),
      invalid(/unknown request option "redirect" \(redirects are followed by an Agent\)/),
    );
    const conn = await pool.acquire();
    await assert.rejects(
      conn.request(loose({ acquireTimeout: 5 })),
      invalid(/unknown request option "acquireTimeout"/),
    );
    // The refused request changed nothing: the lease still works.
    assert.equal(await (await conn.request({ path: '/' })).text(), 'ok');
    conn.release();
    assert.equal(pool.stats().created, 1);
  });

  test("a typo in perOrigin's result fails the request that needed the pool; the agent goes on", async () => {
    let mode: 'typo' | 'proxy' | 'ok' = 'typo';
    const agent = opened(
      new Agent({
        perOrigin: () =>
          mode === 'typo'
            ? loose<OriginOptions>({ maxsize: 1 })
            : mode === 'proxy'
              ? loose<OriginOptions>({ proxy: 'http://127.0.0.1:9' })
              : { maxSize: 1 },
      }),
    );
    await assert.rejects(
      agent.request(server.origin),
      invalid(/^unknown perOrigin option "maxsize" \(did you mean maxSize\?\)$/),
    );
    mode = 'proxy';
    await assert.rejects(
      agent.request(server.origin),
      invalid(/unknown perOrigin option "proxy" \(the proxy is the agent's\)/),
    );
    assert.deepEqual(agent.stats(), {});
    mode = 'ok';
    assert.equal(await (await agent.request(server.origin)).text(), 'ok');
  });

  test('the name shown is cut short, and names on the prototype chain are unknown too', () => {
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>({ ['x'.repeat(500)]: 1 })),
      (error: unknown) => error instanceof InvalidArgumentError && error.message.length < 120,
    );
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>({ constructor: 1 })),
      invalid(/unknown pool option "constructor"/),
    );
    // Inherited enumerable fields are read as options, so they are checked as options.
    const inherited = Object.create({ maxsize: 2 }) as PoolOptions;
    assert.throws(() => new ConnectionPool(server.origin, inherited), invalid(/"maxsize"/));
  });
});

describe('closestName', () => {
  const known = ['maxSize', 'maxWaiting', 'idleTimeout', 'timeout', 'retry', 'redirect'];
  test('the same name in another case first', () => {
    assert.equal(closestName('MAXSIZE', known), 'maxSize');
    assert.equal(closestName('maxsize', ['maxsizes', 'maxSize']), 'maxSize');
  });
  test('then the nearest by edits, swaps of neighbours included', () => {
    assert.equal(closestName('tiemout', known), 'timeout');
    assert.equal(closestName('idleTimout', known), 'idleTimeout');
    assert.equal(closestName('redirects', known), 'redirect');
    assert.equal(closestName('retries', known), 'retry');
  });
  test('nothing when too much differs', () => {
    assert.equal(closestName('banana', known), undefined);
    assert.equal(closestName('x', known), undefined);
    assert.equal(closestName('size', known), undefined);
  });
});

describe('option values', () => {
  let server: TestServer;
  before(async () => {
    server = await startHttpServer((_req, res) => res.end('ok'));
  });
  after(() => server.close());

  test("redirect: 'folow' is refused, not taken as 'manual'", async () => {
    const agent = opened(new Agent());
    await assert.rejects(
      agent.request(server.origin, loose({ redirect: 'folow' })),
      invalid(/^request option redirect must be one of 'follow', 'manual', 'error', got "folow"$/),
    );
  });

  test("retry.statusCodes: ['503'] is refused, not a status that never matches", async () => {
    assert.throws(
      () => new Agent({ retry: { statusCodes: ['503'] as never } }),
      invalid(
        /^retry option statusCodes must be an array of integer statuses 100-599, got "503" in it$/,
      ),
    );
    const agent = opened(new Agent());
    await assert.rejects(
      agent.request(server.origin, { retry: { statusCodes: [5030] } }),
      invalid(/statusCodes must be an array of integer statuses/),
    );
    assert.throws(
      () => new Agent({ retry: { methods: [1] as never } }),
      invalid(/retry option methods must be an array of method names, got 1 in it/),
    );
    assert.throws(
      () =>
        new Agent({
          retry: { errorCodes: 'ERR_SOCKET' as never },
        }),
      invalid(/retry option errorCodes must be an array of error codes/),
    );
  });

  test("acquireTimeout: 'x', maxRedirections: 'x', blocking: 'no'", async () => {
    const pool = opened(new ConnectionPool(server.origin, { maxSize: 1 }));
    await assert.rejects(
      pool.request(loose({ acquireTimeout: 'x' })),
      invalid(
        /^request option acquireTimeout must be a positive number of ms or Infinity, got a string$/,
      ),
    );
    await assert.rejects(
      pool.acquire(loose({ blocking: 'no' })),
      invalid(/^acquire option blocking must be true or false, got a string$/),
    );
    const agent = opened(new Agent());
    await assert.rejects(
      agent.request(server.origin, loose({ redirect: 'follow', maxRedirections: 'x' })),
      invalid(/^request option maxRedirections must be a non-negative integer or Infinity/),
    );
    assert.throws(
      () => new Agent(loose<AgentOptions>({ maxRedirections: 'x' })),
      invalid(/^agent option maxRedirections must be/),
    );
    assert.equal(pool.stats().created, 0);
  });

  test('numbers: not NaN, in range; a timer value beyond what a Node timer holds', () => {
    for (const [options, message] of [
      [
        { maxSize: Number.NaN },
        /pool option maxSize must be a positive integer or Infinity, got NaN/,
      ],
      [{ maxSize: 1.5 }, /maxSize must be a positive integer/],
      [{ idleTimeout: -1 }, /idleTimeout must be a non-negative number, got -1/],
      [{ connectTimeout: 0 }, /connectTimeout must be a positive number of ms/],
      // Node would fire these at once (with a warning) rather than after 35 days.
      [{ headersTimeout: 3e9 }, /headersTimeout must be .* at most 2147483647 or Infinity/],
      [{ leakDetectionTimeout: 3e9 }, /leakDetectionTimeout must be/],
      [{ maxRequestsPerConnection: 0 }, /maxRequestsPerConnection must be a number >= 1/],
      [{ lookup: 'dns' }, /pool option lookup must be a function, got a string/],
      [{ localAddress: 'here' }, /localAddress must be an IP address, got "here"/],
      [{ tls: [] }, /pool option tls must be an object, got an array/],
      [{ limits: null }, /pool option limits must be an object, got null/],
      [{ proxy: 5 }, /pool option proxy must be a URL or a ProxyConfig, got 5/],
    ] as const) {
      assert.throws(
        () => new ConnectionPool(server.origin, loose<PoolOptions>(options)),
        invalid(message),
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => new Agent({ originIdleTimeout: 3e9 }),
      invalid(/agent option originIdleTimeout must be/),
    );
    assert.throws(
      () => new Agent(loose<AgentOptions>({ perOrigin: {} })),
      invalid(/agent option perOrigin must be a function, got an object/),
    );
    assert.throws(() => new Agent({ retry: { maxDelay: 3e9 } }), invalid(/maxDelay must be/));
  });

  test('options that are not an object', async () => {
    assert.throws(
      () => new ConnectionPool(server.origin, loose<PoolOptions>(null as never)),
      invalid(/^pool options must be an object, got null$/),
    );
    const pool = opened(new ConnectionPool(server.origin));
    await assert.rejects(pool.request([] as never), invalid(/request options must be an object/));
    await assert.rejects(pool.acquire(null as never), invalid(/acquire options must be an object/));
    const agent = opened(new Agent());
    await assert.rejects(
      agent.request(server.origin, 'GET' as never),
      invalid(/request options must be an object, got a string/),
    );
    assert.throws(() => new Agent({ retry: [] as never }), invalid(/retry must be/));
    assert.throws(() => pool.release({} as never), invalid(/release\(\) takes a connection/));
    assert.throws(() => agent.pool(null as never), invalid(/origin must be an absolute/));
  });

  test('valid options of every kind still work', async () => {
    const agentOptions: AgentOptions = {
      maxSize: 2,
      maxTotal: 4,
      maxOrigins: 8,
      idleTimeout: 1000,
      maxWaiting: 10,
      connectTimeout: 2000,
      headersTimeout: Number.POSITIVE_INFINITY,
      bodyTimeout: 5000,
      maxLifetime: 60_000,
      maxRequestsPerConnection: 100,
      keepAliveTimeoutThreshold: 500,
      maxDrainBytes: 1024,
      limits: { maxHeaderCount: 50 },
      tls: { rejectUnauthorized: true },
      leakDetectionTimeout: 60_000,
      originIdleTimeout: 1000,
      maxRedirections: 3,
      retry: { limit: 1, statusCodes: [503], methods: ['get'], errorCodes: ['ERR_SOCKET'] },
      perOrigin: () => ({ maxSize: 1, limits: { maxHeaderSize: 8000 } }),
    };
    const agent = opened(new Agent(agentOptions));
    const res = await agent.request(server.origin, {
      method: 'GET',
      headers: { accept: 'text/plain' },
      body: null,
      signal: AbortSignal.timeout(10_000),
      headersTimeout: 5000,
      bodyTimeout: 5000,
      acquireTimeout: 5000,
      redirect: 'follow',
      maxRedirections: 2,
      retry: 2,
    });
    assert.equal(await res.text(), 'ok');
    assert.equal(await (await agent.fetch(server.origin, { mode: 'cors' })).text(), 'ok');

    const pool = opened(new ConnectionPool(server.origin, { maxSize: 1, idleTimeout: 1000 }));
    const conn = await pool.acquire({
      blocking: true,
      timeout: 1000,
      signal: AbortSignal.timeout(5000),
    });
    const leased = await conn.request({ method: 'GET', path: '/', headers: [['a', 'b']] });
    assert.equal(await leased.text(), 'ok');
    conn.release();
    // undefined is no value: it is skipped, as a default would be.
    const plain = await pool.request({ path: '/', signal: undefined, acquireTimeout: undefined });
    assert.equal(await plain.text(), 'ok');
  });
});

describe('a bad signal', () => {
  let server: TestServer;
  before(async () => {
    server = await startHttpServer((_req, res) => res.end('ok'));
  });
  after(() => server.close());

  test('signal: {} is refused before anything is queued, and the pool serves on', async () => {
    await noUncaught(async () => {
      const pool = opened(new ConnectionPool(server.origin, { maxSize: 1 }));
      const conn = await pool.acquire();
      // The pool is full: a request would have to wait, and used to leave its waiter behind.
      await assert.rejects(
        pool.request(loose({ signal: {} })),
        invalid(/^request option signal must be an AbortSignal, got an object$/),
      );
      await assert.rejects(pool.acquire(loose({ signal: {} })), invalid(/acquire option signal/));
      await assert.rejects(
        conn.request(loose({ signal: 'x' })),
        invalid(/signal must be an AbortSignal/),
      );
      assert.equal(pool.stats().waiting, 0);
      // Releasing hands the connection to the waiters: there must be none, broken or not.
      conn.release();
      assert.equal(await (await pool.request({ path: '/' })).text(), 'ok');
      // Now with an idle connection (the path that takes one without waiting).
      await assert.rejects(pool.request(loose({ signal: null })), invalid(/signal/));
      assert.equal(await (await pool.request({ path: '/' })).text(), 'ok');
      const s = pool.stats();
      assert.deepEqual([s.leased, s.waiting, s.created], [0, 0, 1]);
    });
  });

  test('agent.request and fetch refuse it too, and the agent serves on', async () => {
    await noUncaught(async () => {
      const agent = opened(new Agent({ maxSize: 1 }));
      await assert.rejects(agent.request(server.origin, loose({ signal: {} })), invalid(/signal/));
      // fetch() refuses it as Node's fetch does: a TypeError, before any pool is made.
      await assert.rejects(agent.fetch(server.origin, loose({ signal: {} })), {
        name: 'TypeError',
        message: "RequestInit: 'signal' is not an AbortSignal",
      });
      assert.deepEqual(agent.stats(), {});
      assert.equal(await (await agent.request(server.origin)).text(), 'ok');
    });
  });

  test('a signal that has the shape but refuses a listener leaves nothing behind', async () => {
    const refusing = {
      aborted: false,
      addEventListener() {
        throw new Error('no listeners here');
      },
      removeEventListener() {
        throw new Error('no listeners here');
      },
    } as unknown as AbortSignal;
    await noUncaught(async () => {
      const pool = opened(new ConnectionPool(server.origin, { maxSize: 1 }));
      // Idle connection: the exchange refuses it before the connection turns busy.
      await (await pool.request()).dump();
      await assert.rejects(
        pool.request({ signal: refusing }),
        invalid(/signal must be an AbortSignal/),
      );
      assert.equal(await (await pool.request()).text(), 'ok');
      // Full pool: the wait refuses it before the waiter is queued.
      const conn = await pool.acquire();
      await assert.rejects(
        pool.request({ signal: refusing }),
        invalid(/signal must be an AbortSignal/),
      );
      assert.equal(pool.stats().waiting, 0);
      conn.release();
      assert.equal(await (await pool.request()).text(), 'ok');
      const s = pool.stats();
      assert.deepEqual([s.leased, s.waiting, s.created], [0, 0, 1]);
    });
  });
});
