// `npm run soak`: one million requests through one ConnectionPool, reporting heap and open
// handles at intervals, to show that nothing grows with the request count.
// Usage: node --expose-gc scripts/soak.mjs [--requests N] [--concurrency N]
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { ConnectionPool } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '64' },
    connections: { type: 'string', default: '16' },
  },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
const maxSize = Number(values.connections);
if (![total, concurrency, maxSize].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('soak: --requests, --concurrency and --connections take positive integers');
  process.exit(2);
}
const gc = globalThis.gc;
if (typeof gc !== 'function') {
  console.error('soak: run with node --expose-gc (npm run soak does)');
  process.exit(2);
}

// A canned keep-alive server: answers each request head with the same bytes, in one write, or
// (for /split) the head with half the body and the rest a moment later, so that the client
// sees a body still arriving: the path that watches for bodies dropped unread.
const body = 'hello soak';
const response = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
const half = response.length - body.length / 2;
const server = createServer((socket) => {
  // Without it, the second half of a split body waits for the client's delayed ACK (Nagle).
  socket.setNoDelay(true);
  let tail = '';
  socket.on('data', (chunk) => {
    const text = tail + chunk.toString('latin1');
    let at = 0;
    for (;;) {
      const end = text.indexOf('\r\n\r\n', at);
      if (end < 0) break;
      if (text.startsWith('GET /split', at)) {
        socket.write(response.subarray(0, half));
        setTimeout(() => socket.write(response.subarray(half)), 1);
      } else socket.write(response);
      at = end + 4;
    }
    tail = text.slice(at);
  });
  socket.on('error', () => {});
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const pool = new ConnectionPool(origin, { maxSize });
const sample = () => {
  gc();
  const { heapUsed } = process.memoryUsage();
  return {
    heapMiB: heapUsed / 1048576,
    handles: process.getActiveResourcesInfo().length,
  };
};
const rows = [];
const report = (done, started) => {
  const s = sample();
  const elapsed = (performance.now() - started) / 1000;
  const stats = pool.stats();
  const row = {
    requests: done,
    heapMiB: Number(s.heapMiB.toFixed(2)),
    handles: s.handles,
    open: stats.open,
    leased: stats.leased,
    reqPerSec: Math.round(done / Math.max(elapsed, 1e-9)),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
};

const interval = Math.max(1, Math.floor(total / 10));
let issued = 0;
let completed = 0;
let failed = 0;
const started = performance.now();
const deadline = started + 10 * 60_000;
report(0, started);
let nextReport = interval;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (issued < total && performance.now() < deadline) {
      issued++;
      // One request in four has its body arrive after its head, and is read rather than dumped.
      const split = issued % 4 === 0;
      try {
        const res = await pool.request({ path: split ? '/split' : '/' });
        if (!split) await res.dump();
        else if ((await res.text()) !== body) failed++;
      } catch {
        failed++;
      }
      completed++;
      if (completed >= nextReport) {
        nextReport += interval;
        report(completed, started);
      }
    }
  }),
);
await pool.close();
server.close();
const first = rows[1] ?? rows[0];
const last = rows.at(-1);
console.log(
  `soak: ${completed} requests, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
    `heap ${first.heapMiB} MiB after ${first.requests} requests, ${last.heapMiB} MiB after ${last.requests}; ` +
    `handles ${first.handles} -> ${last.handles}`,
);
if (failed > 0) process.exitCode = 1;
