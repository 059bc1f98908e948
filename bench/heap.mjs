// @ts-check
/**
 * Heap per idle connection: opens `n` keep-alive connections to the bench server through one
 * client, leaves them idle, and measures the heapUsed growth after a full GC, divided by n.
 * Needs `node --expose-gc` (bench/run.mjs starts it so).
 *
 * Usage: node --expose-gc bench/heap.mjs '<json>' where json is {client, url, n}
 *   client: httpool | undici-pool | node-http
 *
 * Prints one JSON line: {n, idle, heapPerConnBytes, rssPerConnBytes} or {error}.
 */
import http from 'node:http';
import { reportAndExit } from './child.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

/** The built package: a snapshot of dist/ taken by run.mjs (so a rebuild in the middle of a run cannot mix versions), else ../dist. */
const distUrl = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const { client, url, n } = config;
const origin = new URL(url).origin;
const path = new URL(url).pathname;

setTimeout(() => {
  process.stdout.write(
    `${JSON.stringify({ error: `watchdog: no result after ${config.watchdogMs} ms` })}\n`,
  );
  process.exit(2);
}, config.watchdogMs ?? 60_000).unref();

const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);

async function settle() {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc?.();
  }
}

/** @type {Record<string, () => Promise<{ open: () => Promise<void>, idle: () => number, close: () => Promise<unknown> | void }>>} */
const clients = {
  async httpool() {
    const { ConnectionPool } = await import(new URL('index.js', distUrl).href);
    const pool = new ConnectionPool(origin, { maxSize: n, idleTimeout: Number.POSITIVE_INFINITY });
    return {
      async open() {
        const leases = await Promise.all(Array.from({ length: n }, () => pool.acquire()));
        // One request on each, so every connection has done real work before it idles.
        await Promise.all(leases.map(async (conn) => (await conn.request({ path })).arrayBuffer()));
        for (const conn of leases) conn.release();
      },
      idle: () => pool.stats().idle,
      close: () => pool.destroy(),
    };
  },
  async 'undici-pool'() {
    const { Pool } = await import('undici');
    const pool = new Pool(origin, {
      connections: n,
      keepAliveTimeout: 600_000,
      keepAliveMaxTimeout: 600_000,
    });
    return {
      async open() {
        await Promise.all(
          Array.from({ length: n }, async () =>
            (await pool.request({ path, method: 'GET' })).body.arrayBuffer(),
          ),
        );
      },
      idle: () => pool.stats.free,
      close: () => pool.destroy(),
    };
  },
  async 'node-http'() {
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: n,
      maxFreeSockets: n,
      timeout: 600_000,
    });
    return {
      async open() {
        await Promise.all(
          Array.from(
            { length: n },
            () =>
              new Promise((resolve, reject) => {
                http
                  .get(url, { agent }, (res) => {
                    res.on('data', () => {});
                    res.on('end', resolve);
                    res.on('error', reject);
                  })
                  .on('error', reject);
              }),
          ),
        );
        await new Promise((resolve) => setImmediate(resolve));
      },
      idle: () =>
        Object.values(agent.freeSockets).reduce((sum, list) => sum + (list?.length ?? 0), 0),
      close: () => agent.destroy(),
    };
  },
};

async function main() {
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const make = clients[client];
  if (make === undefined) throw new Error(`unknown client ${client}`);
  const c = await make();
  await settle();
  const before = process.memoryUsage();
  await c.open();
  await settle();
  const after = process.memoryUsage();
  const idle = c.idle();
  await Promise.race([c.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  return {
    n,
    idle,
    heapPerConnBytes: (after.heapUsed - before.heapUsed) / n,
    rssPerConnBytes: (after.rss - before.rss) / n,
  };
}

reportAndExit(main());
