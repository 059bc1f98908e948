/**
 * The everyday options: `query`, `json`, default `headers`, `baseUrl`, lower-case methods,
 * `decompress` for request(), and the top-level request()/fetch() over a default Agent.
 * Everything is checked against what a loopback server saw or sent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import {
  Agent,
  ConnectionPool,
  getDefaultAgent,
  fetch as httpoolFetch,
  InvalidArgumentError,
  ResponseError,
  ResponseLimitError,
  request,
  setDefaultAgent,
} from '../../src/index.js';
import { collectGarbage } from '../helpers/gc.js';
import { startHttpServer, startRawServer, type TestServer } from '../helpers/servers.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  raw: string[];
  body: string;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const PAYLOAD = 'hello, decoded world '.repeat(50);

function encode(codings: string[], body: Buffer): Buffer {
  let out = body;
  for (const coding of codings) {
    if (coding === 'gzip') out = zlib.gzipSync(out);
    else if (coding === 'deflate') out = zlib.deflateSync(out);
    else if (coding === 'rawdeflate') out = zlib.deflateRawSync(out);
    else if (coding === 'br') out = zlib.brotliCompressSync(out);
    else if (coding === 'zstd') {
      out = (zlib as unknown as { zstdCompressSync: (b: Buffer) => Buffer }).zstdCompressSync(out);
    }
  }
  return out;
}

/**
 * - `/echo...`: JSON of what arrived
 * - `/encoded/<codings>`: PAYLOAD under those codings (`rawdeflate` is sent as `deflate`)
 * - `/redirect?to=<url>`: a 302
 */
async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/');
  if (parts[1] === 'encoded') {
    const codings = (parts[2] ?? '').split(',').filter((c) => c !== '');
    const body = encode(codings, Buffer.from(PAYLOAD));
    const named = codings.map((c) => (c === 'rawdeflate' ? 'deflate' : c)).join(', ');
    res.writeHead(200, {
      'content-length': body.byteLength,
      ...(named === '' ? {} : { 'content-encoding': named }),
      'x-kept': 'yes',
    });
    res.end(body);
    return;
  }
  if (parts[1] === 'redirect') {
    res.writeHead(302, { location: url.searchParams.get('to') ?? '/', 'content-length': 0 });
    res.end();
    return;
  }
  const body = await readAll(req);
  const echo: Echo = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    raw: req.rawHeaders,
    body: body.toString('utf8'),
  };
  const text = JSON.stringify(echo);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

let server: TestServer;
let other: TestServer;
before(async () => {
  server = await startHttpServer((req, res) => void handler(req, res));
  other = await startHttpServer((req, res) => void handler(req, res));
});
after(async () => {
  await getDefaultAgent().close();
  await server.close();
  await other.close();
});

async function echoOf(response: { json(): Promise<unknown> }): Promise<Echo> {
  return (await response.json()) as Echo;
}

const isInvalid = (error: unknown) => error instanceof InvalidArgumentError;

describe('query', () => {
  test('an object: repeated keys for arrays, undefined and null left out, appended to the path', async () => {
    await using pool = new ConnectionPool(server.origin);
    const echo = await echoOf(
      await pool.request({
        path: '/echo',
        query: { a: 1, tag: ['x', 'y'], on: true, big: 10n, skip: undefined, none: null },
      }),
    );
    assert.equal(echo.url, '/echo?a=1&tag=x&tag=y&on=true&big=10');
  });

  test('merged with a query already in the path', async () => {
    await using pool = new ConnectionPool(server.origin);
    for (const [path, expected] of [
      ['/echo?x=1', '/echo?x=1&y=2'],
      ['/echo?', '/echo?y=2'],
      ['/echo?x=1&', '/echo?x=1&y=2'],
    ] as const) {
      const echo = await echoOf(await pool.request({ path, query: { y: 2 } }));
      assert.equal(echo.url, expected);
    }
    // Nothing to add leaves the path as it is.
    assert.equal((await echoOf(await pool.request({ path: '/echo', query: {} }))).url, '/echo');
  });

  test('encoding: spaces as %20, unicode as UTF-8, & = + # ? escaped', async () => {
    await using pool = new ConnectionPool(server.origin);
    const value = 'a b&c=d+e#f?g/é€😀';
    const echo = await echoOf(await pool.request({ path: '/echo', query: { 'k y': value } }));
    assert.equal(echo.url, `/echo?k%20y=${encodeURIComponent(value)}`);
    // The server reads back exactly what was given.
    const parsed = new URL(echo.url, 'http://x').searchParams;
    assert.equal(parsed.get('k y'), value);
  });

  test('a URLSearchParams is taken with its entries in order', async () => {
    await using pool = new ConnectionPool(server.origin);
    const params = new URLSearchParams([
      ['b', '2'],
      ['a', '1 2'],
      ['b', '3'],
    ]);
    const echo = await echoOf(await pool.request({ path: '/echo', query: params }));
    assert.equal(echo.url, '/echo?b=2&a=1%202&b=3');
  });

  test('on a leased connection and through an Agent (merged with the URL query)', async () => {
    await using pool = new ConnectionPool(server.origin);
    {
      await using conn = await pool.acquire();
      const echo = await echoOf(await conn.request({ path: '/echo', query: { q: 'x y' } }));
      assert.equal(echo.url, '/echo?q=x%20y');
    }
    await using agent = new Agent();
    const echo = await echoOf(
      await agent.request(`${server.origin}/echo?page=1#frag`, { query: { per: 20 } }),
    );
    assert.equal(echo.url, '/echo?page=1&per=20');
  });

  test('the query goes to the first hop only, not to a redirect target', async () => {
    await using agent = new Agent();
    const to = `${other.origin}/echo?from=redirect`;
    const response = await agent.request(`${server.origin}/redirect`, {
      query: { to },
      redirect: 'follow',
    });
    assert.equal((await echoOf(response)).url, '/echo?from=redirect');
  });

  test('a value that is not a string, number, boolean or bigint is refused', async () => {
    await using pool = new ConnectionPool(server.origin);
    for (const query of [{ a: { b: 1 } }, { a: [[1]] }, { a: Symbol('s') }, 'a=1', [['a', '1']]]) {
      await assert.rejects(
        pool.request({ path: '/echo', query: query as never }),
        isInvalid,
        String(JSON.stringify(query)),
      );
    }
    assert.equal(pool.stats().requests, 0);
  });
});

describe('json', () => {
  test('serialized as the body with content-type application/json', async () => {
    await using pool = new ConnectionPool(server.origin);
    const value = { a: [1, 'two', null], é: true };
    const echo = await echoOf(await pool.request({ method: 'POST', path: '/echo', json: value }));
    assert.deepEqual(JSON.parse(echo.body), value);
    assert.equal(echo.headers['content-type'], 'application/json');
    assert.equal(Number(echo.headers['content-length']), Buffer.byteLength(echo.body));
    // Any JSON value, null and numbers included.
    for (const json of [null, 0, 'text', [1, 2]]) {
      const e = await echoOf(await pool.request({ method: 'PUT', path: '/echo', json }));
      assert.deepEqual(JSON.parse(e.body), json);
    }
  });

  test("the request's own content-type wins, in any case; json's beats a default", async () => {
    await using pool = new ConnectionPool(server.origin, {
      headers: { 'content-type': 'text/plain' },
    });
    const own = await echoOf(
      await pool.request({
        method: 'POST',
        path: '/echo',
        json: { a: 1 },
        headers: { 'Content-Type': 'application/vnd.api+json' },
      }),
    );
    assert.equal(own.headers['content-type'], 'application/vnd.api+json');
    assert.equal(own.raw.filter((name) => name.toLowerCase() === 'content-type').length, 1);
    const defaulted = await echoOf(
      await pool.request({ method: 'POST', path: '/echo', json: { a: 1 } }),
    );
    assert.equal(defaulted.headers['content-type'], 'application/json');
  });

  test('through an Agent, and kept by a 307', async () => {
    await using agent = new Agent();
    const echo = await echoOf(
      await agent.request(`${server.origin}/echo`, { method: 'post', json: { x: 1 } }),
    );
    assert.equal(echo.method, 'POST');
    assert.equal(echo.body, '{"x":1}');
    assert.equal(echo.headers['content-type'], 'application/json');
  });

  test('json with a body, or a value JSON cannot represent, is refused', async () => {
    await using pool = new ConnectionPool(server.origin);
    await assert.rejects(
      pool.request({ method: 'POST', path: '/echo', json: { a: 1 }, body: 'x' }),
      isInvalid,
    );
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    for (const json of [() => 1, Symbol('s'), 1n, cycle]) {
      await assert.rejects(pool.request({ method: 'POST', path: '/echo', json }), isInvalid);
    }
    await using agent = new Agent();
    await assert.rejects(
      agent.request(`${server.origin}/echo`, { method: 'POST', json: 1, body: 'x' }),
      isInvalid,
    );
    assert.equal(pool.stats().requests, 0);
  });
});

describe('default headers', () => {
  test('merged under the request: its own value wins (any case), undefined/null removes', async () => {
    await using pool = new ConnectionPool(server.origin, {
      headers: { 'user-agent': 'httpool-test', 'x-api-key': 'k1', accept: 'text/plain' },
    });
    const plain = await echoOf(await pool.request({ path: '/echo' }));
    assert.equal(plain.headers['user-agent'], 'httpool-test');
    assert.equal(plain.headers['x-api-key'], 'k1');
    const merged = await echoOf(
      await pool.request({
        path: '/echo',
        headers: { 'User-Agent': 'mine', 'x-api-key': null, accept: undefined, 'x-own': '1' },
      } as never),
    );
    assert.equal(merged.headers['user-agent'], 'mine');
    assert.equal(merged.raw.filter((n) => n.toLowerCase() === 'user-agent').length, 1);
    assert.equal(merged.headers['x-api-key'], undefined);
    assert.equal(merged.headers['accept'], undefined);
    assert.equal(merged.headers['x-own'], '1');
    // Headers as pairs merge the same way.
    const pairs = await echoOf(
      await pool.request({
        path: '/echo',
        headers: [
          ['X-API-KEY', 'k2'],
          ['x-more', 'a'],
        ],
      }),
    );
    assert.equal(pairs.headers['x-api-key'], 'k2');
    assert.equal(pairs.headers['user-agent'], 'httpool-test');
    // On a leased connection too.
    await using conn = await pool.acquire();
    assert.equal((await echoOf(await conn.request({ path: '/echo' }))).headers['x-api-key'], 'k1');
  });

  test('on an Agent: for request() and fetch(), dropped with credentials across origins', async () => {
    await using agent = new Agent({
      headers: { authorization: 'Bearer secret', 'user-agent': 'agent-ua' },
    });
    const direct = await echoOf(await agent.request(`${server.origin}/echo`));
    assert.equal(direct.headers['authorization'], 'Bearer secret');
    assert.equal(direct.headers['user-agent'], 'agent-ua');
    const fetched = (await (await agent.fetch(`${server.origin}/echo`)).json()) as Echo;
    assert.equal(fetched.headers['user-agent'], 'agent-ua');
    assert.equal(fetched.headers['authorization'], 'Bearer secret');
    const to = `${other.origin}/echo`;
    const redirected = await echoOf(
      await agent.request(`${server.origin}/redirect?to=${encodeURIComponent(to)}`, {
        redirect: 'follow',
      }),
    );
    assert.equal(redirected.headers['authorization'], undefined);
    assert.equal(redirected.headers['user-agent'], 'agent-ua');
    const viaFetch = (await (
      await agent.fetch(`${server.origin}/redirect?to=${encodeURIComponent(to)}`)
    ).json()) as Echo;
    assert.equal(viaFetch.headers['authorization'], undefined);
  });

  test('a default header a request would refuse is refused when the pool or agent is made', () => {
    for (const headers of [
      { 'bad name': 'x' },
      { 'x-a': 'line\r\nbreak' },
      { 'content-length': '5' },
      'user-agent: x',
    ]) {
      assert.throws(
        () => new ConnectionPool(server.origin, { headers: headers as never }),
        isInvalid,
      );
      assert.throws(() => new Agent({ headers: headers as never }), isInvalid);
    }
  });
});

describe('baseUrl', () => {
  test('a relative URL resolves against it; an absolute one is used as it is', async () => {
    await using agent = new Agent({ baseUrl: `${server.origin}/api/` });
    assert.equal((await echoOf(await agent.request('v1/items?x=1'))).url, '/api/v1/items?x=1');
    assert.equal((await echoOf(await agent.request('/v1/items'))).url, '/v1/items');
    const elsewhere = await echoOf(await agent.request(`${other.origin}/echo`));
    assert.equal(elsewhere.url, '/echo');
    assert.ok(Object.keys(agent.stats()).includes(other.origin));
    const fetched = (await (await agent.fetch('v1/fetched')).json()) as Echo;
    assert.equal(fetched.url, '/api/v1/fetched');
  });

  test('without a trailing slash the last segment is replaced (the URL standard)', async () => {
    await using agent = new Agent({ baseUrl: new URL(`${server.origin}/api`) });
    assert.equal((await echoOf(await agent.request('v1/items'))).url, '/v1/items');
    assert.equal((await echoOf(await agent.request('?page=2'))).url, '/api?page=2');
  });

  test('an invalid baseUrl is refused when the agent is made; a relative URL needs one', async () => {
    for (const baseUrl of ['api/v1', 'ftp://example.com/', 'http://user:pw@example.com/', 42]) {
      assert.throws(() => new Agent({ baseUrl: baseUrl as never }), isInvalid, String(baseUrl));
    }
    await using agent = new Agent();
    await assert.rejects(agent.request('/v1/items'), isInvalid);
  });
});

describe('lower-case methods', () => {
  test('get, post, put, delete, head, options are sent upper-case; patch as given', async () => {
    const seen: string[] = [];
    const raw = await startRawServer((socket, head) => {
      const method = head.slice(0, head.indexOf(' '));
      seen.push(method);
      // A HEAD answer has no body, whatever its Content-Length says.
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n${method === 'HEAD' ? '' : 'ok'}`);
    });
    try {
      // A 'head' taken for an unknown method would wait for the 2 bytes: fail fast instead.
      await using pool = new ConnectionPool(raw.origin, { bodyTimeout: 2000 });
      for (const method of ['get', 'Post', 'put', 'delete', 'options', 'patch', 'PATCH']) {
        const response = await pool.request({ method, path: '/' });
        assert.equal(await response.text(), 'ok');
      }
      // A lower-case head is a HEAD: no body is expected after the head, whatever its length.
      const head = await pool.request({ method: 'head', path: '/' });
      assert.equal(await head.text(), '');
      assert.deepEqual(seen, ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'patch', 'PATCH', 'HEAD']);
      // The connection is still in sync: the next request gets its own answer.
      assert.equal(await (await pool.request({ method: 'get' })).text(), 'ok');
      assert.equal(pool.stats().created, 1);
    } finally {
      await raw.close();
    }
  });

  test('through an Agent: a 302 turns a lower-case post into GET', async () => {
    await using agent = new Agent();
    const echo = await echoOf(
      await agent.request(`${server.origin}/redirect?to=/echo`, {
        method: 'post',
        body: 'x',
        redirect: 'follow',
      }),
    );
    assert.equal(echo.method, 'GET');
    assert.equal(echo.body, '');
  });
});

describe('decompress', () => {
  const zstd =
    typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
  const codings = ['gzip', 'deflate', 'rawdeflate', 'br', 'gzip,br', 'deflate,gzip'];
  if (zstd) codings.push('zstd', 'zstd,gzip');
  else {
    test('zstd', {
      skip: `this Node (${process.version}) has no zlib.createZstdDecompress`,
    }, () => {});
  }
  for (const coding of codings) {
    test(`${coding}: decoded, Content-Encoding and Content-Length removed`, async () => {
      await using pool = new ConnectionPool(server.origin);
      const response = await pool.request({ path: `/encoded/${coding}`, decompress: true });
      assert.equal(response.headers.get('content-encoding'), null);
      assert.equal(response.headers.get('content-length'), null);
      assert.equal(response.headers.get('x-kept'), 'yes');
      assert.equal(await response.text(), PAYLOAD);
    });
  }

  test('identity and an unknown coding are left as they are', async () => {
    await using pool = new ConnectionPool(server.origin, { decompress: true });
    const plain = await pool.request({ path: '/encoded/' });
    assert.equal(await plain.text(), PAYLOAD);
    assert.equal(plain.headers.get('content-length'), String(PAYLOAD.length));
  });

  test('the Accept-Encoding sent; a request that sets its own keeps it', async () => {
    await using pool = new ConnectionPool(server.origin);
    const asked = await echoOf(await pool.request({ path: '/echo', decompress: true }));
    assert.equal(asked.headers['accept-encoding'], 'gzip, deflate');
    const own = await echoOf(
      await pool.request({
        path: '/echo',
        decompress: true,
        headers: { 'Accept-Encoding': 'gzip' },
      }),
    );
    assert.equal(own.headers['accept-encoding'], 'gzip');
    const off = await echoOf(await pool.request({ path: '/echo' }));
    assert.equal(off.headers['accept-encoding'], undefined);
  });

  test('off by default: the raw bytes; per request, per pool and per agent', async () => {
    await using pool = new ConnectionPool(server.origin);
    const raw = await pool.request({ path: '/encoded/gzip' });
    assert.equal(raw.headers.get('content-encoding'), 'gzip');
    const bytes = Buffer.from(await raw.bytes());
    assert.deepEqual(bytes, zlib.gzipSync(Buffer.from(PAYLOAD)));
    await using decoding = new ConnectionPool(server.origin, { decompress: true });
    assert.equal(await (await decoding.request({ path: '/encoded/gzip' })).text(), PAYLOAD);
    const optedOut = await decoding.request({ path: '/encoded/gzip', decompress: false });
    assert.equal(optedOut.headers.get('content-encoding'), 'gzip');
    await optedOut.dump();
    await using agent = new Agent({ decompress: true });
    assert.equal(await (await agent.request(`${server.origin}/encoded/br`)).text(), PAYLOAD);
    await using plainAgent = new Agent();
    const perRequest = await plainAgent.request(`${server.origin}/encoded/deflate`, {
      decompress: true,
    });
    assert.equal(await perRequest.text(), PAYLOAD);
    // fetch() decodes by itself and keeps the headers, whatever the agent's setting.
    const fetched = await agent.fetch(`${server.origin}/encoded/gzip`);
    assert.equal(fetched.headers.get('content-encoding'), 'gzip');
    assert.equal(await fetched.text(), PAYLOAD);
  });

  test('maxResponseSize bounds the decoded bytes: a gzip bomb fails with ResponseLimitError', async () => {
    // 16 MiB of zeros gzip to about 16 KiB: far under the limit on the wire, far over decoded.
    const bomb = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const bombing = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.byteLength });
      res.end(bomb);
    });
    try {
      const limit = 1024 * 1024;
      await using pool = new ConnectionPool(bombing.origin, {
        limits: { maxResponseSize: limit },
        decompress: true,
      });
      const response = await pool.request({});
      await assert.rejects(response.arrayBuffer(), (error: unknown) => {
        assert.ok(error instanceof ResponseLimitError, String(error));
        assert.equal(error.limit, 'maxResponseSize');
        assert.equal(error.value, limit);
        return true;
      });
      // The pool is not left busy: the next request gets a connection.
      const again = await pool.request({ decompress: false });
      assert.equal((await again.bytes()).byteLength, bomb.byteLength);
      await eventuallyIdle(pool);
    } finally {
      await bombing.close();
    }
  });

  test('a corrupt body fails with ResponseError, and the connection is not left busy', async () => {
    const corrupt = await startHttpServer((_req, res) => {
      const body = Buffer.from('definitely not gzip at all');
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.byteLength });
      res.end(body);
    });
    try {
      await using pool = new ConnectionPool(corrupt.origin, { maxSize: 1 });
      const response = await pool.request({ decompress: true });
      await assert.rejects(response.text(), (error: unknown) => {
        assert.ok(error instanceof ResponseError, String(error));
        assert.match(error.message, /gzip/);
        return true;
      });
      const next = await pool.request({ decompress: true, acquireTimeout: 5000 });
      await assert.rejects(next.text(), ResponseError);
    } finally {
      await corrupt.close();
    }
  });

  test('the decoded body streams with backpressure: an unread body stops the server', async () => {
    // Incompressible bytes, so what the server has written is what the client has received.
    const total = 32 * 1024 * 1024;
    const source = randomBytes(total);
    let written = 0;
    let finished = false;
    const streaming = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      const gzip = zlib.createGzip({ level: 1 });
      gzip.on('data', (chunk: Buffer) => {
        written += chunk.byteLength;
      });
      gzip.pipe(res);
      gzip.end(source);
      res.on('finish', () => {
        finished = true;
      });
    });
    try {
      await using pool = new ConnectionPool(streaming.origin);
      const response = await pool.request({ decompress: true });
      const iterator = response.body[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.equal(first.done, false);
      // Not reading: the server must stall well before it has sent everything.
      let last = -1;
      while (written !== last) {
        last = written;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(finished, false, 'the server sent the whole body to a reader that stopped');
      let received = (first.value as Uint8Array).byteLength;
      for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) {
        received += r.value.byteLength;
      }
      assert.equal(received, total);
    } finally {
      await streaming.close();
    }
  });

  test('a decoded response dropped unread gives its connection back once collected', async () => {
    // Bigger than what is queued before the socket pauses: the body is still arriving.
    const big = zlib.gzipSync(randomBytes(4 * 1024 * 1024));
    const serving = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': big.byteLength });
      res.end(big);
    });
    try {
      const pool = new ConnectionPool(serving.origin, { maxSize: 1, decompress: true });
      try {
        await pool.request({}); // dropped at once, unread
        await collectGarbage(20, () => pool.stats().leased === 0);
        const next = await pool.request({ acquireTimeout: 5000 });
        assert.equal((await next.bytes()).byteLength, 4 * 1024 * 1024);
      } finally {
        // Bounded: a connection held by the dropped body would otherwise keep close() waiting.
        await pool.close({ timeout: 1000 });
      }
    } finally {
      await serving.close();
    }
  });

  test('dump() of a decoded body frees the connection for the next request', async () => {
    await using pool = new ConnectionPool(server.origin, { maxSize: 1, decompress: true });
    for (let i = 0; i < 3; i++) {
      const response = await pool.request({ path: '/encoded/gzip', acquireTimeout: 5000 });
      await response.dump();
    }
    assert.equal(pool.stats().created, 1);
    assert.equal(pool.stats().idle, 1);
  });
});

async function eventuallyIdle(pool: ConnectionPool): Promise<void> {
  const deadline = Date.now() + 5000;
  while (pool.stats().leased !== 0) {
    if (Date.now() > deadline) throw new Error('the pool stayed busy');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('top-level request() and fetch() over the default agent', () => {
  test('getDefaultAgent() makes one agent and keeps it; setDefaultAgent() replaces it', async () => {
    const first = getDefaultAgent();
    assert.ok(first instanceof Agent);
    assert.equal(getDefaultAgent(), first);
    const echo = await echoOf(await request(`${server.origin}/echo`, { query: { a: 1 } }));
    assert.equal(echo.url, '/echo?a=1');
    assert.ok(Object.keys(first.stats()).includes(server.origin));
    const fetched = await httpoolFetch(`${server.origin}/echo`);
    assert.ok(fetched instanceof Response);
    assert.equal(((await fetched.json()) as Echo).method, 'GET');

    const mine = new Agent({ headers: { 'x-agent': 'mine' } });
    assert.equal(setDefaultAgent(mine), first);
    assert.equal(getDefaultAgent(), mine);
    assert.equal((await echoOf(await request(`${server.origin}/echo`))).headers['x-agent'], 'mine');
    // The old agent was not closed.
    assert.equal(first.closed, false);
    assert.equal((await (await first.request(`${server.origin}/echo`)).text()).length > 0, true);
    setDefaultAgent(first);
    await mine.close();
    // Importing the package leaves the global fetch alone.
    assert.notEqual(globalThis.fetch, httpoolFetch);
  });

  test('setDefaultAgent refuses anything but an Agent and changes nothing', () => {
    const current = getDefaultAgent();
    for (const value of [undefined, null, {}, new ConnectionPool(server.origin), 'agent']) {
      assert.throws(() => setDefaultAgent(value as never), isInvalid);
    }
    assert.equal(getDefaultAgent(), current);
  });

  test('a script that only calls request() exits by itself, well before the idle timeout', async () => {
    // Keep-alive on the server's side for longer than the test: only the client can end it.
    const keeping = await startHttpServer(
      (_req, res) => {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      },
      (s) => {
        s.keepAliveTimeout = 60_000;
      },
    );
    const index = fileURLToPath(new URL('../../../dist/index.js', import.meta.url));
    const script = `
      import { request } from ${JSON.stringify(index)};
      const res = await request(${JSON.stringify(`${keeping.origin}/`)});
      await res.text();
      console.log('status', res.status);`;
    // The pool's default idleTimeout: an idle socket that held the process would hold it this long.
    const idleTimeout = 4000;
    try {
      const result = await new Promise<{ code: number | null; stdout: string; lingered: number }>(
        (resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          let printedAt: number | undefined;
          child.stdout.setEncoding('utf8').on('data', (d: string) => {
            stdout += d;
            if (printedAt === undefined && stdout.includes('status')) printedAt = performance.now();
          });
          child.stderr.setEncoding('utf8').on('data', (d: string) => {
            stderr += d;
          });
          const killer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`the script did not exit; stdout: ${stdout}; stderr: ${stderr}`));
          }, 60_000);
          child.on('exit', (code) => {
            clearTimeout(killer);
            const lingered = printedAt === undefined ? Number.NaN : performance.now() - printedAt;
            if (code !== 0) reject(new Error(`exit ${code}; stderr: ${stderr}`));
            else resolve({ code, stdout, lingered });
          });
        },
      );
      assert.match(result.stdout, /status 200/);
      assert.ok(
        result.lingered < idleTimeout / 2,
        `the script lived on ${result.lingered.toFixed(0)} ms after its request (idle timeout ${idleTimeout} ms)`,
      );
    } finally {
      await keeping.close();
    }
  });
});
