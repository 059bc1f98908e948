import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Http1Connection } from '../../src/http1/connection.js';
import { Agent, ConnectionPool } from '../../src/index.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { startHttpServer, startRawServer, type TestServer } from '../helpers/servers.js';

/** Answers `GET /r/N` with a 302 to `/r/N-1`, `/r/0` with 200, and echoes anything else. */
async function redirectingServer(next?: () => string): Promise<TestServer> {
  return startHttpServer((req, res) => {
    const hops = /^\/r\/(\d+)/.exec(req.url ?? '');
    if (hops !== null && Number(hops[1]) > 0) {
      const location =
        Number(hops[1]) === 1 && next !== undefined
          ? next()
          : `/r/${Number(hops[1]) - 1}?from=${hops[1]}`;
      res.writeHead(302, { location, 'content-length': 0 });
      res.end();
      return;
    }
    const body = `${req.method} ${req.url}`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

describe('responses say where they came from', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  test('a decompressed response keeps its url, and a body that does not decode says where', async () => {
    const server = await startHttpServer((req, res) => {
      const body = req.url?.startsWith('/bad') ? Buffer.from('not gzip') : gzipSync('hello');
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.byteLength });
      res.end(body);
    });
    servers.push(server);
    await using pool = new ConnectionPool(server.origin, { decompress: true });
    const res = await pool.request({ path: '/z?page=2' });
    assert.equal(res.url, `${server.origin}/z?page=2`);
    assert.equal(await res.text(), 'hello');
    const bad = await pool.request({ path: '/bad?secret=1' });
    await assert.rejects(bad.text(), (error: Error & { path?: string; origin?: string }) => {
      assert.equal(error.path, '/bad');
      assert.equal(error.origin, server.origin);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  test('pool.request(): url is the origin and the path, query included', async () => {
    const server = await redirectingServer();
    servers.push(server);
    await using pool = new ConnectionPool(server.origin);
    const plain = await pool.request({ path: '/users/1' });
    assert.equal(plain.url, `${server.origin}/users/1`);
    assert.equal(plain.url, plain.url, 'the same on a second read');
    assert.equal(await plain.text(), 'GET /users/1');
    const query = await pool.request({ path: '/search?q=a%20b&page=2' });
    assert.equal(query.url, `${server.origin}/search?q=a%20b&page=2`);
    assert.deepEqual(query.redirectUrls, []);
    await query.dump();
    // A lease's requests say so too, and the default path is `/`.
    {
      await using conn = await pool.acquire();
      const res = await conn.request({});
      assert.equal(res.url, `${server.origin}/`);
      await res.dump();
    }
    // A relative link resolves against it, as a crawler does.
    assert.equal(new URL('../b?c=1', query.url).href, `${server.origin}/b?c=1`);
  });

  test('pool.request() through a proxy (absolute-form target): url is still the origin URL', async () => {
    const server = await redirectingServer();
    const proxy = await startProxyServer();
    servers.push(server);
    try {
      await using pool = new ConnectionPool(server.origin, { proxy: proxy.url });
      const res = await pool.request({ path: '/a/b?x=1' });
      assert.equal(await res.text(), 'GET /a/b?x=1');
      assert.equal(proxy.requests.at(-1)?.url, `http://127.0.0.1:${server.port}/a/b?x=1`);
      assert.equal(res.url, `${server.origin}/a/b?x=1`);
    } finally {
      await proxy.close();
    }
  });

  test('an absolute-form target on the default port: url uses the origin as named', async () => {
    // What a pool sends through a proxy for http://example.test: the port spelled out.
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    servers.push(server);
    const socket = connect({ host: '127.0.0.1', port: server.port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const connection = new Http1Connection(socket, {
      host: 'example.test',
      origin: 'http://example.test',
    });
    try {
      const res = await connection.request({ path: 'http://example.test:80/a?b=1' });
      await res.dump();
      assert.equal(res.url, 'http://example.test/a?b=1');
      // OPTIONS * through a proxy is sent as the bare authority: the URL is the origin, as direct.
      const star = await connection.request({ method: 'OPTIONS', path: 'http://example.test:80' });
      await star.dump();
      assert.equal(star.url, 'http://example.test');
    } finally {
      connection.destroy();
    }
  });

  test('agent.request(): url is the last URL, redirectUrls every URL followed, in order', async () => {
    const server = await redirectingServer();
    servers.push(server);
    await using agent = new Agent();
    const res = await agent.request(`${server.origin}/r/3?start=1`, { redirect: 'follow' });
    assert.equal(await res.text(), 'GET /r/0?from=1');
    assert.equal(res.url, `${server.origin}/r/0?from=1`);
    assert.deepEqual(res.redirectUrls, [
      `${server.origin}/r/2?from=3`,
      `${server.origin}/r/1?from=2`,
      `${server.origin}/r/0?from=1`,
    ]);
    // Without a redirect: the URL asked for (without its fragment), and no redirect URLs.
    const direct = await agent.request(`${server.origin}/plain?x=1#part`, { redirect: 'follow' });
    assert.equal(direct.url, `${server.origin}/plain?x=1`);
    assert.deepEqual(direct.redirectUrls, []);
    await direct.dump();
    // redirect: 'manual' (the default) returns the 302 itself, from where it was asked.
    const manual = await agent.request(`${server.origin}/r/1`);
    assert.equal(manual.status, 302);
    assert.equal(manual.url, `${server.origin}/r/1`);
    assert.deepEqual(manual.redirectUrls, []);
    await manual.dump();
  });

  test('agent.request(): a redirect chain across origins', async () => {
    const second = await redirectingServer();
    const first = await redirectingServer(() => `${second.origin}/r/1?hop=2`);
    servers.push(first, second);
    await using agent = new Agent();
    const res = await agent.request(`${first.origin}/r/2`, { redirect: 'follow' });
    assert.equal(await res.text(), 'GET /r/0?from=1');
    assert.equal(res.url, `${second.origin}/r/0?from=1`);
    assert.deepEqual(res.redirectUrls, [
      `${first.origin}/r/1?from=2`,
      `${second.origin}/r/1?hop=2`,
      `${second.origin}/r/0?from=1`,
    ]);
  });

  test('agent.request(): retries of a hop add nothing to redirectUrls', async () => {
    let busy = 2;
    const server = await startHttpServer((req, res) => {
      if (req.url === '/start') {
        res.writeHead(301, { location: '/flaky', 'content-length': 0 });
        res.end();
      } else if (req.url === '/flaky' && busy-- > 0) {
        res.writeHead(503, { 'content-length': 0, 'retry-after': '0' });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      }
    });
    servers.push(server);
    await using agent = new Agent({ retry: { limit: 3, minDelay: 1, maxDelay: 5 } });
    const res = await agent.request(`${server.origin}/start`, { redirect: 'follow' });
    assert.equal(await res.text(), 'ok');
    assert.equal(server.requests, 4, 'one redirect, two 503s, then the answer');
    assert.equal(res.url, `${server.origin}/flaky`);
    assert.deepEqual(res.redirectUrls, [`${server.origin}/flaky`]);
  });
});
