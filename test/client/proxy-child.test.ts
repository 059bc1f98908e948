/**
 * CONNECT tunnels through a proxy in another process, to an https server in a third: the
 * tunnel is written by the HTTP/1 serializer and read by its parser, and what only shows
 * across processes (the proxy's answer and the first TLS bytes arriving in separate reads, a
 * kept-alive TLS connection inside the tunnel) must hold.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionPool, ProxyError } from '../../src/index.js';
import { startChildServer } from '../helpers/child-server.js';
import { sleep } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

/** An https server that answers every request with the number of TLS connections it accepted. */
const HTTPS_SERVER = `
import { createServer } from 'node:https';
let connections = 0;
const server = createServer(
  { key: process.env.KEY, cert: process.env.CERT, keepAliveTimeout: 60000 },
  (req, res) => {
    req.resume();
    req.on('end', () => res.end(String(connections)));
  },
);
server.on('secureConnection', () => connections++);
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/**
 * A CONNECT-only proxy: with AUTH set, a request without that Proxy-Authorization gets 407.
 * Otherwise it dials the target, answers 200 and pipes both ways, forwarding any bytes that
 * came after the request head.
 */
const CONNECT_PROXY = `
import { connect, createServer } from 'node:net';
const server = createServer((client) => {
  client.on('error', () => {});
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\\r\\n\\r\\n');
    if (end === -1) return;
    client.off('data', onData);
    const head = buffered.subarray(0, end).toString('latin1');
    const rest = buffered.subarray(end + 4);
    const auth = /\\r\\nproxy-authorization: *([^\\r]*)/i.exec(head)?.[1];
    if (process.env.AUTH && auth !== process.env.AUTH) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\\r\\ncontent-length: 0\\r\\n\\r\\n');
      return;
    }
    const [, host, port] = /^CONNECT ([^: ]+):(\\d+) HTTP\\/1\\.1/.exec(head) ?? [];
    if (host === undefined) {
      client.end('HTTP/1.1 400 Bad Request\\r\\ncontent-length: 0\\r\\n\\r\\n');
      return;
    }
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\\r\\n\\r\\n');
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  };
  client.on('data', onData);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('CONNECT tunnels through a proxy in another process', { concurrency: 2 }, () => {
  const certs = makeCertificates();

  test('sequential GETs with pauses share one tunnel and one TLS connection', async () => {
    const origin = await startChildServer(HTTPS_SERVER, { KEY: certs.key, CERT: certs.cert });
    const proxy = await startChildServer(CONNECT_PROXY);
    const pool = new ConnectionPool(`https://127.0.0.1:${origin.port}`, {
      proxy: `http://127.0.0.1:${proxy.port}`,
      tls: { ca: certs.ca },
      idleTimeout: 30_000,
    });
    try {
      let seen = '';
      for (let i = 0; i < 10; i++) {
        const res = await pool.request({ path: `/${i}` });
        assert.equal(res.status, 200);
        seen = await res.text();
        await sleep(i % 2 === 0 ? 0 : 50);
      }
      assert.equal(seen, '1', 'TLS connections the origin accepted');
      assert.equal(pool.stats().created, 1);
      assert.equal(pool.stats().reused, 9);
    } finally {
      await pool.close();
      await Promise.all([origin.close(), proxy.close()]);
    }
  });

  test("a proxy's 407 is a ProxyError with its status; with the credentials the tunnel opens", async () => {
    const origin = await startChildServer(HTTPS_SERVER, { KEY: certs.key, CERT: certs.cert });
    const proxy = await startChildServer(CONNECT_PROXY, {
      AUTH: `Basic ${Buffer.from('user:secret').toString('base64')}`,
    });
    const target = `https://127.0.0.1:${origin.port}`;
    const refused = new ConnectionPool(target, {
      proxy: `http://127.0.0.1:${proxy.port}`,
      tls: { ca: certs.ca },
    });
    const allowed = new ConnectionPool(target, {
      proxy: `http://user:secret@127.0.0.1:${proxy.port}`,
      tls: { ca: certs.ca },
    });
    try {
      await assert.rejects(refused.request({}), (error: unknown) => {
        assert.ok(error instanceof ProxyError, String(error));
        assert.equal(error.statusCode, 407);
        return true;
      });
      const res = await allowed.request({});
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '1');
    } finally {
      await Promise.all([refused.close(), allowed.close()]);
      await Promise.all([origin.close(), proxy.close()]);
    }
  });
});
