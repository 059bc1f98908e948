/**
 * HTTP/2 and proxies. An https: origin reached through a CONNECT tunnel negotiates h2 by ALPN
 * inside the tunnel (the proxy only relays bytes), over a plain proxy and over TLS to the proxy
 * (TLS inside TLS), and a burst shares one tunnel. A forwarded http: request is addressed to
 * the proxy, which speaks HTTP/1.1, so it stays HTTP/1.1 whatever `http2` says.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Agent, ConnectionPool } from '../../src/index.js';
import { HELLO, type RealH2Server, skipUnless, startNghttpd } from '../helpers/h2-real-servers.js';
import { startProxyServer, type TestProxy } from '../helpers/proxy-server.js';
import { startHttpServer } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

const certs = makeCertificates();

interface SecureH2 {
  /** `https://localhost:PORT` (the certificate names localhost and 127.0.0.1). */
  origin: string;
  sessions: number;
  /** ALPN protocol of every TLS connection the server accepted. */
  alpn: string[];
  close(): Promise<void>;
}

/** A node:http2 TLS server answering `h2 <path>` (and `h1 <path>` to HTTP/1.1 with allowHTTP1). */
async function startSecureH2(allowHTTP1 = false): Promise<SecureH2> {
  const server: Http2SecureServer = createSecureServer({
    key: certs.key,
    cert: certs.cert,
    allowHTTP1,
  });
  const state: SecureH2 = {
    origin: '',
    sessions: 0,
    alpn: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of live) session.destroy();
        server.close(() => resolve());
      }),
  };
  const live = new Set<import('node:http2').ServerHttp2Session>();
  server.on('secureConnection', (socket) => state.alpn.push(String(socket.alpnProtocol)));
  server.on('session', (session) => {
    state.sessions++;
    live.add(session);
    session.on('close', () => live.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => {});
    // A small delay, so a burst is in flight at once.
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${headers[':path']}`);
    }, 5);
  });
  server.on('request', (req, res) => {
    if (req.httpVersion !== '2.0') res.end(`h1 ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  return state;
}

/** The protocols of the `httpool:connection:open` events while `body` runs. */
async function opened(body: () => Promise<void>): Promise<string[]> {
  const protocols: string[] = [];
  const onOpen = (message: unknown) =>
    protocols.push(String((message as { protocol: string }).protocol));
  subscribe('httpool:connection:open', onOpen);
  try {
    await body();
  } finally {
    unsubscribe('httpool:connection:open', onOpen);
  }
  return protocols;
}

describe('HTTP/2 inside a CONNECT tunnel', async () => {
  const origin = await startSecureH2(true);
  const plain = await startProxyServer();
  const secure = await startProxyServer({ tls: { key: certs.key, cert: certs.cert } });
  after(() => Promise.all([origin.close(), plain.close(), secure.close()]));

  for (const [name, proxy] of [
    ['a plain proxy', plain],
    ['a TLS proxy (TLS inside TLS)', secure],
  ] as Array<[string, TestProxy]>) {
    test(`http2 'auto' through ${name}: h2 by ALPN inside the tunnel, 20 at once on one tunnel`, async () => {
      const tunnelsBefore = proxy.tunnels.length;
      const sessionsBefore = origin.sessions;
      const pool = new ConnectionPool(origin.origin, {
        http2: 'auto',
        proxy: proxy.url,
        tls: { ca: certs.ca },
        maxSize: 4,
      });
      try {
        const protocols = await opened(async () => {
          const first = await pool.request({ path: '/first' });
          assert.equal(first.httpVersion, '2.0');
          assert.equal(await first.text(), 'h2 /first');
          const bodies = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              pool.request({ path: `/${i}` }).then((r) => r.text()),
            ),
          );
          assert.deepEqual(
            bodies,
            Array.from({ length: 20 }, (_, i) => `h2 /${i}`),
          );
        });
        assert.deepEqual(protocols, ['h2']);
        assert.equal(pool.stats().created, 1);
        assert.deepEqual(proxy.tunnels.slice(tunnelsBefore), [new URL(origin.origin).host]);
        assert.equal(origin.sessions - sessionsBefore, 1);
        assert.equal(origin.alpn.at(-1), 'h2');
      } finally {
        await pool.close();
      }
    });
  }

  test("an Agent with http2 'auto' and a proxy: request() and fetch() share one h2 tunnel", async () => {
    const tunnelsBefore = plain.tunnels.length;
    const agent = new Agent({ http2: 'auto', proxy: plain.url, tls: { ca: certs.ca } });
    try {
      const res = await agent.request(`${origin.origin}/agent`);
      assert.equal(res.httpVersion, '2.0');
      assert.equal(await res.text(), 'h2 /agent');
      const fetched = await agent.fetch(`${origin.origin}/fetch`);
      assert.equal(await fetched.text(), 'h2 /fetch');
      assert.equal(plain.tunnels.length - tunnelsBefore, 1);
    } finally {
      await agent.close();
    }
  });

  test("http2 'off' through the same tunnel stays HTTP/1.1 (no h2 offered)", async () => {
    const pool = new ConnectionPool(origin.origin, { proxy: plain.url, tls: { ca: certs.ca } });
    try {
      const res = await pool.request({ path: '/old' });
      assert.equal(res.httpVersion, '1.1');
      assert.equal(await res.text(), 'h1 /old');
      // No ALPN offered at all, so the server falls back to HTTP/1.1 (alpnProtocol false).
      assert.equal(origin.alpn.at(-1), 'false');
    } finally {
      await pool.close();
    }
  });

  test("http2 'prior-knowledge' on an https: origin offers only h2 in the tunnel", async () => {
    const pool = new ConnectionPool(origin.origin, {
      http2: 'prior-knowledge',
      proxy: plain.url,
      tls: { ca: certs.ca },
    });
    try {
      const res = await pool.request({ path: '/pk' });
      assert.equal(res.httpVersion, '2.0');
      assert.equal(await res.text(), 'h2 /pk');
    } finally {
      await pool.close();
    }
  });

  test('nghttpd behind the tunnel: h2 end to end', { skip: skipUnless('nghttpd') }, async () => {
    const server: RealH2Server = await startNghttpd({ h2c: false });
    const pool = new ConnectionPool(server.tlsOrigin, {
      http2: 'auto',
      proxy: plain.url,
      tls: { ca: server.ca },
    });
    try {
      const bodies = await Promise.all(
        Array.from({ length: 10 }, () =>
          pool
            .request({ path: '/hello.txt' })
            .then(async (r) => `${r.httpVersion} ${await r.text()}`),
        ),
      );
      assert.deepEqual(bodies, Array(10).fill(`2.0 ${HELLO}`));
      assert.equal(pool.stats().created, 1);
      assert.equal(plain.tunnels.at(-1), new URL(server.tlsOrigin).host);
    } finally {
      await pool.close();
      await server.close();
    }
  });
});

describe('forwarded http: through a proxy stays HTTP/1.1', async () => {
  const seen: string[] = [];
  const origin = await startHttpServer((req, res) => {
    seen.push(`${req.httpVersion} ${req.url}`);
    res.end(`h1 ${req.url}`);
  });
  const proxy = await startProxyServer();
  after(() => Promise.all([origin.close(), proxy.close()]));

  for (const mode of ['prior-knowledge', 'auto', 'only'] as const) {
    test(`http2 '${mode}': absolute-form HTTP/1.1 to the proxy, no h2c preface`, async () => {
      const before = proxy.requests.length;
      const pool = new ConnectionPool(origin.origin, { http2: mode, proxy: proxy.url });
      try {
        const protocols = await opened(async () => {
          for (const path of ['/a', '/b']) {
            const res = await pool.request({ path });
            assert.equal(res.httpVersion, '1.1');
            assert.equal(await res.text(), `h1 ${path}`);
          }
        });
        assert.deepEqual(protocols, ['http/1.1']);
        // The proxy (node:http, which would reject an h2c preface) read two HTTP/1.1
        // requests in absolute form, and no tunnel was asked for.
        assert.deepEqual(
          proxy.requests.slice(before).map((r) => `${r.method} ${r.url}`),
          [`GET ${origin.origin}/a`, `GET ${origin.origin}/b`],
        );
        assert.equal(pool.stats().streams, 0);
        assert.equal(pool.stats().created, 1);
      } finally {
        await pool.close();
      }
    });
  }
});
