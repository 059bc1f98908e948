/**
 * Keep-alive over TLS with a server in another process: a TLS socket reports its writes done a
 * little after the bytes left, so a response can arrive before the request's write callback.
 * Sequential requests with pauses between them must still share one connection.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionPool } from '../../src/index.js';
import { startChildServer } from '../helpers/child-server.js';
import { sleep } from '../helpers/servers.js';
import { makeCertificates } from '../helpers/tls.js';

/** An https server that answers every request with the number of TLS connections it accepted. */
const HTTPS_SERVER = `
import { createServer } from 'node:https';
let connections = 0;
const server = createServer(
  {
    key: process.env.KEY,
    cert: process.env.CERT,
    minVersion: process.env.VERSION,
    maxVersion: process.env.VERSION,
    keepAliveTimeout: 60000,
  },
  (req, res) => {
    req.resume();
    req.on('end', () => res.end(String(connections)));
  },
);
server.on('secureConnection', () => connections++);
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('TLS keep-alive against a server in another process', { concurrency: 2 }, () => {
  const certs = makeCertificates();
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${version}: 20 sequential GETs at 0, 10, 100 and 300 ms gaps use one connection`, async () => {
      const server = await startChildServer(HTTPS_SERVER, {
        KEY: certs.key,
        CERT: certs.cert,
        VERSION: version,
      });
      try {
        for (const gap of [0, 10, 100, 300]) {
          const pool = new ConnectionPool(`https://127.0.0.1:${server.port}`, {
            tls: { ca: certs.ca },
            idleTimeout: 30_000,
          });
          let seen = '';
          try {
            for (let i = 0; i < 20; i++) {
              const res = await pool.request({ path: `/${i}` });
              seen = await res.text();
              if (gap > 0) await sleep(gap);
            }
            assert.equal(pool.stats().created, 1, `gap ${gap} ms: connections opened`);
            assert.equal(pool.stats().reused, 19, `gap ${gap} ms: requests on a reused connection`);
          } finally {
            await pool.close();
          }
          // The server's own count: one more connection per gap, never more.
          assert.equal(seen, String([0, 10, 100, 300].indexOf(gap) + 1), `gap ${gap} ms: server`);
        }
      } finally {
        await server.close();
      }
    });
  }
});
