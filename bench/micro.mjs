// @ts-check
/**
 * Pool bookkeeping alone: acquire + release pairs of trivial resources, no I/O. One
 * implementation and one shape per process (started by bench/run.mjs), so the JIT of one
 * pool does not colour the next.
 *
 * Usage: node bench/micro.mjs '<json>' where json is {impl, size, workers, pairs, warmup, maxMs}
 *   impl: httpool | tarn | generic-pool | bare
 *   size: resources in the pool; workers: loops each doing `r = await acquire(); release(r)`.
 *   With workers > size, workers - size of them are always queued: the waiter-queue cost.
 *
 * Prints one JSON line: {pairs, elapsedMs, nsPerPair, pairsPerSec, cpuUs} or {error}.
 */
import { reportAndExit } from './child.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

/** The built package: a snapshot of dist/ taken by run.mjs (so a rebuild in the middle of a run cannot mix versions), else ../dist. */
const distUrl = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const { impl, size, workers, pairs, warmup, maxMs } = config;

setTimeout(() => {
  process.stdout.write(
    `${JSON.stringify({ error: `watchdog: no result after ${config.watchdogMs} ms` })}\n`,
  );
  process.exit(2);
}, config.watchdogMs ?? 60_000).unref();

/**
 * The ceiling: a bare free list plus a FIFO queue of waiters (an array with a moving head),
 * nothing else: no timeouts, no health checks, no stats.
 */
class BarePool {
  /** @param {number} max */
  constructor(max) {
    this.max = max;
    this.created = 0;
    /** @type {object[]} */
    this.free = [];
    /** @type {((r: object) => void)[]} */
    this.queue = [];
    this.head = 0;
  }
  /** @returns {Promise<object>} */
  acquire() {
    const r = this.free.pop();
    if (r !== undefined) return Promise.resolve(r);
    if (this.created < this.max) return Promise.resolve({ id: this.created++ });
    return new Promise((resolve) => this.queue.push(resolve));
  }
  /** @param {object} r */
  release(r) {
    if (this.head === this.queue.length) return void this.free.push(r);
    const waiter = this.queue[this.head];
    this.queue[this.head++] = /** @type {any} */ (undefined);
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    waiter(r);
  }
}

/**
 * @typedef {{ acquire: () => Promise<object>, release: (r: object) => void, close: () => Promise<unknown> | void }} Pool
 * @type {Record<string, (size: number) => Promise<Pool>>}
 */
const impls = {
  async httpool(max) {
    const { ResourcePool } = await import(new URL('pool/resource-pool.js', distUrl).href);
    let id = 0;
    const pool = new ResourcePool({
      create: async () => ({ id: id++ }),
      destroy: () => {},
      maxSize: max,
      idleTimeout: Number.POSITIVE_INFINITY,
    });
    return {
      acquire: () => pool.acquire(),
      release: (r) => pool.release(r),
      close: () => pool.destroy(),
    };
  },
  async tarn(max) {
    const { Pool } = await import('tarn');
    let id = 0;
    const pool = new Pool({
      create: async () => ({ id: id++ }),
      destroy: () => {},
      min: 0,
      max,
      acquireTimeoutMillis: 600_000,
    });
    return {
      acquire: () => pool.acquire().promise,
      release: (r) => {
        pool.release(r);
      },
      close: () => pool.destroy(),
    };
  },
  async 'generic-pool'(max) {
    const genericPool = (await import('generic-pool')).default;
    let id = 0;
    const pool = genericPool.createPool(
      { create: async () => ({ id: id++ }), destroy: async () => {} },
      { min: 0, max },
    );
    return {
      acquire: () => pool.acquire(),
      release: (r) => {
        void pool.release(r);
      },
      close: async () => {
        await pool.drain();
        await pool.clear();
      },
    };
  },
  async bare(max) {
    const pool = new BarePool(max);
    return { acquire: () => pool.acquire(), release: (r) => pool.release(r), close() {} };
  },
};

/**
 * @param {Pool} pool
 * @param {number} count pairs to run
 * @param {number} deadline performance.now() after which no new acquire starts
 * @returns {Promise<number>} pairs done
 */
async function drive(pool, count, deadline) {
  let started = 0;
  let done = 0;
  const loop = async () => {
    // Checking the clock costs as much as a pair: look every 256 pairs.
    while (started < count && ((started & 255) !== 0 || performance.now() < deadline)) {
      started++;
      const r = await pool.acquire();
      pool.release(r);
      done++;
    }
  };
  const loops = [];
  for (let i = 0; i < workers; i++) loops.push(loop());
  await Promise.all(loops);
  return done;
}

async function main() {
  const make = impls[impl];
  if (make === undefined) throw new Error(`unknown pool ${impl}`);
  const pool = await make(size);
  await drive(pool, warmup, performance.now() + maxMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const done = await drive(pool, pairs, t0 + maxMs);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await Promise.race([pool.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  return {
    pairs: done,
    elapsedMs,
    nsPerPair: (elapsedMs * 1e6) / done,
    pairsPerSec: (done / elapsedMs) * 1000,
    cpuUs: cpu.user + cpu.system,
  };
}

reportAndExit(main());
