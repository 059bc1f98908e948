import assert from 'node:assert/strict';
import type { LookupFunction } from 'node:net';
import { after, describe, test } from 'node:test';
import { Agent, ConnectionPool, InvalidArgumentError, SocketError } from '../../src/index.js';
import { startProxyServer } from '../helpers/proxy-server.js';
import { startHttpServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

describe('lookup and localAddress', async () => {
  const seen: Array<{ host: string | undefined; from: string | undefined }> = [];
  const server = await startHttpServer((req, res) => {
    seen.push({ host: req.headers.host, from: req.socket.remoteAddress });
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  });
  after(() => server.close());

  /** Resolves every name to 127.0.0.1 and records what it was asked. */
  function pinned(asked: string[]): LookupFunction {
    return ((
      hostname: string,
      options: { all?: boolean },
      callback: (...args: unknown[]) => void,
    ) => {
      asked.push(hostname);
      if (hostname === 'nowhere.test') {
        callback(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
        );
      } else if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    }) as LookupFunction;
  }

  test('lookup resolves the origin name; the Host header keeps the name', async () => {
    const asked: string[] = [];
    const pool = new ConnectionPool(`http://api.test:${server.port}`, { lookup: pinned(asked) });
    try {
      assert.equal(await (await pool.request({ path: '/a' })).text(), 'ok');
      assert.equal(await (await pool.request({ path: '/b' })).text(), 'ok');
      assert.deepEqual(asked, ['api.test']); // one connection, one lookup
      assert.equal(seen.at(-1)?.host, `api.test:${server.port}`);
      const failing = new ConnectionPool(`http://nowhere.test:${server.port}`, {
        lookup: pinned(asked),
      });
      await assert.rejects(failing.request({}), (error: unknown) => {
        assert.ok(error instanceof SocketError);
        assert.match(error.message, /ENOTFOUND/);
        return true;
      });
      await failing.close();
    } finally {
      await pool.close();
    }
  });

  test('lookup also resolves the proxy name, on an Agent too', async () => {
    const proxy = await startProxyServer();
    const asked: string[] = [];
    try {
      await using agent = new Agent({
        proxy: `http://proxy.test:${proxy.port}`,
        lookup: pinned(asked),
      });
      assert.equal(await (await agent.request(`${server.origin}/via`)).text(), 'ok');
      assert.deepEqual(asked, ['proxy.test']);
      assert.equal(proxy.requests.at(-1)?.url, `${server.origin}/via`);
    } finally {
      await proxy.close();
    }
  });

  test('a lookup that answers one address (ignoring `all`), none, or throws is taken as meant', async () => {
    const naive = ((_host: string, _options: unknown, callback: (...args: unknown[]) => void) =>
      callback(null, '127.0.0.1', 4)) as unknown as LookupFunction;
    const pool = new ConnectionPool(`http://naive.test:${server.port}`, { lookup: naive });
    assert.equal(await (await pool.request({})).text(), 'ok');
    await pool.close();
    const broken: Array<[string, LookupFunction]> = [
      [
        'empty',
        ((_h: string, _o: unknown, callback: (...args: unknown[]) => void) =>
          setImmediate(() => callback(null, []))) as unknown as LookupFunction,
      ],
      [
        'throws',
        (() => {
          throw new Error('lookup exploded');
        }) as unknown as LookupFunction,
      ],
    ];
    for (const [name, lookup] of broken) {
      const failing = new ConnectionPool(`http://${name}.test:${server.port}`, { lookup });
      await assert.rejects(failing.request({}), SocketError, name);
      await failing.close();
    }
  });

  test('lookup is used for TLS origins, https: proxies and CONNECT tunnels', async () => {
    const certs = makeCertificates();
    const tlsServer = await startTlsServer(certs);
    const secureProxy = await startProxyServer({ tls: { key: certs.key, cert: certs.cert } });
    const asked: string[] = [];
    try {
      // The certificate names localhost; the lookup is the only way to find it.
      const direct = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
        lookup: pinned(asked),
        tls: { ca: certs.ca },
      });
      assert.equal(await (await direct.request({ path: '/tls' })).text(), '/tls');
      await direct.close();
      assert.deepEqual(asked, ['localhost']);
      // Through an https: proxy found by lookup, a tunnel to the TLS origin.
      const tunnelled = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
        proxy: `https://localhost:${secureProxy.port}`,
        lookup: pinned(asked),
        tls: { ca: certs.ca },
      });
      assert.equal(await (await tunnelled.request({ path: '/tunnel' })).text(), '/tunnel');
      await tunnelled.close();
      assert.deepEqual(asked, ['localhost', 'localhost']);
      assert.equal(secureProxy.tunnels.length, 1);
    } finally {
      await Promise.all([tlsServer.close(), secureProxy.close()]);
    }
  });

  // Linux answers on all of 127/8, so a second loopback address shows the choice was made.
  test('localAddress picks the address connections come from', {
    skip: process.platform !== 'linux',
  }, async () => {
    const pool = new ConnectionPool(server.origin, { localAddress: '127.0.0.2' });
    try {
      assert.equal(await (await pool.request({})).text(), 'ok');
      assert.equal(seen.at(-1)?.from, '127.0.0.2');
      // By name: `localhost` may resolve to ::1 first, which an IPv4 source cannot reach.
      const byName = new ConnectionPool(`http://localhost:${server.port}`, {
        localAddress: '127.0.0.2',
      });
      assert.equal(await (await byName.request({})).text(), 'ok');
      await byName.close();
    } finally {
      await pool.close();
    }
    // An address of no local interface cannot be bound: the connect fails, typed.
    const unbound = new ConnectionPool(server.origin, { localAddress: '192.0.2.1' });
    await assert.rejects(unbound.request({}), SocketError);
    await unbound.close();
  });

  test('bad values are refused', () => {
    for (const options of [
      { lookup: 'dns' as unknown as LookupFunction },
      { localAddress: 'localhost' },
      { localAddress: 42 as unknown as string },
      { socketPath: '/tmp/x.sock', localAddress: '127.0.0.1' },
      { socketPath: '/tmp/x.sock', lookup: pinned([]) },
    ]) {
      assert.throws(() => new ConnectionPool(server.origin, options), InvalidArgumentError);
      assert.throws(() => new Agent(options), InvalidArgumentError);
    }
  });
});
