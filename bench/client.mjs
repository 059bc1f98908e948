// @ts-check
/**
 * One client measurement, in its own process (started by bench/run.mjs).
 *
 * Usage: node bench/client.mjs '<json>' where json is
 *   {client, url, concurrency, connections, warmup, requests, maxMs, bodySize, ca?}
 * (`ca`: the PEM certificate to trust, for the h2 section's https: origins)
 *
 * Runs `warmup` requests, then measures up to `requests` requests (stopping early after
 * `maxMs`), `concurrency` in flight at once, reading every response body whole. Prints one
 * JSON line to stdout: {requests, elapsedMs, cpuUserUs, cpuSystemUs, p50, p99} (latencies
 * in ms), or {error} / {skipped} when the client failed or is not available.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { reportAndExit } from './child.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

/** The built package: a snapshot of dist/ taken by run.mjs (so a rebuild in the middle of a run cannot mix versions), else ../dist. */
const distUrl = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const { client, url, concurrency, connections, warmup, requests, maxMs, bodySize } = config;
const target = new URL(url);
const origin = target.origin;
const path = target.pathname;
/** The h2 section's clients: TLS trust for its self-signed server, on https: origins only. */
const secure = target.protocol === 'https:';
const ca = /** @type {string | undefined} */ (config.ca);
/** Stream slots an h2 client allows on its one session: never below the usual 100, and room for every request in flight. */
const streams = Math.max(100, concurrency);

/** A client this build cannot run: reported as skipped, with why, not as a failure. */
class Skip extends Error {}

// A hard bound on this process's life: a hung client is reported, not waited for.
const watchdog = setTimeout(() => {
  process.stdout.write(
    `${JSON.stringify({ error: `watchdog: no result after ${config.watchdogMs} ms` })}\n`,
  );
  process.exit(2);
}, config.watchdogMs ?? 60_000);
watchdog.unref();

/**
 * A client under test: `setup` opens it, `one()` sends one GET and reads the whole body
 * (resolving with the number of body bytes), `close` releases everything. `lease` mode
 * clients instead give a per-worker function via `worker()`.
 *
 * @typedef {{ one?: () => Promise<number>, worker?: () => Promise<{ one: () => Promise<number>, done: () => void }>, close: () => Promise<void> | void }} Client
 */

/** @type {Record<string, () => Promise<Client>>} */
const clients = {
  async 'httpool-pool'() {
    const { ConnectionPool } = await import(new URL('index.js', distUrl).href);
    const pool = new ConnectionPool(origin, { maxSize: connections, idleTimeout: 60_000 });
    return {
      async one() {
        const res = await pool.request({ path });
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => pool.destroy(),
    };
  },

  async 'httpool-lease'() {
    const { ConnectionPool } = await import(new URL('index.js', distUrl).href);
    const pool = new ConnectionPool(origin, { maxSize: connections, idleTimeout: 60_000 });
    return {
      async worker() {
        const conn = await pool.acquire();
        return {
          async one() {
            const res = await conn.request({ path });
            return (await res.arrayBuffer()).byteLength;
          },
          done: () => conn.release(),
        };
      },
      close: () => pool.destroy(),
    };
  },

  async 'httpool-fetch'() {
    const { Agent } = await import(new URL('index.js', distUrl).href);
    const agent = new Agent({ maxSize: connections, idleTimeout: 60_000 });
    // Probe once: agent.fetch() may not be implemented in this build.
    const probe = await agent.fetch(url);
    await probe.arrayBuffer();
    return {
      async one() {
        const res = await agent.fetch(url);
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => agent.destroy(),
    };
  },

  async 'undici-pool'() {
    const { Pool } = await import('undici');
    const pool = new Pool(origin, { connections });
    return {
      async one() {
        const { body } = await pool.request({ path, method: 'GET' });
        return (await body.arrayBuffer()).byteLength;
      },
      close: () => pool.destroy(),
    };
  },

  async 'undici-fetch'() {
    const { Agent, fetch } = await import('undici');
    const dispatcher = new Agent({ connections });
    return {
      async one() {
        const res = await fetch(url, { dispatcher });
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => dispatcher.destroy(),
    };
  },

  async 'node-http'() {
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
    });
    return {
      one() {
        return new Promise((resolve, reject) => {
          const req = http.get(url, { agent }, (res) => {
            /** @type {Buffer[]} */
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => resolve(Buffer.concat(chunks).length));
            res.on('error', reject);
          });
          req.on('error', reject);
        });
      },
      close: () => agent.destroy(),
    };
  },

  async 'node-fetch'() {
    // Node's global fetch with its default dispatcher: its connection count is not ours to
    // set, so the server's connection count shows what it did.
    return {
      async one() {
        const res = await fetch(url);
        return (await res.arrayBuffer()).byteLength;
      },
      close() {},
    };
  },

  // The h2 section (see bench/README.md). Each keeps its own flow-control windows but the
  // floor, which takes undici's (256 KiB per stream, 512 KiB per session).

  async 'h2-floor'() {
    // What node:http2 itself costs: one session, one `request()` per GET, the body read to
    // its end, nothing else.
    const session = http2.connect(origin, {
      ...(secure ? { ca } : {}),
      peerMaxConcurrentStreams: streams,
      settings: { enablePush: false, initialWindowSize: 262_144 },
    });
    /** @type {Set<(error: Error) => void>} */
    const pending = new Set();
    session.on('error', (error) => {
      for (const reject of pending) reject(error);
    });
    await new Promise((resolve, reject) => {
      session.once('connect', resolve);
      session.once('error', reject);
    });
    session.setLocalWindowSize(524_288);
    return {
      one() {
        return new Promise((resolve, reject) => {
          pending.add(reject);
          const stream = session.request({ ':path': path });
          let n = 0;
          stream.on('data', (/** @type {Buffer} */ chunk) => {
            n += chunk.length;
          });
          stream.on('end', () => {
            pending.delete(reject);
            resolve(n);
          });
          stream.on('error', (error) => {
            pending.delete(reject);
            reject(error);
          });
        });
      },
      close: () => new Promise((resolve) => session.close(() => resolve(undefined))),
    };
  },

  async 'undici-h2'() {
    // undici 7 multiplexes only up to `pipelining` streams: one per request in flight.
    const { Client, H2CClient } = await import('undici');
    const client = secure
      ? new Client(origin, {
          allowH2: true,
          pipelining: concurrency,
          maxConcurrentStreams: streams,
          connect: { ca },
        })
      : new H2CClient(origin, { pipelining: concurrency, maxConcurrentStreams: streams });
    return {
      async one() {
        const { body } = await client.request({ path, method: 'GET' });
        return (await body.arrayBuffer()).byteLength;
      },
      close: () => client.destroy(),
    };
  },

  async 'httpool-h2'() {
    const { ConnectionPool } = await import(new URL('index.js', distUrl).href);
    const http2Mode = secure ? 'auto' : 'prior-knowledge';
    try {
      await new ConnectionPool(origin, { http2: http2Mode }).destroy();
    } catch (error) {
      // Builds from before the http2 option reject it as unknown.
      if (
        error instanceof Error &&
        error.name === 'InvalidArgumentError' &&
        /http2/.test(error.message)
      )
        throw new Skip(`this build has no http2 option (${error.message})`);
      throw error;
    }
    const pool = new ConnectionPool(origin, {
      http2: http2Mode,
      maxSize: 1,
      maxConcurrentStreams: streams,
      idleTimeout: 60_000,
      ...(secure ? { tls: { ca } } : {}),
    });
    // A response over HTTP/1.1 would measure the wrong thing: check the protocol once.
    const probe = await pool.request({ path });
    await probe.arrayBuffer();
    if (probe.httpVersion !== '2.0') {
      await pool.destroy();
      throw new Error(`expected HTTP/2, got HTTP/${probe.httpVersion}`);
    }
    return {
      async one() {
        const res = await pool.request({ path });
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => pool.destroy(),
    };
  },

  async 'httpool-h1'() {
    const { ConnectionPool } = await import(new URL('index.js', distUrl).href);
    const pool = new ConnectionPool(origin, {
      maxSize: connections,
      idleTimeout: 60_000,
      ...(secure ? { tls: { ca } } : {}),
    });
    return {
      async one() {
        const res = await pool.request({ path });
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => pool.destroy(),
    };
  },

  async floor() {
    // The physical limit: one pre-serialized GET per connection in flight, responses counted
    // by their known length, nothing parsed.
    const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`, 'latin1');
    const headLength = Buffer.byteLength(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n' +
        `Content-Length: ${bodySize}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=600\r\n\r\n`,
    );
    const responseLength = headLength + bodySize;
    const readBuffer = Buffer.allocUnsafe(64 * 1024);
    /** @type {{ socket: net.Socket, pending: number, resolve: ((n: number) => void) | undefined, reject: ((e: Error) => void) | undefined }[]} */
    const sockets = [];
    for (let i = 0; i < connections; i++) {
      // Reads land in one reused buffer (`onread`), as httpool's do: no allocation per read.
      /** @type {(n: number) => void} */
      let onBytes = () => {};
      const socket = net.connect({
        host: target.hostname,
        port: Number(target.port),
        noDelay: true,
        onread: {
          buffer: readBuffer,
          callback: (n) => {
            onBytes(n);
            return true;
          },
        },
      });
      await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const state = { socket, pending: 0, resolve: undefined, reject: undefined };
      onBytes = (n) => {
        state.pending -= n;
        if (state.pending <= 0 && state.resolve !== undefined) {
          const resolve = state.resolve;
          state.resolve = undefined;
          resolve(bodySize);
        }
      };
      socket.on('error', (error) => state.reject?.(error));
      sockets.push(state);
    }
    /** @type {typeof sockets} */
    const free = [...sockets];
    /** @type {((s: (typeof sockets)[number]) => void)[]} */
    const waiting = [];
    return {
      async one() {
        const state = free.pop() ?? (await new Promise((resolve) => waiting.push(resolve)));
        const done = new Promise((resolve, reject) => {
          state.resolve = resolve;
          state.reject = reject;
        });
        state.pending = responseLength;
        state.socket.write(request);
        const n = await done;
        const next = waiting.shift();
        if (next !== undefined) next(state);
        else free.push(state);
        return /** @type {number} */ (n);
      },
      close() {
        for (const { socket } of sockets) socket.destroy();
      },
    };
  },
};

/**
 * Runs `count` requests (or until `deadline`), `concurrency` at once.
 *
 * @param {Client} c
 * @param {number} count
 * @param {number} deadline performance.now() after which no new request starts
 * @param {Float64Array | undefined} latencies filled in order of completion
 * @returns {Promise<number>} requests completed
 */
async function drive(c, count, deadline, latencies) {
  let started = 0;
  let completed = 0;
  let bytes = 0;
  /** @param {() => Promise<number>} one */
  const loop = async (one) => {
    while (started < count && performance.now() < deadline) {
      started++;
      const t0 = performance.now();
      const n = await one();
      bytes += n;
      if (latencies !== undefined) latencies[completed] = performance.now() - t0;
      completed++;
    }
  };
  const workers = [];
  for (let i = 0; i < concurrency; i++) {
    if (c.worker !== undefined) {
      const w = c.worker;
      workers.push(
        (async () => {
          const lease = await w();
          try {
            await loop(lease.one);
          } finally {
            lease.done();
          }
        })(),
      );
    } else if (c.one !== undefined) workers.push(loop(c.one));
  }
  await Promise.all(workers);
  if (bytes !== completed * bodySize)
    throw new Error(`read ${bytes} body bytes for ${completed} responses of ${bodySize}`);
  return completed;
}

/**
 * @param {Float64Array} values
 * @param {number} q in [0, 1]
 */
function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  return values[Math.min(values.length - 1, Math.floor(q * values.length))];
}

async function main() {
  const make = clients[client];
  if (make === undefined) throw new Error(`unknown client ${client}`);
  let c;
  try {
    c = await make();
  } catch (error) {
    if (error instanceof Skip) return { skipped: error.message };
    const message = error instanceof Error ? error.message : String(error);
    if (/not implemented/i.test(message)) return { skipped: `not implemented: ${message}` };
    throw error;
  }
  try {
    await drive(c, warmup, performance.now() + Math.max(maxMs, 2000), undefined);
    const latencies = new Float64Array(requests);
    const cpu0 = process.cpuUsage();
    const faults0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    const done = await drive(c, requests, t0 + maxMs, latencies);
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const minorFaults = process.resourceUsage().minorPageFault - faults0;
    const sorted = latencies.subarray(0, done).sort();
    return {
      requests: done,
      elapsedMs,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      minorFaults,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
    };
  } finally {
    await Promise.race([c.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}

reportAndExit(main());
