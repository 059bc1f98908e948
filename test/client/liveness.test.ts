/**
 * Process lifetime, tested the only way it shows: scripts run as child processes that import
 * the built library (dist/), against servers in this process. Every promise the library hands
 * out keeps the child alive until it settles (the wait before a retry included); idle
 * connections and the pools' own timers do not, so a script that never calls close() exits
 * by itself once its work is done.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { describe, test } from 'node:test';
import {
  assertSettled,
  describeExit,
  SETTLE_PRELUDE,
  scriptRunner,
} from '../helpers/child-scripts.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { sleep, startRawServer, type TestServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

// build/test/client/liveness.test.js -> dist/index.js
const DIST = new URL('../../../dist/index.js', import.meta.url).href;

/** What every child script starts with: the library, then the settle prelude. */
const PRELUDE = `
import { Agent, ConnectionPool } from ${JSON.stringify(DIST)};
${SETTLE_PRELUDE}`;

const run = scriptRunner('liveness', PRELUDE, 10_000);

/**
 * A raw server answering every request with `200 hello`, never closing a connection; with
 * `delayMs`, every request after the first is answered that much later.
 */
function helloServer(delayMs = 0): Promise<TestServer> {
  return startRawServer((socket, _head, index) => {
    const answer = () => {
      if (!socket.destroyed) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
    };
    if (delayMs > 0 && index > 0) setTimeout(answer, delayMs);
    else answer();
  });
}

/** A loopback port nothing listens on (one that was just closed). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a promise keeps the process alive until it settles', () => {
  // What the child prints once the request settles, either way.
  const OUTCOME = `
const report = (promise) => promise.then(
  async (res) => { console.log('response', res.status, await res.text()); settled(); },
  (error) => { console.log('rejected', error.name, error.code ?? error.cause?.code); settled(); },
);
`;

  test('connection refused, then retries: agent.request() rejects (the wait before each retry is alive)', async () => {
    const port = await refusedPort();
    const script = run(
      `${OUTCOME}
report(new Agent({ retry: { limit: 2, minDelay: 200 } }).request(params.url));`,
      { url: `http://127.0.0.1:${port}/` },
    );
    assertSettled(await script.exited, ['rejected SocketError ERR_SOCKET']);
  });

  test("the wait before a retry on a clock of the caller, whose timers are unref'd, is alive", async () => {
    const port = await refusedPort();
    const script = run(
      `${OUTCOME}
const clock = {
  now: () => performance.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
report(new Agent({ clock, retry: { limit: 2, minDelay: 200 } }).request(params.url));`,
      { url: `http://127.0.0.1:${port}/` },
    );
    assertSettled(await script.exited, ['rejected SocketError ERR_SOCKET']);
  });

  test('connection refused, then retries: agent.fetch() rejects', async () => {
    const port = await refusedPort();
    const script = run(
      `${OUTCOME}
report(new Agent({ retry: { limit: 2, minDelay: 200 } }).fetch(params.url));`,
      { url: `http://127.0.0.1:${port}/` },
    );
    assertSettled(await script.exited, ['rejected TypeError ERR_SOCKET']);
  });

  test('a headers timeout, then a retry that is answered', async (t) => {
    // The first request is never answered; the second one is.
    const server = await startRawServer((socket, _head, index) => {
      if (index > 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecond');
    });
    t.after(() => server.close());
    const script = run(
      `${OUTCOME}
const agent = new Agent({ headersTimeout: 300, retry: { limit: 1, minDelay: 200 } });
report(agent.request(params.url));`,
      { url: `${server.origin}/` },
    );
    assertSettled(await script.exited, ['response 200 second']);
    assert.equal(server.requests, 2);
  });

  test('a 503 with Retry-After: 1 and Connection: close, then a retry that succeeds', async (t) => {
    const server = await startRawServer((socket, _head, index) => {
      if (index === 0) {
        socket.end(
          'HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
        );
      } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    t.after(() => server.close());
    const script = run(
      `${OUTCOME}
report(new Agent({ retry: 1 }).request(params.url));`,
      { url: `${server.origin}/` },
    );
    assertSettled(await script.exited, ['response 200 ok']);
    assert.equal(server.requests, 2);
  });
});

// Each case has its own server and child: they may run side by side.
describe('idle connections do not hold the process open', { concurrency: 3 }, () => {
  /**
   * One request, its body read, and no close(). At exit the child prints its pool's stats: a
   * connection still idle then proves the exit did not wait for the idle timeout (or the server).
   */
  const FORGETFUL = `
let pool;
let text;
const options = params.idleTimeout === undefined ? {} : { idleTimeout: num(params.idleTimeout) };
if (params.ca !== undefined) options.tls = { ca: params.ca };
if (params.proxy !== undefined) options.proxy = params.proxy;
if (params.via === 'pool') {
  pool = new ConnectionPool(new URL(params.url).origin, options);
  const res = await pool.request({ path: new URL(params.url).pathname });
  text = res.status + ' ' + (await res.text());
} else {
  const agent = new Agent(options);
  const res = params.via === 'fetch' ? await agent.fetch(params.url) : await agent.request(params.url);
  text = res.status + ' ' + (await res.text());
  pool = { stats: () => Object.values(agent.stats())[0] };
}
process.on('exit', () => {
  const { idle, closed } = pool.stats();
  console.log('at exit', JSON.stringify({ idle, closed }));
});
console.log('response', text);
settled();
`;

  /** Runs {@link FORGETFUL} and checks the child exited by itself soon after its response. */
  async function forgetful(
    params: Record<string, unknown>,
    expected: string,
    idleTimeout: number,
  ): Promise<void> {
    const script = run(FORGETFUL, params);
    const answered = await script.line('response');
    const exit = await script.exited;
    assertSettled(exit, [`response ${expected}`, 'at exit {"idle":1,"closed":0}']);
    // Generous, and tied to the idle timeout: the exit did not wait for it.
    const waited = script.exitedAt() - answered;
    const bound = Math.min(idleTimeout / 2, 10_000);
    assert.ok(waited < bound, `exited ${waited.toFixed(0)} ms after the response (bound ${bound})`);
  }

  const cases = [
    { idleTimeout: undefined, ms: 4000 },
    { idleTimeout: 60_000, ms: 60_000 },
    { idleTimeout: 'Infinity', ms: Number.POSITIVE_INFINITY },
  ] as const;

  for (const via of ['pool', 'agent', 'fetch'] as const) {
    for (const { idleTimeout, ms } of cases) {
      const call =
        via === 'pool' ? 'pool.request()' : via === 'agent' ? 'agent.request()' : 'agent.fetch()';
      test(`${call} without close(), idleTimeout ${idleTimeout ?? 'default'}: the script exits by itself`, async (t) => {
        const server = await helloServer();
        t.after(() => server.close());
        await forgetful({ via, url: `${server.origin}/`, idleTimeout }, '200 hello', ms);
      });
    }
  }

  test('agent.request() to a host name (through the DNS cache and its refresh watch) without close(): the script exits by itself', async (t) => {
    const server = await helloServer();
    t.after(() => server.close());
    const url = `http://localhost:${server.port}/`;
    await forgetful({ via: 'agent', url, idleTimeout: 'Infinity' }, '200 hello', Infinity);
  });

  test('the same over TLS, and through proxies (a CONNECT tunnel; TLS inside TLS)', async (t) => {
    const certs = makeCertificates();
    const origin = await startTlsServer(certs);
    const plainProxy = await startProxyServer();
    const tlsProxy = await startProxyServer({ tls: { key: certs.key, cert: certs.cert } });
    t.after(() => Promise.all([origin.close(), plainProxy.close(), tlsProxy.close()]));
    const url = `https://localhost:${origin.port}/tls`;
    const ms = Number.POSITIVE_INFINITY;
    await forgetful({ via: 'agent', url, idleTimeout: 'Infinity', ca: certs.ca }, '200 /tls', ms);
    await forgetful(
      { via: 'agent', url, idleTimeout: 'Infinity', ca: certs.ca, proxy: plainProxy.url },
      '200 /tls',
      ms,
    );
    await forgetful(
      { via: 'agent', url, idleTimeout: 'Infinity', ca: certs.ca, proxy: tlsProxy.url },
      '200 /tls',
      ms,
    );
    assert.equal(plainProxy.tunnels.length, 1);
    assert.equal(tlsProxy.tunnels.length, 1);
  });
});

describe('work in progress keeps the process alive', () => {
  /** How long a child that should stay alive is watched before it is killed. */
  const WATCH_MS = 1500;

  test('a lease that is never released keeps the script running', async (t) => {
    const server = await helloServer();
    t.after(() => server.close());
    // The child keeps the lease and schedules nothing else: only the lease can keep it alive.
    // Its connection served a request and waited idle first, as a pool's connections do.
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { idleTimeout: 60_000 });
await (await pool.request({})).dump();
globalThis.lease = await pool.acquire();
console.log('leased', pool.stats().created);
`,
      { origin: server.origin },
    );
    await script.line('leased 1');
    await sleep(WATCH_MS);
    assert.equal(script.child.exitCode, null, 'the child exited while holding a lease');
    script.kill();
    const exit = await script.exited;
    assert.equal(exit.killed, true, describeExit(exit));
  });

  test('a request in flight, and one queued behind it, keep the script running until answered', async (t) => {
    // After a first request (its connection then waits idle), each answer comes a while after
    // its request: the only thing alive meanwhile is the exchange, and the one queued behind it.
    const server = await helloServer(WATCH_MS / 2);
    t.after(() => server.close());
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { maxSize: 1, idleTimeout: 60_000 });
await (await pool.request({})).dump();
const one = async (name) => {
  const res = await pool.request({});
  console.log(name, res.status, await res.text());
};
await Promise.all([one('first'), one('queued')]);
settled();
`,
      { origin: server.origin },
    );
    assertSettled(await script.exited, ['first 200 hello', 'queued 200 hello']);
    assert.equal(server.connections, 1);
  });

  test('close() settles though the sockets it closes no longer hold the process open', async (t) => {
    const server = await helloServer();
    t.after(() => server.close());
    const script = run(
      `
const pool = new ConnectionPool(params.origin, { idleTimeout: 60_000 });
const agent = new Agent({ idleTimeout: 60_000 });
await (await pool.request({})).dump();
await (await agent.request(params.origin + '/')).dump();
await Promise.all([pool.close(), agent.close()]);
console.log('closed', pool.stats().closed, agent.stats()[params.origin] === undefined);
settled();
`,
      { origin: server.origin },
    );
    assertSettled(await script.exited, ['closed 1 true']);
  });

  test("an acquire waiting for the Agent's maxTotal is served, not left behind, when the connection it waits for goes idle", async (t) => {
    const server = await helloServer();
    t.after(() => server.close());
    // slow.test is looked up slowly; its request is aborted meanwhile, so its connection, once
    // open, has nobody to serve and would sit idle holding the one permit fast.test waits for.
    const script = run(
      `
const lookup = (hostname, _options, callback) => {
  setTimeout(() => callback(null, '127.0.0.1', 4), hostname === 'slow.test' ? 300 : 0);
};
const agent = new Agent({ maxTotal: 1, idleTimeout: 60_000, lookup });
const controller = new AbortController();
const slow = agent.request('http://slow.test:' + params.port + '/', { signal: controller.signal })
  .then(() => console.log('slow answered'), (error) => console.log('slow', error.name));
setTimeout(async () => {
  controller.abort();
  const res = await agent.request('http://fast.test:' + params.port + '/');
  console.log('fast', res.status, await res.text());
  await slow;
  settled();
}, 50);
`,
      { port: server.port },
    );
    assertSettled(await script.exited, ['slow AbortError', 'fast 200 hello']);
  });
});
