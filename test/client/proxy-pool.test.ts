import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConnectionPool } from '../../src/client/connection-pool.js';
import { ProxyError, parseProxy } from '../../src/client/proxy.js';
import { Agent, SocketError } from '../../src/index.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { startHttpServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

const auth = `Basic ${Buffer.from('alice:hunter2').toString('base64')}`;

describe('ConnectionPool through a forward proxy', async () => {
  const origin = await startHttpServer((req, res) => {
    const body = JSON.stringify({ url: req.url, pa: req.headers['proxy-authorization'] ?? null });
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const proxy = await startProxyServer({ requireAuthorization: auth });
  const certs = makeCertificates();
  const tlsServer = await startTlsServer(certs);
  after(async () => {
    await Promise.all([origin.close(), proxy.close(), tlsServer.close()]);
  });
  const proxyUrl = `http://alice:hunter2@127.0.0.1:${proxy.port}`;

  test('http: origin: absolute-form with Proxy-Authorization, connection reused', async () => {
    const pool = new ConnectionPool(origin.origin, { proxy: proxyUrl });
    try {
      for (const path of ['/a', '/b?c=1']) {
        const res = await pool.request({ path, headers: [['x-test', '1']] });
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { url: path, pa: null });
        const seen = proxy.requests.at(-1);
        assert.equal(seen?.url, `http://127.0.0.1:${origin.port}${path}`);
        assert.equal(seen?.proxyAuthorization, auth);
      }
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
    }
  });

  test('https: origin: CONNECT carries the credentials, requests inside do not', async () => {
    const pool = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
      proxy: parseProxy(proxyUrl),
      tls: { ca: certs.ca },
    });
    try {
      const before = proxy.requests.length;
      for (const path of ['/one', '/two']) {
        const res = await pool.request({ path });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), path);
      }
      const seen = proxy.requests.slice(before);
      assert.deepEqual(
        seen.map((r) => [r.method, r.url, r.proxyAuthorization]),
        [['CONNECT', `localhost:${tlsServer.port}`, auth]],
      );
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
    }
  });

  test('https: origin, proxy refuses: ProxyError from request()', async () => {
    const pool = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
      proxy: `http://127.0.0.1:${proxy.port}`,
      tls: { ca: certs.ca },
      connectTimeout: 2000,
    });
    try {
      await assert.rejects(pool.request({ path: '/' }), (error: unknown) => {
        assert.ok(error instanceof ProxyError);
        assert.equal(error.statusCode, 407);
        return true;
      });
    } finally {
      await pool.close();
    }
  });
});

describe('ConnectionPool through an https: proxy (TLS to the proxy)', async () => {
  const origin = await startHttpServer((req, res) => {
    const body = JSON.stringify({ url: req.url, pa: req.headers['proxy-authorization'] ?? null });
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const certs = makeCertificates();
  const proxy = await startProxyServer({
    requireAuthorization: auth,
    tls: { key: certs.key, cert: certs.cert },
  });
  const tlsServer = await startTlsServer(certs);
  after(async () => {
    await Promise.all([origin.close(), proxy.close(), tlsServer.close()]);
  });
  const proxyUrl = `https://alice:hunter2@localhost:${proxy.port}`;

  test('http: origin: absolute-form requests over TLS to the proxy, connection reused', async () => {
    const pool = new ConnectionPool(origin.origin, { proxy: proxyUrl, tls: { ca: certs.ca } });
    try {
      for (const path of ['/a', '/b']) {
        const res = await pool.request({ path });
        assert.deepEqual(await res.json(), { url: path, pa: null });
        assert.equal(proxy.requests.at(-1)?.url, `http://127.0.0.1:${origin.port}${path}`);
        assert.equal(proxy.requests.at(-1)?.proxyAuthorization, auth);
      }
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
    }
  });

  test('https: origin: a CONNECT tunnel inside TLS, TLS with the origin inside it', async () => {
    const handshakes = tlsServer.handshakes.length;
    const pool = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
      proxy: proxyUrl,
      tls: { ca: certs.ca },
    });
    try {
      const before = proxy.requests.length;
      for (const path of ['/one', '/two']) {
        assert.equal(await (await pool.request({ path })).text(), path);
      }
      assert.deepEqual(
        proxy.requests.slice(before).map((r) => [r.method, r.url, r.proxyAuthorization]),
        [['CONNECT', `localhost:${tlsServer.port}`, auth]],
      );
      assert.equal(tlsServer.handshakes.length, handshakes + 1);
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
    }
  });

  test("the origin's servername and identity check are not applied to the proxy", async () => {
    // Both would fail the proxy's certificate (issued for localhost and 127.0.0.1).
    const pool = new ConnectionPool(origin.origin, {
      proxy: proxyUrl,
      tls: {
        ca: certs.ca,
        servername: 'origin.example',
        checkServerIdentity: () => new Error('only for the origin'),
      },
    });
    try {
      assert.deepEqual(await (await pool.request({ path: '/c' })).json(), { url: '/c', pa: null });
    } finally {
      await pool.close();
    }
  });

  test('a proxy certificate the client does not trust fails the connect; nothing reaches it', async () => {
    const before = proxy.requests.length;
    for (const target of [origin.origin, `https://localhost:${tlsServer.port}`]) {
      const pool = new ConnectionPool(target, { proxy: proxyUrl, connectTimeout: 2000 });
      try {
        await assert.rejects(pool.request({ path: '/' }), (error: unknown) => {
          assert.ok(error instanceof SocketError, String(error));
          assert.match(error.message, /certificate/i);
          return true;
        });
      } finally {
        await pool.close();
      }
    }
    assert.equal(proxy.requests.length, before);
  });
});

describe('Agent through a forward proxy', async () => {
  const seen: string[] = [];
  const a = await startHttpServer((req, res) => {
    seen.push(`a ${req.url}`);
    res.writeHead(200, { 'content-length': 1 });
    res.end('a');
  });
  const b = await startHttpServer((req, res) => {
    seen.push(`b ${req.url}`);
    res.writeHead(200, { 'content-length': 1 });
    res.end('b');
  });
  const proxy = await startProxyServer();
  after(async () => {
    await Promise.all([a.close(), b.close(), proxy.close()]);
  });

  test('every origin goes through the proxy, one pool per origin', async () => {
    await using agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}` });
    const before = proxy.requests.length;
    assert.equal(await (await agent.request(`${a.origin}/x`)).text(), 'a');
    assert.equal(await (await agent.request(`${b.origin}/y`)).text(), 'b');
    assert.deepEqual(
      proxy.requests.slice(before).map((r) => r.url),
      [`${a.origin}/x`, `${b.origin}/y`],
    );
    assert.equal(Object.keys(agent.stats()).length, 2);
    for (const key of Object.keys(agent.stats())) assert.match(key, / via http:\/\/127\.0\.0\.1:/);
  });

  test("proxy: 'env' reads http_proxy and honours no_proxy", async () => {
    const saved = { http_proxy: process.env['http_proxy'], no_proxy: process.env['no_proxy'] };
    process.env['http_proxy'] = `http://127.0.0.1:${proxy.port}`;
    process.env['no_proxy'] = `localhost`;
    try {
      await using agent = new Agent({ proxy: 'env' });
      const before = proxy.requests.length;
      await (await agent.request(`${a.origin}/via-proxy`)).text();
      // Same server by another name: listed in no_proxy, so it goes direct.
      await (await agent.request(`http://localhost:${a.port}/direct`)).text();
      assert.deepEqual(
        proxy.requests.slice(before).map((r) => r.url),
        [`${a.origin}/via-proxy`],
      );
      assert.ok(seen.includes('a /direct'));
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
