import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConnectionPool, SocketError } from '../../src/index.js';
import { eventually } from '../helpers/servers.js';
import { makeCertificates, startTlsServer, type TlsTestServer } from '../helpers/tls.js';

const UNTRUSTED_CODES = [
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
];

describe('ConnectionPool over TLS', () => {
  const certs = makeCertificates();
  let server: TlsTestServer;
  before(async () => {
    server = await startTlsServer(certs);
  });
  after(() => server.close());

  async function get(pool: ConnectionPool, path: string): Promise<string> {
    const res = await pool.request({ path });
    assert.equal(res.status, 200);
    return res.text();
  }

  test('a certificate signed by the given CA is accepted, by hostname and by IP', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const pool = new ConnectionPool(`https://${host}:${server.port}`, { tls: { ca: certs.ca } });
      assert.equal(await get(pool, '/a'), '/a');
      assert.equal(await get(pool, '/b'), '/b');
      assert.equal(pool.stats().created, 1, `${host}: one connection for both requests`);
      await pool.close();
      assert.equal(pool.stats().open, 0);
    }
  });

  test('without the CA the certificate is refused with a SocketError and nothing stays open', async () => {
    const handshakes = server.handshakes.length;
    const requests = server.requests;
    const pool = new ConnectionPool(`https://localhost:${server.port}`, { maxSize: 1 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(pool.request({ path: '/secret' }), (error: unknown) => {
        assert.ok(error instanceof SocketError, `got ${String(error)}`);
        assert.equal(error.code, 'ERR_SOCKET');
        const cause = error.cause as { code?: string } | undefined;
        assert.ok(
          UNTRUSTED_CODES.includes(cause?.code ?? ''),
          `unexpected cause code ${cause?.code}`,
        );
        return true;
      });
    }
    const stats = pool.stats();
    assert.equal(stats.open, 0);
    assert.equal(stats.leased, 0);
    assert.equal(stats.connectFailed, 2);
    assert.equal(server.requests, requests, 'no request was sent');
    assert.equal(server.handshakes.length, handshakes, 'no handshake completed on the server');
    await pool.close();
  });

  test('the certificate name is checked: a CA-signed cert for another name is refused', async () => {
    // The cert covers localhost and 127.0.0.1; asking for another SNI/identity must fail.
    const pool = new ConnectionPool(`https://127.0.0.1:${server.port}`, {
      tls: { ca: certs.ca, servername: 'example.com' },
    });
    await assert.rejects(pool.request({}), (error: unknown) => {
      assert.ok(error instanceof SocketError);
      assert.equal((error.cause as { code?: string }).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return true;
    });
    assert.equal(pool.stats().open, 0);
    await pool.close();
  });

  test('rejectUnauthorized: false accepts the unknown certificate', async () => {
    const pool = new ConnectionPool(`https://localhost:${server.port}`, {
      tls: { rejectUnauthorized: false },
    });
    assert.equal(await get(pool, '/insecure'), '/insecure');
    await pool.close();
  });

  test('SNI carries the hostname, and nothing for an IP address', async () => {
    for (const [host, expected] of [
      ['localhost', 'localhost'],
      ['127.0.0.1', false],
    ] as const) {
      const before = server.handshakes.length;
      const pool = new ConnectionPool(`https://${host}:${server.port}`, { tls: { ca: certs.ca } });
      await get(pool, '/sni');
      await pool.close();
      assert.equal(server.handshakes.length, before + 1);
      assert.equal(server.handshakes[before]!.servername, expected, host);
    }
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`a pool's later connections resume the TLS session (${version})`, async () => {
      const own = await startTlsServer(certs, { maxVersion: version });
      try {
        const pool = new ConnectionPool(`https://localhost:${own.port}`, {
          tls: { ca: certs.ca },
          // One request per connection forces a new handshake for each request.
          maxRequestsPerConnection: 1,
        });
        for (const path of ['/1', '/2', '/3']) assert.equal(await get(pool, path), path);
        await eventually(() => own.handshakes.length === 3, 1000, 'three handshakes');
        assert.deepEqual(
          own.handshakes.map((h) => [h.protocol, h.resumed]),
          [
            [version, false],
            [version, true],
            [version, true],
          ],
        );
        // Concurrent connections after the first can resume too.
        const more = await Promise.all(['/4', '/5', '/6'].map((p) => get(pool, p)));
        assert.deepEqual(more, ['/4', '/5', '/6']);
        assert.ok(own.handshakes.slice(3).every((h) => h.resumed));
        await pool.close();
        assert.equal(pool.stats().open, 0);
      } finally {
        await own.close();
      }
    });
  }
});
