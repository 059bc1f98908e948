/**
 * HTTP/2 over a Unix domain socket (`socketPath`): h2c with prior knowledge, and h2 by ALPN
 * over TLS on the socket. The origin names the authority (`:authority`), the socket carries the
 * bytes, and a burst shares one session. nginx listening on a Unix socket too, when installed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, ConnectionPool, SocketError } from '../../src/index.js';
import { skipUnless, startNginxH2 } from '../helpers/h2-real-servers.js';
import { makeCertificates } from '../helpers/tls.js';

describe('HTTP/2 over a Unix domain socket (socketPath)', () => {
  const certs = makeCertificates();
  let dir: string;
  let h2cPath: string;
  let tlsPath: string;
  const authorities: string[] = [];
  let sessions = 0;
  const live = new Set<ServerHttp2Session>();
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => {});
    authorities.push(String(headers[':authority']));
    // A short delay keeps a burst in flight at once.
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end(`${headers[':method']} ${headers[':path']}`);
    }, 2);
  };
  const track = (server: Http2Server | Http2SecureServer) => {
    server.on('session', (session) => {
      sessions++;
      live.add(session);
      session.on('close', () => live.delete(session));
      session.on('error', () => {});
    });
    server.on('stream', onStream);
  };
  const h2c = createServer();
  const tls = createSecureServer({ key: certs.key, cert: certs.cert });
  track(h2c);
  track(tls);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'httpool-h2-unix-'));
    h2cPath = join(dir, 'h2c.sock');
    tlsPath = join(dir, 'tls.sock');
    await new Promise<void>((resolve) => h2c.listen(h2cPath, resolve));
    await new Promise<void>((resolve) => tls.listen(tlsPath, resolve));
  });
  after(async () => {
    for (const session of live) session.destroy();
    await new Promise<void>((resolve) => h2c.close(() => resolve()));
    await new Promise<void>((resolve) => tls.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test("h2c with 'prior-knowledge': the origin names :authority, 30 at once on one session", async () => {
    const pool = new ConnectionPool('http://h2.local', {
      socketPath: h2cPath,
      http2: 'prior-knowledge',
      maxSize: 4,
    });
    const sessionsBefore = sessions;
    try {
      const first = await pool.request({ path: '/first' });
      assert.equal(first.httpVersion, '2.0');
      assert.equal(first.url, 'http://h2.local/first');
      assert.equal(await first.text(), 'GET /first');
      const bodies = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          pool.request({ method: 'POST', path: `/${i}`, body: 'x' }).then((r) => r.text()),
        ),
      );
      assert.deepEqual(
        bodies,
        Array.from({ length: 30 }, (_, i) => `POST /${i}`),
      );
      assert.deepEqual(new Set(authorities.slice(-31)), new Set(['h2.local']));
      assert.equal(pool.stats().created, 1);
      assert.equal(sessions - sessionsBefore, 1);
    } finally {
      await pool.close();
    }
  });

  test("TLS on the socket with 'auto': h2 by ALPN, the certificate checked against the origin's name", async () => {
    const pool = new ConnectionPool('https://localhost', {
      socketPath: tlsPath,
      http2: 'auto',
      tls: { ca: certs.ca },
    });
    const wrongName = new ConnectionPool('https://other.test', {
      socketPath: tlsPath,
      http2: 'auto',
      tls: { ca: certs.ca },
    });
    try {
      const res = await pool.request({ path: '/secure' });
      assert.equal(res.httpVersion, '2.0');
      assert.equal(await res.text(), 'GET /secure');
      assert.equal(authorities.at(-1), 'localhost');
      await assert.rejects(wrongName.request({}), (error: unknown) => {
        assert.ok(error instanceof SocketError);
        assert.equal(
          (error as { cause?: { code?: string } }).cause?.code,
          'ERR_TLS_CERT_ALTNAME_INVALID',
        );
        return true;
      });
    } finally {
      await Promise.all([pool.close(), wrongName.close()]);
    }
  });

  test("an Agent with socketPath and 'prior-knowledge': request() and fetch() over one session", async () => {
    const agent = new Agent({ socketPath: h2cPath, http2: 'prior-knowledge' });
    const sessionsBefore = sessions;
    try {
      const res = await agent.request('http://agent.local/a');
      assert.equal(res.httpVersion, '2.0');
      assert.equal(await res.text(), 'GET /a');
      const fetched = await agent.fetch('http://agent.local/b');
      assert.equal(await fetched.text(), 'GET /b');
      assert.equal(sessions - sessionsBefore, 1);
      assert.equal(authorities.at(-1), 'agent.local');
    } finally {
      await agent.close();
    }
  });

  test('nginx listening on a Unix socket with http2', { skip: skipUnless('nginx') }, async () => {
    const path = join(dir, 'nginx.sock');
    const server = await startNginxH2({
      tls: false,
      serverConfig: `listen unix:${path} http2;\n    location = /conn { return 200 "$connection $server_protocol\\n"; }`,
    });
    const pool = new ConnectionPool('http://nginx.local', {
      socketPath: path,
      http2: 'prior-knowledge',
    });
    try {
      const bodies = await Promise.all(
        Array.from({ length: 20 }, () => pool.request({ path: '/conn' }).then((r) => r.text())),
      );
      assert.equal(new Set(bodies).size, 1, `connections: ${[...new Set(bodies)]}`);
      assert.match(bodies[0]!, / HTTP\/2\.0\n$/);
      assert.equal(pool.stats().created, 1);
    } finally {
      await pool.close();
      await server.close();
    }
  });
});
