import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Http1Connection } from '../../src/http1/connection.js';
import {
  Agent,
  BodyTimeoutError,
  ConnectionPool,
  ConnectTimeoutError,
  HeadersTimeoutError,
  type HttpoolError,
  ResponseError,
  ResponseLimitError,
  SocketError,
} from '../../src/index.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { startHttpServer, startRawServer, type TestServer } from '../helpers/servers.js';

/** The path every test asks for: its query stands for a secret that must stay out of errors. */
const TARGET = '/search?q=s3cret-token';

/** `error` is a `cls` that says it failed `method origin/search`, and never shows the query. */
function locatedAt(
  cls: abstract new (...args: never[]) => HttpoolError,
  origin: string,
  method = 'GET',
) {
  return (error: unknown): true => {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal(error.origin, origin);
    assert.equal(error.method, method);
    assert.equal(error.path, '/search');
    assert.ok(error.message.endsWith(`: ${method} ${origin}/search`), error.message);
    assert.ok(!error.message.includes('s3cret'), error.message);
    assert.ok(!error.message.includes('?'), error.message);
    assert.ok(!String(error.stack).includes('s3cret'), 'the stack shows the same message');
    assert.ok(String(error.stack).includes(`${method} ${origin}/search`), String(error.stack));
    return true;
  };
}

describe('errors say which request failed', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  test('ConnectTimeoutError: a TLS handshake that never completes', async () => {
    // Accepts TCP, never answers the ClientHello: the connect timeout runs out, every time.
    const server = await startRawServer(() => {});
    servers.push(server);
    const origin = `https://127.0.0.1:${server.port}`;
    await using pool = new ConnectionPool(origin, { connectTimeout: 50 });
    await assert.rejects(
      pool.request({ method: 'PUT', path: TARGET, body: 'x' }),
      locatedAt(ConnectTimeoutError, origin, 'PUT'),
    );
  });

  test('SocketError: connection refused', async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const origin = `http://127.0.0.1:${port}`;
    await using pool = new ConnectionPool(origin);
    await assert.rejects(pool.request({ path: TARGET }), locatedAt(SocketError, origin));
  });

  test('HeadersTimeoutError: a server that never answers', async () => {
    const server = await startRawServer(() => {});
    servers.push(server);
    await using pool = new ConnectionPool(server.origin, { headersTimeout: 50 });
    await assert.rejects(
      pool.request({ method: 'DELETE', path: TARGET }),
      locatedAt(HeadersTimeoutError, server.origin, 'DELETE'),
    );
  });

  test('BodyTimeoutError: the body stops halfway (reported through the body)', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
    });
    servers.push(server);
    await using pool = new ConnectionPool(server.origin, { bodyTimeout: 50 });
    const res = await pool.request({ path: TARGET });
    await assert.rejects(res.text(), locatedAt(BodyTimeoutError, server.origin));
  });

  test('SocketError: the server resets the connection mid-body', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello', () => {
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    servers.push(server);
    await using pool = new ConnectionPool(server.origin);
    const res = await pool.request({ path: TARGET });
    await assert.rejects(res.arrayBuffer(), locatedAt(SocketError, server.origin));
  });

  test('ResponseError: a malformed status line', async () => {
    const server = await startRawServer((socket) => socket.write('HTTP/1.1 2OO OK\r\n\r\n'));
    servers.push(server);
    await using pool = new ConnectionPool(server.origin);
    await assert.rejects(pool.request({ path: TARGET }), locatedAt(ResponseError, server.origin));
  });

  test('ResponseLimitError: a head over maxHeaderSize, and a chunked body over maxResponseSize', async () => {
    const server = await startRawServer((socket, head) => {
      if (head.startsWith('GET /search')) {
        socket.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(4096)}\r\ncontent-length: 0\r\n\r\n`);
      } else {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n8\r\n12345678\r\n');
        setTimeout(() => socket.write('8\r\n12345678\r\n0\r\n\r\n'), 20);
      }
    });
    servers.push(server);
    await using pool = new ConnectionPool(server.origin, {
      limits: { maxHeaderSize: 2048, maxResponseSize: 12 },
    });
    await assert.rejects(
      pool.request({ path: TARGET }),
      locatedAt(ResponseLimitError, server.origin),
    );
    const res = await pool.request({ method: 'POST', path: TARGET, body: 'x' });
    await assert.rejects(res.bytes(), locatedAt(ResponseLimitError, server.origin, 'POST'));
  });

  test('through an Agent, and through a forward proxy (absolute-form target)', async () => {
    const server = await startRawServer(() => {});
    servers.push(server);
    await using agent = new Agent({ headersTimeout: 50 });
    await assert.rejects(
      agent.request(`${server.origin}${TARGET}#frag`),
      locatedAt(HeadersTimeoutError, server.origin),
    );
    const proxy = await startProxyServer();
    try {
      await using pool = new ConnectionPool(server.origin, {
        proxy: proxy.url,
        headersTimeout: 50,
      });
      await assert.rejects(
        pool.request({ path: TARGET }),
        locatedAt(HeadersTimeoutError, server.origin),
      );
      assert.equal(proxy.requests.at(-1)?.url, `http://127.0.0.1:${server.port}${TARGET}`);
    } finally {
      await proxy.close();
    }
  });

  test('an absolute-form target on the default port: the origin as named, the path alone', async () => {
    // What a pool sends through a proxy for http://example.test: the port spelled out.
    const server = await startRawServer(() => {});
    servers.push(server);
    const socket = connect({ host: '127.0.0.1', port: server.port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const connection = new Http1Connection(socket, {
      host: 'example.test',
      origin: 'http://example.test',
      headersTimeout: 50,
    });
    await assert.rejects(
      connection.request({ path: `http://example.test:80${TARGET}` }),
      locatedAt(HeadersTimeoutError, 'http://example.test'),
    );
  });

  test('fetch(): a decoded body over maxResponseSize names its request in the cause', async () => {
    const server = await startHttpServer((_req, res) => {
      const body = gzipSync(Buffer.alloc(64 * 1024));
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.byteLength });
      res.end(body);
    });
    servers.push(server);
    await using agent = new Agent({ limits: { maxResponseSize: 1024 } });
    const res = await agent.fetch(`${server.origin}${TARGET}`);
    await assert.rejects(res.arrayBuffer(), (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      return locatedAt(ResponseLimitError, server.origin)(error.cause);
    });
  });

  test('an abort reason is the caller’s own: left as it is', async () => {
    const server = await startRawServer(() => {});
    servers.push(server);
    await using pool = new ConnectionPool(server.origin);
    const reason = new SocketError('stop now');
    const controller = new AbortController();
    const pending = pool.request({ path: TARGET, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(pending, (error: unknown) => {
      assert.equal(error, reason);
      assert.equal(reason.message, 'stop now');
      assert.equal(reason.origin, undefined);
      return true;
    });
  });

  test('errors built by hand keep their constructors and carry no location', () => {
    const error = new HeadersTimeoutError(1000);
    assert.equal(error.message, 'the response head did not arrive within 1000 ms');
    assert.equal(error.origin, undefined);
    assert.equal(error.method, undefined);
    assert.equal(error.path, undefined);
    assert.ok(!Object.hasOwn(error, 'origin'));
    assert.equal(new ResponseLimitError('maxHeaderSize', 10).limit, 'maxHeaderSize');
  });
});
