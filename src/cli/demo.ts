/**
 * `npm start`: a small, real demonstration. It starts an HTTP server on loopback, sends a few
 * hundred concurrent requests through one ConnectionPool with `maxSize: 8`, and prints how
 * many requests were made against how many connections the server saw.
 *
 * Built only on the package's public API, as every command-line program here is.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionPool } from '../index.js';

const REQUESTS = 400;
const MAX_SIZE = 8;

async function main(): Promise<void> {
  let connectionsSeen = 0;
  let requestsSeen = 0;
  const server = createServer((req, res) => {
    requestsSeen++;
    const body = JSON.stringify({ path: req.url, n: requestsSeen });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.on('connection', () => connectionsSeen++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  await using pool = new ConnectionPool(`http://127.0.0.1:${port}`, { maxSize: MAX_SIZE });
  const started = performance.now();
  let ok = 0;
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const response = await pool.request({ path: `/item/${i}` });
      const data = (await response.json()) as { path: string };
      if (response.status === 200 && data.path === `/item/${i}`) ok++;
    }),
  );
  const elapsed = performance.now() - started;
  const stats = pool.stats();

  console.log(
    `httpool demo: ${REQUESTS} concurrent requests through one ConnectionPool (maxSize ${MAX_SIZE})`,
  );
  console.log(`  responses ok:             ${ok} / ${REQUESTS}`);
  console.log(`  requests the server saw:  ${requestsSeen}`);
  console.log(`  connections opened:       ${stats.created} (server saw ${connectionsSeen})`);
  console.log(
    `  requests per connection:  ${(requestsSeen / Math.max(1, connectionsSeen)).toFixed(1)}`,
  );
  console.log(
    `  time:                     ${elapsed.toFixed(0)} ms (${Math.round((REQUESTS / elapsed) * 1000)} req/s)`,
  );
  await pool.close();
  server.close();
  if (ok !== REQUESTS) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
