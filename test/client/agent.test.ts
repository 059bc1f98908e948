import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FakeClock } from '../../src/clock.js';
import {
  Agent,
  InvalidArgumentError,
  type OriginOptions,
  PoolClosedError,
  RedirectError,
  ResponseLimitError,
  SocketError,
} from '../../src/index.js';
import { startHttpServer, startRawServer, type TestServer } from '../helpers/servers.js';

/** A server that counts its concurrent requests and answers after `delay` ms. */
async function countingServer(delay = 2) {
  const state = { inFlight: 0, maxInFlight: 0 };
  const server = await startHttpServer((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    setTimeout(() => {
      state.inFlight--;
      const body = `${req.method} ${req.url}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, delay);
  });
  return Object.assign(server, { state });
}

describe('Agent', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  test('one pool per origin, maxSize per origin, counted by each server', async () => {
    const a = await countingServer();
    const b = await countingServer();
    servers.push(a, b);
    await using agent = new Agent({ maxSize: 3 });
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const server = i % 2 === 0 ? a : b;
        const res = await agent.request(`${server.origin}/item/${i}?q=1`);
        return [server, await res.text(), i] as const;
      }),
    );
    for (const [, text, i] of results) assert.equal(text, `GET /item/${i}?q=1`);
    assert.equal(a.connections, 3);
    assert.equal(b.connections, 3);
    assert.ok(a.state.maxInFlight <= 3 && b.state.maxInFlight <= 3);
    const stats = agent.stats();
    assert.deepEqual(Object.keys(stats).sort(), [a.origin, b.origin].sort());
    assert.equal(stats[a.origin]!.requests, 30);
    assert.equal(agent.pool(a.origin), agent.pool(`${a.origin}/`));
  });

  test('maxTotal caps connections across origins and serves every origin', async () => {
    const origins = await Promise.all([countingServer(5), countingServer(5), countingServer(5)]);
    servers.push(...origins);
    await using agent = new Agent({ maxSize: 4, maxTotal: 4 });
    let peak = 0;
    let serverPeak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, agent.openConnections);
      serverPeak = Math.max(
        serverPeak,
        origins.reduce((sum, s) => sum + s.open.size, 0),
      );
    }, 1);
    const texts = await Promise.all(
      Array.from({ length: 90 }, async (_, i) => {
        const res = await agent.request(`${origins[i % 3]!.origin}/r${i}`);
        peak = Math.max(peak, agent.openConnections);
        return res.text();
      }),
    );
    clearInterval(sampler);
    texts.forEach((text, i) => {
      assert.equal(text, `GET /r${i}`);
    });
    assert.ok(peak <= 4, `peak ${peak} connections`);
    assert.ok(serverPeak <= 4, `servers held ${serverPeak} connections at once`);
    for (const server of origins) assert.ok(server.requests >= 30);
  });

  test('an idle connection of one origin is closed to serve another under maxTotal', async () => {
    const a = await countingServer();
    const b = await countingServer();
    servers.push(a, b);
    await using agent = new Agent({ maxTotal: 1, idleTimeout: 60_000 });
    await (await agent.request(`${a.origin}/`)).text();
    assert.equal(agent.stats()[a.origin]!.idle, 1);
    const res = await agent.request(`${b.origin}/`);
    assert.equal(await res.text(), 'GET /');
    assert.equal(agent.stats()[a.origin]!.open, 0);
  });

  test('maxOrigins drops the least recently used pool', async () => {
    const s = await Promise.all([countingServer(), countingServer(), countingServer()]);
    servers.push(...s);
    await using agent = new Agent({ maxOrigins: 2 });
    for (const server of s) await (await agent.request(`${server.origin}/`)).text();
    assert.deepEqual(Object.keys(agent.stats()), [s[1]!.origin, s[2]!.origin]);
  });

  test('a pool with nothing to do is dropped after originIdleTimeout', async () => {
    const s = await countingServer();
    servers.push(s);
    await using agent = new Agent({ idleTimeout: 10, originIdleTimeout: 20 });
    await (await agent.request(`${s.origin}/`)).text();
    assert.equal(Object.keys(agent.stats()).length, 1);
    const deadline = Date.now() + 3000;
    while (Object.keys(agent.stats()).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(agent.stats(), {});
  });

  test('close() ends every pool; later requests fail with PoolClosedError', async () => {
    const a = await countingServer();
    const b = await countingServer();
    servers.push(a, b);
    const agent = new Agent();
    await (await agent.request(`${a.origin}/`)).text();
    await (await agent.request(`${b.origin}/`)).text();
    assert.equal(a.open.size + b.open.size, 2);
    await agent.close();
    await assert.rejects(agent.request(`${a.origin}/`), PoolClosedError);
    const deadline = Date.now() + 2000;
    while (a.open.size + b.open.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(a.open.size + b.open.size, 0);
  });

  test('bad input', async () => {
    const agent = new Agent();
    await assert.rejects(agent.request('ftp://x/'), InvalidArgumentError);
    await assert.rejects(agent.request('/relative'), InvalidArgumentError);
    await assert.rejects(agent.request('http://user:pw@127.0.0.1:1/'), InvalidArgumentError);
    assert.throws(() => new Agent({ maxTotal: 0 }), InvalidArgumentError);
    assert.throws(() => new Agent({ maxSize: 0 }), InvalidArgumentError);
    assert.throws(() => new Agent({ retry: { limit: -1 } }), InvalidArgumentError);
    await agent.close();
  });
});

describe('Agent redirects', () => {
  test('not followed unless asked; followed with redirect: follow', async () => {
    const server = await startHttpServer((req, res) => {
      if (req.url === '/start') {
        res.writeHead(302, { location: '/end', 'content-length': 0 });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': 3 });
        res.end('end');
      }
    });
    await using agent = new Agent();
    const manual = await agent.request(`${server.origin}/start`);
    assert.equal(manual.status, 302);
    await manual.dump();
    const followed = await agent.request(`${server.origin}/start`, { redirect: 'follow' });
    assert.equal(followed.status, 200);
    assert.equal(await followed.text(), 'end');
    await assert.rejects(
      agent.request(`${server.origin}/start`, { redirect: 'error' }),
      RedirectError,
    );
    await server.close();
  });

  test('a loop stops at maxRedirections', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(301, { location: '/again', 'content-length': 0 });
      res.end();
    });
    await using agent = new Agent();
    await assert.rejects(
      agent.request(`${server.origin}/`, { redirect: 'follow', maxRedirections: 3 }),
      (error: unknown) => error instanceof RedirectError && server.requests === 4,
    );
    await server.close();
  });

  test('303 turns POST into GET without the body; 307 keeps both', async () => {
    const seen: string[] = [];
    const server = await startHttpServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push(`${req.method} ${req.url} ${body} ${req.headers['content-type'] ?? '-'}`);
      if (req.url === '/303' || req.url === '/307') {
        res.writeHead(Number(req.url.slice(1)), { location: '/done', 'content-length': 0 });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      }
    });
    await using agent = new Agent();
    const post = { method: 'POST', body: 'data', headers: { 'content-type': 'text/plain' } };
    await (await agent.request(`${server.origin}/303`, { ...post, redirect: 'follow' })).text();
    await (await agent.request(`${server.origin}/307`, { ...post, redirect: 'follow' })).text();
    assert.deepEqual(seen, [
      'POST /303 data text/plain',
      'GET /done  -',
      'POST /307 data text/plain',
      'POST /done data text/plain',
    ]);
    await server.close();
  });

  test('credentials are dropped on a cross-origin hop and stay dropped', async () => {
    const seen: Array<[string, unknown, unknown, unknown]> = [];
    const record = (name: string) => (req: import('node:http').IncomingMessage) => {
      seen.push([
        `${name}${req.url}`,
        req.headers.authorization,
        req.headers.cookie,
        req.headers['x-other'],
      ]);
    };
    let bOrigin = '';
    let aOrigin = '';
    const a = await startHttpServer((req, res) => {
      record('a')(req);
      const location = req.url === '/start' ? `${bOrigin}/hop` : '/end';
      if (req.url === '/end') res.writeHead(200, { 'content-length': 0 });
      else res.writeHead(302, { location, 'content-length': 0 });
      res.end();
    });
    const b = await startHttpServer((req, res) => {
      record('b')(req);
      res.writeHead(302, { location: `${aOrigin}/back`, 'content-length': 0 });
      res.end();
    });
    aOrigin = a.origin;
    bOrigin = b.origin;
    await using agent = new Agent();
    const res = await agent.request(`${a.origin}/start`, {
      redirect: 'follow',
      headers: { authorization: 'Bearer secret', cookie: 'sid=1', 'x-other': 'kept' },
    });
    await res.dump();
    assert.deepEqual(seen, [
      ['a/start', 'Bearer secret', 'sid=1', 'kept'],
      ['b/hop', undefined, undefined, 'kept'],
      ['a/back', undefined, undefined, 'kept'],
      ['a/end', undefined, undefined, 'kept'],
    ]);
    await a.close();
    await b.close();
  });

  test('a redirect to another scheme is refused', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(302, { location: 'file:///etc/passwd', 'content-length': 0 });
      res.end();
    });
    await using agent = new Agent();
    await assert.rejects(agent.request(`${server.origin}/`, { redirect: 'follow' }), RedirectError);
    await server.close();
  });

  test('a redirect to a URL with credentials is refused, not followed without them', async () => {
    const seen: string[] = [];
    const server = await startHttpServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      const location = req.url === '/' ? `http://user:pw@${req.headers.host}/next` : undefined;
      res.writeHead(location ? 302 : 200, {
        ...(location ? { location } : {}),
        'content-length': 0,
      });
      res.end();
    });
    await using agent = new Agent();
    await assert.rejects(
      agent.request(`${server.origin}/`, { redirect: 'follow' }),
      (error: Error) => error instanceof RedirectError && /credentials/.test(error.message),
    );
    // Manual mode hands the redirect over as it is.
    const manual = await agent.request(`${server.origin}/`);
    assert.equal(manual.status, 302);
    await manual.dump();
    assert.deepEqual(seen, ['/ -', '/ -'], 'the target was never requested');
    await server.close();
  });
});

describe('Agent retries', () => {
  test('off by default; a GET is retried on 503 when asked, a POST is not', async () => {
    let count = 0;
    const server = await startHttpServer((_req, res) => {
      count++;
      const fail = count % 3 !== 0;
      res.writeHead(fail ? 503 : 200, { 'content-length': 2, 'retry-after': '0' });
      res.end(fail ? 'no' : 'ok');
    });
    await using agent = new Agent({ retry: { limit: 3, minDelay: 1 } });
    const res = await agent.request(`${server.origin}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    assert.equal(server.requests, 3);
    assert.equal(server.connections, 1, 'dumped bodies let the connection be reused');
    const post = await agent.request(`${server.origin}/`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 503);
    await post.dump();
    assert.equal(server.requests, 4);
    await using plain = new Agent();
    const once = await plain.request(`${server.origin}/`);
    await once.dump();
    assert.equal(server.requests, 5);
    await server.close();
  });

  test('a GET is retried after a connection error; the limit is honoured', async () => {
    const server = await startRawServer((socket) => socket.destroy());
    await using agent = new Agent({ retry: { limit: 2, minDelay: 1 } });
    await assert.rejects(agent.request(`${server.origin}/`), SocketError);
    assert.equal(server.requests, 3);
    await server.close();
  });

  test('Retry-After is capped by maxDelay', async () => {
    let count = 0;
    const server = await startHttpServer((_req, res) => {
      count++;
      res.writeHead(count === 1 ? 429 : 200, { 'retry-after': '3600', 'content-length': 0 });
      res.end();
    });
    await using agent = new Agent({ retry: { limit: 1, minDelay: 1, maxDelay: 20 } });
    const res = await agent.request(`${server.origin}/`);
    assert.equal(res.status, 200);
    await res.dump();
    await server.close();
  });
});

describe('Agent retries on the agent clock', () => {
  test("a retry's wait runs on the clock option: a fake clock moves it, abort ends it", async () => {
    let count = 0;
    const server = await startHttpServer((_req, res) => {
      count++;
      res.writeHead(count === 1 ? 503 : 200, { 'retry-after': '3600', 'content-length': 2 });
      res.end('ok');
    });
    const clock = new FakeClock();
    await using agent = new Agent({ clock, retry: { limit: 1, maxDelay: 60_000 } });
    const pending = agent.request(`${server.origin}/`);
    while (count < 1) await new Promise((resolve) => setImmediate(resolve));
    // An hour's Retry-After capped at a minute: nothing happens until the clock says so.
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(count, 1);
    clock.advance(60_000);
    const res = await pending;
    assert.equal(res.status, 200);
    await res.dump();
    assert.equal(count, 2);
    // Aborted while waiting: rejects with the reason, no second request.
    count = 0;
    const controller = new AbortController();
    const aborted = agent.request(`${server.origin}/`, { signal: controller.signal });
    while (count < 1) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    assert.equal(count, 1);
    await server.close();
  });
});

describe('Agent maxOrigins under load', () => {
  test('a pool with requests in hand is never dropped to make room for another origin', async () => {
    const slow = await countingServer(100);
    const other = await countingServer();
    try {
      await using agent = new Agent({ maxOrigins: 1, maxSize: 1 });
      const a1 = agent.request(`${slow.origin}/1`);
      const a2 = agent.request(`${slow.origin}/2`);
      const b = agent.request(`http://localhost:${other.port}/b`);
      const texts = await Promise.all([a1, a2, b].map(async (p) => (await p).text()));
      assert.deepEqual(texts, ['GET /1', 'GET /2', 'GET /b']);
    } finally {
      await slow.close();
      await other.close();
    }
  });
});

describe('Agent perOrigin', () => {
  /** Answers after 30 ms, so concurrent requests need concurrent connections. */
  const slow = () =>
    startHttpServer((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      }, 30);
    });

  test("per-origin settings are merged over the agent's, asked once per pool", async () => {
    const [small, big] = [await slow(), await slow()];
    const asked: string[] = [];
    const agent = new Agent({
      maxSize: 4,
      perOrigin: (origin) => {
        asked.push(origin);
        return origin === small.origin ? { maxSize: 1 } : undefined;
      },
    });
    try {
      const burst = (origin: string) =>
        Promise.all(
          Array.from({ length: 6 }, async () => (await agent.request(`${origin}/x`)).text()),
        );
      await Promise.all([burst(small.origin), burst(big.origin)]);
      assert.equal(small.connections, 1);
      assert.equal(big.connections, 4);
      assert.deepEqual(asked.sort(), [big.origin, small.origin].sort());
    } finally {
      await agent.close();
      await Promise.all([small.close(), big.close()]);
    }
  });

  test("undefined keeps the agent's value; limits merge field by field", async () => {
    const server = await startRawServer((socket) => {
      const fields = Array.from({ length: 8 }, (_, i) => `x-${i}: ${i}\r\n`).join('');
      socket.write(`HTTP/1.1 200 OK\r\n${fields}content-length: 2\r\n\r\nok`);
    });
    const busy = await slow();
    const agent = new Agent({
      maxSize: 1,
      limits: { maxHeaderCount: 5 },
      // maxSize: undefined as a JavaScript caller may write it (the types say leave it out).
      perOrigin: () =>
        ({ maxSize: undefined, limits: { maxResponseSize: 1000 } }) as unknown as OriginOptions,
    });
    try {
      // The agent's maxHeaderCount survived the per-origin limits.
      await assert.rejects(agent.request(server.origin), (error: unknown) => {
        assert.ok(error instanceof ResponseLimitError);
        assert.equal(error.limit, 'maxHeaderCount');
        return true;
      });
      // maxSize: undefined kept the agent's 1.
      await Promise.all(
        Array.from({ length: 3 }, async () => (await agent.request(busy.origin)).text()),
      );
      assert.equal(busy.connections, 1);
    } finally {
      await agent.close();
      await Promise.all([server.close(), busy.close()]);
    }
  });

  test("fetch() applies the origin's own maxResponseSize to a decoded body", async () => {
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': bomb.length, 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    const agent = new Agent({
      perOrigin: () => ({ limits: { maxResponseSize: 64 * 1024 } }),
    });
    try {
      const response = await agent.fetch(server.origin);
      await assert.rejects(response.arrayBuffer(), (error: unknown) => {
        const cause = (error as { cause?: unknown }).cause;
        assert.ok(cause instanceof ResponseLimitError);
        assert.equal(cause.value, 64 * 1024);
        return true;
      });
    } finally {
      await agent.close();
      await server.close();
    }
  });

  test('a bad value or a throw fails the request that needed the pool; the agent goes on', async () => {
    const server = await slow();
    const broken = new Error('perOrigin exploded');
    let mode: 'bad' | 'throw' | 'ok' = 'bad';
    const agent = new Agent({
      perOrigin: () => {
        if (mode === 'throw') throw broken;
        return mode === 'bad' ? ({ maxSize: -3 } as OriginOptions) : undefined;
      },
    });
    try {
      await assert.rejects(agent.request(server.origin), InvalidArgumentError);
      mode = 'throw';
      await assert.rejects(agent.request(server.origin), (error) => error === broken);
      mode = 'ok';
      assert.equal(await (await agent.request(server.origin)).text(), 'ok');
      const later = new Agent({
        perOrigin: (async () => ({ maxSize: 1 })) as unknown as () => undefined,
      });
      await assert.rejects(later.request(server.origin), InvalidArgumentError);
      await later.close();
      assert.throws(
        () => new Agent({ perOrigin: 5 as unknown as () => undefined }),
        InvalidArgumentError,
      );
    } finally {
      await agent.close();
      await server.close();
    }
  });
});
