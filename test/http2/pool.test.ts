/**
 * HTTP/2 through the ConnectionPool against node:http2 servers: choosing the protocol,
 * multiplexing within the server's stream limit, the request mapping, leases, and the ways a
 * stream or a session can end.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer as createHttpServer } from 'node:http';
import {
  constants,
  createSecureServer,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  Agent,
  BodyTimeoutError,
  ConnectionPool,
  HeadersTimeoutError,
  InvalidArgumentError,
  isHttpoolError,
  RequestBodyError,
  ResponseLimitError,
  SocketError,
  StreamResetError,
} from '../../src/index.js';
import { eventually } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, server: H2Server) => void;

interface H2Server {
  origin: string;
  port: number;
  /** Sessions opened, ever. */
  sessions: number;
  /** Streams open now, and the most at once. */
  open: number;
  peak: number;
  /** Requests seen, by path. */
  seen: Map<string, number>;
  /** Requests answered in full (the stream closed cleanly after a response), by path. */
  answered: Map<string, number>;
  live: Set<Http2Session>;
  close(): Promise<void>;
}

const certs = makeCertificates();
const servers: H2Server[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function startH2(
  handler: Handler,
  options: {
    tls?: boolean;
    allowHTTP1?: boolean;
    alpn?: string[];
    settings?: { maxConcurrentStreams?: number };
  } = {},
): Promise<H2Server> {
  let server: Http2Server;
  const settings = options.settings ?? {};
  if (options.tls === true) {
    const secure: SecureServerOptions = { key: certs.key, cert: certs.cert, settings };
    if (options.allowHTTP1 !== undefined) secure.allowHTTP1 = options.allowHTTP1;
    const secureServer = createSecureServer(secure);
    // HTTP/1.1 requests (allowHTTP1) come as 'request' events only.
    secureServer.on('request', (req, res) => {
      if (req.httpVersion === '1.1') res.end(`hello h1 ${req.url}`);
    });
    server = secureServer as unknown as Http2Server;
  } else server = createServer({ settings });
  const state: H2Server = {
    origin: '',
    port: 0,
    sessions: 0,
    open: 0,
    peak: 0,
    seen: new Map(),
    answered: new Map(),
    live: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of state.live) session.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (session) => {
    state.sessions++;
    state.live.add(session);
    session.on('close', () => state.live.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    state.open++;
    state.peak = Math.max(state.peak, state.open);
    const path = String(headers[':path']);
    stream.on('close', () => {
      state.open--;
      if (stream.rstCode === constants.NGHTTP2_NO_ERROR && stream.headersSent) {
        state.answered.set(path, (state.answered.get(path) ?? 0) + 1);
      }
    });
    stream.on('error', () => {});
    state.seen.set(path, (state.seen.get(path) ?? 0) + 1);
    handler(stream, headers, state);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.origin = `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${state.port}`;
  servers.push(state);
  return state;
}

const hello: Handler = (stream, headers) => {
  // A stream the client (or a GOAWAY) ended while the answer was delayed.
  if (stream.destroyed || stream.closed) return;
  stream.respond({
    ':status': 200,
    'content-type': 'text/plain',
    'x-path': String(headers[':path']),
  });
  stream.end(`hello ${headers[':path']}`);
};

describe('HTTP/2: choosing the protocol', () => {
  test("'prior-knowledge' speaks h2c on http:, and the response says 2.0", async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const res = await pool.request({ path: '/a?b=1' });
    assert.equal(res.status, 200);
    assert.equal(res.httpVersion, '2.0');
    assert.equal(res.headers.get('x-path'), '/a?b=1');
    assert.equal(res.url, `${server.origin}/a?b=1`);
    assert.equal(await res.text(), 'hello /a?b=1');
    await pool.close();
  });

  test("'auto' on https: speaks h2 when the server picks it by ALPN", async () => {
    const server = await startH2(hello, { tls: true });
    const pool = new ConnectionPool(server.origin, { http2: 'auto', tls: { ca: certs.ca } });
    const res = await pool.request({ path: '/tls' });
    assert.equal(res.httpVersion, '2.0');
    assert.equal(await res.text(), 'hello /tls');
    await pool.close();
  });

  /** An HTTPS server that speaks HTTP/1.1 only (it offers no h2 by ALPN). */
  async function startHttps1(): Promise<{ origin: string; close: () => Promise<void> }> {
    const server = createHttpsServer({ key: certs.key, cert: certs.cert }, (req, res) => {
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      origin: `https://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  test("'auto' falls back to HTTP/1.1 when the server picks it", async () => {
    const server = await startHttps1();
    after(() => server.close());
    const pool = new ConnectionPool(server.origin, { http2: 'auto', tls: { ca: certs.ca } });
    const res = await pool.request({ path: '/old' });
    assert.equal(res.httpVersion, '1.1');
    assert.equal(await res.text(), 'hello /old');
    await pool.close();
  });

  test("'only' refuses a server that will not speak h2", async () => {
    const server = await startHttps1();
    after(() => server.close());
    const pool = new ConnectionPool(server.origin, { http2: 'only', tls: { ca: certs.ca } });
    await assert.rejects(pool.request({ path: '/' }), (error: unknown) => {
      assert.ok(error instanceof SocketError);
      // Either the server refuses the TLS handshake (no protocol in common) or picks http/1.1.
      assert.match(error.message, /did not agree to HTTP\/2|no application protocol/);
      return true;
    });
    assert.equal(pool.stats().open, 0);
    await pool.close();
  });

  test("'only' on http: speaks h2c, and fails typed against an HTTP/1.1 server", async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'only' });
    const res = await pool.request({ path: '/c' });
    assert.equal(res.httpVersion, '2.0');
    assert.equal(await res.text(), 'hello /c');
    await pool.close();
    const h1 = createHttpServer((_req, res) => res.end('h1'));
    await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
    after(() => new Promise((resolve) => h1.close(resolve)));
    const port = (h1.address() as AddressInfo).port;
    const strict = new ConnectionPool(`http://127.0.0.1:${port}`, {
      http2: 'only',
      connectTimeout: 2000,
    });
    await assert.rejects(strict.request({ path: '/' }), (error: unknown) => isHttpoolError(error));
    assert.equal(strict.stats().open, 0);
    await strict.close();
  });

  test("'off' (the default) stays HTTP/1.1 with a server that offers h2", async () => {
    const server = await startH2(hello, { tls: true, allowHTTP1: true });
    const secure = server as H2Server & { h1?: boolean };
    const pool = new ConnectionPool(secure.origin, { tls: { ca: certs.ca } });
    const res = await pool.request({ path: '/' });
    assert.equal(res.httpVersion, '1.1');
    assert.equal(await res.text(), 'hello h1 /');
    await pool.close();
  });

  test('a bad http2 value is refused by name', () => {
    assert.throws(
      () => new ConnectionPool('http://127.0.0.1:1', { http2: 'yes' as never }),
      (error: unknown) => error instanceof InvalidArgumentError && /http2/.test(error.message),
    );
  });
});

describe('HTTP/2: multiplexing', () => {
  test('a cold burst of 100 requests opens one connection', async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 10 });
    const bodies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => pool.request({ path: `/${i}` }).then((r) => r.text())),
    );
    assert.equal(bodies[42], 'hello /42');
    assert.equal(server.sessions, 1);
    assert.equal(pool.stats().created, 1);
    await pool.close();
  });

  test("streams never exceed the server's SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    const server = await startH2(
      (stream, headers) => setTimeout(() => hello(stream, headers, server), 5),
      { settings: { maxConcurrentStreams: 3 } },
    );
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 1 });
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.request({ path: `/${i}` }).then((r) => r.text())),
    );
    assert.equal(bodies.length, 20);
    assert.equal(server.peak, 3);
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('our own maxConcurrentStreams caps a session below the server', async () => {
    const server = await startH2((stream, headers) =>
      setTimeout(() => hello(stream, headers, server), 5),
    );
    const pool = new ConnectionPool(server.origin, {
      http2: 'prior-knowledge',
      maxSize: 1,
      maxConcurrentStreams: 4,
    });
    await Promise.all(Array.from({ length: 16 }, () => pool.request({}).then((r) => r.text())));
    assert.equal(server.peak, 4);
    await pool.close();
  });

  test('a raised stream limit mid-connection is followed', async () => {
    const server = await startH2(
      (stream, headers) => setTimeout(() => hello(stream, headers, server), 10),
      { settings: { maxConcurrentStreams: 1 } },
    );
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 1 });
    await (await pool.request({})).text();
    for (const session of server.live) session.settings({ maxConcurrentStreams: 6 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.peak = 0;
    await Promise.all(Array.from({ length: 12 }, () => pool.request({}).then((r) => r.text())));
    assert.equal(server.peak, 6);
    await pool.close();
  });

  test('maxSize bounds sessions; the rest wait in line', async () => {
    const server = await startH2(
      (stream, headers) => setTimeout(() => hello(stream, headers, server), 5),
      { settings: { maxConcurrentStreams: 2 } },
    );
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 2 });
    const pending = Array.from({ length: 10 }, () => pool.request({}).then((r) => r.text()));
    await eventually(() => pool.stats().waiting > 0);
    await Promise.all(pending);
    assert.equal(server.sessions, 2);
    assert.equal(server.peak, 4);
    await pool.close();
  });

  test('acquire() lends one stream: two leases share one connection; discard keeps it', async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 1 });
    const a = await pool.acquire();
    const b = await pool.acquire({ blocking: false });
    const [ra, rb] = await Promise.all([a.request({ path: '/a' }), b.request({ path: '/b' })]);
    assert.equal(await ra.text(), 'hello /a');
    assert.equal(await rb.text(), 'hello /b');
    assert.equal(pool.stats().leased, 1);
    a.release();
    b.discard();
    await eventually(() => pool.stats().idle === 1);
    const again = await pool.request({ path: '/c' });
    assert.equal(await again.text(), 'hello /c');
    assert.equal(server.sessions, 1);
    await pool.close();
  });
});

describe('HTTP/2: the request on the wire', () => {
  test("HTTP/1.1's connection fields are dropped, Host becomes :authority", async () => {
    let seen: IncomingHttpHeaders = {};
    const server = await startH2((stream, headers) => {
      seen = headers;
      hello(stream, headers, server);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const res = await pool.request({
      headers: {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        host: 'example.test',
        'X-Mixed-Case': 'v',
      },
    });
    await res.text();
    assert.equal(seen[':authority'], 'example.test');
    assert.equal(seen.connection, undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['transfer-encoding'], undefined);
    assert.equal(seen['te'], 'trailers');
    assert.equal(seen['x-mixed-case'], 'v');
    await pool.close();
  });

  test('Upgrade and pseudo-headers are refused before anything is sent', async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await (await pool.request({})).text();
    for (const headers of [{ upgrade: 'websocket' }, { ':path': '/x' }, { 'bad name': 'x' }]) {
      await assert.rejects(pool.request({ headers }), InvalidArgumentError);
    }
    assert.equal(server.seen.get('/'), 1);
    assert.equal(pool.stats().open, 1);
    const res = await pool.request({});
    assert.equal(await res.text(), 'hello /');
    await pool.close();
  });

  test('bodies: bytes, a stream with backpressure, and a declared length held to', async () => {
    const server = await startH2((stream, headers) => {
      const parts: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => parts.push(chunk));
      stream.on('end', () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-length': String(headers['content-length'] ?? '') });
        stream.end(`${Buffer.concat(parts).length}`);
      });
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const bytes = await pool.request({ method: 'POST', body: 'twelve bytes' });
    assert.equal(bytes.headers.get('x-length'), '12');
    assert.equal(await bytes.text(), '12');
    async function* chunks() {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, i);
    }
    const streamed = await pool.request({ method: 'PUT', body: chunks() });
    assert.equal(await streamed.text(), String(64 * 16 * 1024));
    const declared = await pool.request({
      method: 'PUT',
      body: chunks(),
      headers: { 'content-length': String(64 * 16 * 1024) },
    });
    assert.equal(declared.headers.get('x-length'), String(64 * 16 * 1024));
    await declared.text();
    await assert.rejects(
      pool.request({ method: 'PUT', body: chunks(), headers: { 'content-length': '10' } }),
      RequestBodyError,
    );
    // The failed upload cost a stream, not the connection.
    const after = await pool.request({ method: 'POST', body: 'ok' });
    assert.equal(await after.text(), '2');
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('trailers arrive after the body', async () => {
    const server = await startH2((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
      stream.end('body');
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const res = await pool.request({});
    assert.equal(await res.text(), 'body');
    assert.equal(res.trailers.get('x-checksum'), 'abc');
    await pool.close();
  });

  test('Expect: 100-continue waits for the go-ahead, and a final answer saves the body', async () => {
    let bodyBytes = -1;
    const server = await startH2((stream, headers) => {
      if (headers[':path'] === '/refuse') {
        stream.respond({ ':status': 413 });
        stream.end();
        return;
      }
      stream.additionalHeaders({ ':status': 100 });
      const parts: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => parts.push(chunk));
      stream.on('end', () => {
        if (stream.destroyed) return;
        bodyBytes = Buffer.concat(parts).length;
        stream.respond({ ':status': 200 });
        stream.end('got it');
      });
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const ok = await pool.request({
      method: 'PUT',
      body: 'abcd',
      headers: { expect: '100-continue' },
    });
    assert.equal(await ok.text(), 'got it');
    assert.equal(bodyBytes, 4);
    const refused = await pool.request({
      method: 'PUT',
      path: '/refuse',
      body: 'abcd',
      headers: { expect: '100-continue' },
    });
    assert.equal(refused.status, 413);
    await refused.dump();
    await pool.close();
  });
});

describe('HTTP/2: how streams and sessions end', () => {
  test('a graceful GOAWAY: streams above its last id are sent again, a POST included, once each', async () => {
    let goneAway = false;
    const server = await startH2((stream, headers, state) => {
      const session = stream.session!;
      if (!goneAway && headers[':path'] === '/trigger') {
        goneAway = true;
        // The streams the client has open: let this one (the lowest id) finish, refuse the rest.
        session.goaway(constants.NGHTTP2_NO_ERROR, stream.id);
      }
      setTimeout(() => hello(stream, headers, state), 20);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 4 });
    await (await pool.request({ path: '/warm' })).text();
    const paths = ['/trigger', '/p1', '/p2', '/p3', '/post'];
    const results = await Promise.all(
      paths.map((path) =>
        pool
          .request({
            path,
            method: path === '/post' ? 'POST' : 'GET',
            body: path === '/post' ? 'x' : null,
          })
          .then((r) => r.text()),
      ),
    );
    assert.deepEqual(
      results,
      paths.map((path) => `hello ${path}`),
    );
    // Every request was answered exactly once: the refused ones went again, none twice.
    for (const path of paths) assert.equal(server.answered.get(path), 1, path);
    assert.equal(server.seen.get('/trigger'), 1);
    assert.equal(server.seen.get('/post'), 2);
    assert.equal(pool.stats().replayed, 4);
    assert.equal(server.sessions, 2);
    await pool.close();
  });

  test('REFUSED_STREAM on a reused session: sent again once, whatever the method', async () => {
    let refused = 0;
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/refuse-once' && refused === 0) {
        refused++;
        stream.close(constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await (await pool.request({ path: '/warm' })).text();
    const res = await pool.request({ path: '/refuse-once', method: 'POST', body: 'x' });
    assert.equal(await res.text(), 'hello /refuse-once');
    assert.equal(refused, 1);
    assert.equal(server.seen.get('/refuse-once'), 2);
    assert.equal(pool.stats().replayed, 1);
    await pool.close();
  });

  test('421 on a shared session: sent once more on a new session, whatever the method', async () => {
    let misdirected = 0;
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/moved' && misdirected === 0) {
        misdirected++;
        stream.respond({ ':status': 421 });
        stream.end('wrong session');
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 2 });
    const res = await pool.request({ path: '/moved', method: 'POST', body: 'x' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello /moved');
    assert.equal(server.seen.get('/moved'), 2);
    assert.equal(server.sessions, 2);
    assert.equal(pool.stats().replayed, 1);
    await pool.close();
  });

  test('a session that answered before but now refuses everything: two sends, not sixteen', async () => {
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/warm') hello(stream, headers, state);
      else stream.close(constants.NGHTTP2_REFUSED_STREAM);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await (await pool.request({ path: '/warm' })).text();
    await assert.rejects(pool.request({ path: '/x', method: 'POST', body: 'x' }), SocketError);
    assert.equal(server.seen.get('/x'), 2);
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('REFUSED_STREAM every time is not retried without end', async () => {
    const server = await startH2((stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await assert.rejects(pool.request({ path: '/a' }), (error: unknown) => {
      assert.ok(error instanceof SocketError);
      assert.equal(error.unprocessed, true);
      return true;
    });
    await assert.rejects(pool.request({ path: '/b' }), SocketError);
    // The first on a brand-new session: not sent again; the second (the session carried one
    // before, answering nothing): sent again once, no more.
    assert.equal(server.seen.get('/a'), 1);
    assert.equal(server.seen.get('/b'), 2);
    assert.equal(pool.stats().replayed, 1);
    await pool.close();
  });

  test('a stream reset mid-body fails that body only; the session carries on', async () => {
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/reset') {
        stream.respond({ ':status': 200 });
        stream.write('partial');
        // destroy() resets without ending the body first (close() would end it cleanly).
        setTimeout(() => stream.destroy(new Error('boom')), 10);
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const res = await pool.request({ path: '/reset' });
    await assert.rejects(res.text(), (error: unknown) => {
      assert.ok(error instanceof StreamResetError);
      assert.equal(error.http2Code, constants.NGHTTP2_INTERNAL_ERROR);
      assert.equal(error.code, 'ERR_STREAM_RESET');
      return true;
    });
    const next = await pool.request({ path: '/next' });
    assert.equal(await next.text(), 'hello /next');
    assert.equal(server.sessions, 1);
    await eventually(() => pool.stats().leased === 0);
    await pool.close();
  });

  test('a session closed without GOAWAY fails its streams with SocketError', async () => {
    const server = await startH2((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('x');
      setTimeout(() => stream.session?.destroy(), 10);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const res = await pool.request({});
    await assert.rejects(res.text(), SocketError);
    await eventually(() => pool.stats().open === 0);
    await pool.close();
  });

  test('headersTimeout fails the stream, not the session', async () => {
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/slow') return;
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, {
      http2: 'prior-knowledge',
      headersTimeout: 50,
    });
    await assert.rejects(pool.request({ path: '/slow' }), HeadersTimeoutError);
    const res = await pool.request({ path: '/fast' });
    assert.equal(await res.text(), 'hello /fast');
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('bodyTimeout: a gap between chunks fails the body; steady chunks and a slow reader do not', async () => {
    const server = await startH2((stream, headers, state) => {
      const path = String(headers[':path']);
      if (path === '/stall') {
        stream.respond({ ':status': 200 });
        stream.write('first');
        return;
      }
      if (path === '/drip') {
        stream.respond({ ':status': 200 });
        let sent = 0;
        const timer = setInterval(() => {
          if (stream.destroyed) return clearInterval(timer);
          stream.write('x');
          if (++sent === 12) {
            clearInterval(timer);
            stream.end();
          }
        }, 25);
        return;
      }
      if (path === '/bulk') {
        stream.respond({ ':status': 200 });
        stream.end(Buffer.alloc(1_000_000, 'y'));
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, {
      http2: 'prior-knowledge',
      bodyTimeout: 150,
    });
    const stalled = await pool.request({ path: '/stall' });
    await assert.rejects(stalled.text(), BodyTimeoutError);
    // Twelve chunks 25 ms apart: longer than bodyTimeout in all, never a gap that long.
    const drip = await pool.request({ path: '/drip' });
    assert.equal(await drip.text(), 'x'.repeat(12));
    // The reader waits longer than bodyTimeout before reading: its own pause does not count.
    const bulk = await pool.request({ path: '/bulk' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await bulk.bytes()).byteLength, 1_000_000);
    assert.equal(server.sessions, 1);
    await eventually(() => pool.stats().leased === 0);
    await pool.close();
  });

  test('response header limits mean what they do over HTTP/1.1: bytes of the fields, and their count', async () => {
    const server = await startH2((stream, headers, state) => {
      const path = headers[':path'];
      if (path === '/big') {
        stream.respond({ ':status': 200, 'x-big': 'a'.repeat(16_500) });
        stream.end();
      } else if (path === '/many') {
        const many: Record<string, string> = { ':status': '200' };
        for (let i = 0; i < 140; i++) many[`x-f${i}`] = 'v';
        stream.respond(many);
        stream.end();
      } else hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await assert.rejects(pool.request({ path: '/big' }), (error: unknown) => {
      assert.ok(error instanceof ResponseLimitError, String(error));
      assert.equal(error.limit, 'maxHeaderSize');
      return true;
    });
    await assert.rejects(pool.request({ path: '/many' }), (error: unknown) => {
      assert.ok(error instanceof ResponseLimitError, String(error));
      assert.equal(error.limit, 'maxHeaderCount');
      return true;
    });
    assert.equal(await (await pool.request({ path: '/ok' })).text(), 'hello /ok');
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('maxResponseSize resets that stream only', async () => {
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/big') {
        stream.respond({ ':status': 200 });
        stream.end(Buffer.alloc(100_000));
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, {
      http2: 'prior-knowledge',
      limits: { maxResponseSize: 10_000 },
    });
    const res = await pool.request({ path: '/big' });
    await assert.rejects(res.bytes(), ResponseLimitError);
    const next = await pool.request({ path: '/after' });
    assert.equal(await next.text(), 'hello /after');
    assert.equal(server.sessions, 1);
    await pool.close();
  });

  test('an idle session is reaped after idleTimeout', async () => {
    const server = await startH2(hello);
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', idleTimeout: 50 });
    await (await pool.request({})).text();
    assert.equal(pool.stats().open, 1);
    await eventually(() => pool.stats().open === 0 && server.live.size === 0);
    await pool.close();
  });

  test('close({ timeout }) ends streams still in flight', async () => {
    const server = await startH2(() => {});
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const pending = pool.request({});
    const failed = assert.rejects(pending, SocketError);
    await eventually(() => server.open === 1);
    const started = performance.now();
    await pool.close({ timeout: 50 });
    assert.ok(performance.now() - started < 2000);
    await failed;
    assert.equal(pool.stats().open, 0);
  });
});

describe('HTTP/2: review regressions', () => {
  test('a stream answered while our upload is still going out counts until it is closed', async () => {
    const server = await startH2(
      (stream, headers, state) => {
        if (headers[':path'] === '/up') {
          stream.respond({ ':status': 202 });
          stream.end('accepted');
          // Reads the upload slowly, as a server feeding a slow backend would.
          stream.on('data', () => {});
          stream.pause();
          setTimeout(() => stream.resume(), 1500);
          return;
        }
        hello(stream, headers, state);
      },
      { settings: { maxConcurrentStreams: 1 } },
    );
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await (await pool.request({ path: '/warm' })).text();
    const up = await pool.request({
      path: '/up',
      method: 'POST',
      body: new Uint8Array(2 * 1024 * 1024),
    });
    assert.equal(await up.text(), 'accepted');
    // The session's one stream is still taken: the next request goes to a second session
    // rather than queueing inside node:http2 behind the upload.
    const next = await pool.request({ path: '/b', headersTimeout: 1000 });
    assert.equal(await next.text(), 'hello /b');
    assert.equal(server.sessions, 2);
    await pool.close({ timeout: 100 });
  });

  test('two sessions refusing in turn do not pass a request back and forth', async () => {
    const server = await startH2((stream, headers, state) => {
      if (String(headers[':path']).startsWith('/warm')) {
        setTimeout(() => hello(stream, headers, state), 20);
        return;
      }
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
    });
    const pool = new ConnectionPool(server.origin, {
      http2: 'prior-knowledge',
      maxConcurrentStreams: 1,
      maxSize: 2,
    });
    await Promise.all(
      ['/warm1', '/warm2'].map(async (path) => (await pool.request({ path })).text()),
    );
    assert.equal(server.sessions, 2);
    const results = await Promise.allSettled(
      ['/x0', '/x1', '/x2'].map((path) => pool.request({ path, method: 'POST', body: 'x' })),
    );
    assert.ok(results.every((r) => r.status === 'rejected'));
    // Each session's one answer is progress once per request, not at every turn.
    for (const path of ['/x0', '/x1', '/x2']) {
      const sends = server.seen.get(path) ?? 0;
      assert.ok(sends <= 3, `${path} sent ${sends} times`);
    }
    await pool.close();
  });

  test('a GOAWAY sent before the streams it keeps are answered still counts as progress', async () => {
    const perSession = new WeakMap<Http2Session, number>();
    const server = await startH2((stream, headers, state) => {
      const session = stream.session!;
      const count = (perSession.get(session) ?? 0) + 1;
      perSession.set(session, count);
      if (count === 10) session.goaway(constants.NGHTTP2_NO_ERROR, stream.id);
      setTimeout(() => hello(stream, headers, state), 20);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 10 });
    const paths = Array.from({ length: 30 }, (_, i) => `/r${i}`);
    const results = await Promise.allSettled(
      paths.map((path) => pool.request({ path }).then((r) => r.text())),
    );
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map((r) => String(r.reason)),
      [],
    );
    assert.equal(server.sessions, 3);
    await pool.close();
  });

  test('a 421 on a busy session at maxSize is the answer, not a wait behind the others', async () => {
    let slowStream: ServerHttp2Stream | undefined;
    const server = await startH2((stream, headers, state) => {
      const path = headers[':path'];
      if (path === '/slow') {
        slowStream = stream;
        stream.respond({ ':status': 200 });
        stream.write('a');
        return;
      }
      if (path === '/moved') {
        stream.respond({ ':status': 421 });
        stream.end('wrong');
        return;
      }
      hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge', maxSize: 1 });
    const slow = await pool.request({ path: '/slow' });
    const moved = await pool.request({ path: '/moved', acquireTimeout: 2000 });
    assert.equal(moved.status, 421);
    assert.equal(await moved.text(), 'wrong');
    assert.equal(server.seen.get('/moved'), 1);
    slowStream!.end('b');
    assert.equal(await slow.text(), 'ab');
    await pool.close();
  });
});

describe('HTTP/2: shutdown after a GOAWAY', () => {
  test('close({ timeout }) and destroy() end a session the server GOAWAYed and then left hanging', {
    timeout: 15_000,
  }, async () => {
    const server = await startH2((stream, headers, state) => {
      if (headers[':path'] === '/1') {
        hello(stream, headers, state);
        // Answered stream 1; stream 3 is above the last id and never answered, and the
        // server never closes the connection.
        stream.session!.goaway(constants.NGHTTP2_NO_ERROR, stream.id);
      }
      // Everything else on the first session hangs; a second session answers.
      else if (state.sessions > 1) hello(stream, headers, state);
    });
    const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    const [one, two] = await Promise.all([
      pool.request({ path: '/1' }).then((r) => r.text()),
      pool.request({ path: '/2' }).then((r) => r.text()),
    ]);
    assert.equal(one, 'hello /1');
    assert.equal(two, 'hello /2');
    const started = performance.now();
    await pool.close({ timeout: 300 });
    assert.ok(performance.now() - started < 3000, 'close({ timeout }) settled');
    const again = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
    await (await again.request({ path: '/1' })).text();
    const destroyed = again.destroy();
    const bound = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('destroy hung')), 3000),
    );
    await Promise.race([destroyed, bound]);
  });
});

describe('HTTP/2: diagnostics', () => {
  test('connection:open and request:start say h2; the close says how many streams it carried', async () => {
    const server = await startH2(hello);
    const seen: Array<[string, Record<string, unknown>]> = [];
    const names = ['httpool:connection:open', 'httpool:request:start', 'httpool:connection:close'];
    const listeners = names.map((name) => {
      const listener = (message: unknown) => seen.push([name, message as Record<string, unknown>]);
      subscribe(name, listener);
      return [name, listener] as const;
    });
    try {
      const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
      await Promise.all(
        ['/a', '/b', '/c'].map(async (path) => (await pool.request({ path })).text()),
      );
      await pool.close();
    } finally {
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    }
    const opens = seen.filter(([name]) => name.endsWith('open'));
    assert.equal(opens.length, 1);
    assert.equal(opens[0]![1]['protocol'], 'h2');
    const starts = seen.filter(([name]) => name.endsWith('start'));
    assert.deepEqual(starts.map(([, m]) => [m['path'], m['protocol']]).sort(), [
      ['/a', 'h2'],
      ['/b', 'h2'],
      ['/c', 'h2'],
    ]);
    const closes = seen.filter(([name]) => name.endsWith('close'));
    assert.equal(closes.length, 1);
    assert.equal(closes[0]![1]['requests'], 3);
  });
});

describe('HTTP/2: the Agent and fetch', () => {
  test("an Agent with http2: 'auto' speaks h2 to https origins, fetch() included", async () => {
    const server = await startH2(hello, { tls: true });
    const agent = new Agent({ http2: 'auto', tls: { ca: certs.ca } });
    const res = await agent.request(`${server.origin}/agent`);
    assert.equal(res.httpVersion, '2.0');
    assert.equal(await res.text(), 'hello /agent');
    const fetched = await agent.fetch(`${server.origin}/fetch`);
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), 'hello /fetch');
    assert.equal(server.sessions, 1);
    await agent.close();
  });
});
