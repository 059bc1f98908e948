// @ts-check
/**
 * One client measurement, in its own process (started by bench/run.mjs).
 *
 * Usage: node bench/client.mjs '<json>' where json is
 *   {client, url, concurrency, connections, warmup, requests, maxMs, bodySize, ca?, cold?}
 * (`ca`: the PEM certificate to trust, for the h2 section's https: origins; the http
 * section's TLS runs trust the bench server through NODE_EXTRA_CA_CERTS instead, the one
 * way Node's global fetch can be told to; `cold: {rounds}`: a cold start, see coldStart())
 *
 * Runs `warmup` requests, then measures up to `requests` requests (stopping early after
 * `maxMs`), `concurrency` in flight at once, reading every response body whole. Prints one
 * JSON line to stdout: {requests, elapsedMs, cpuUserUs, cpuSystemUs, p50, p99} (latencies
 * in ms), or {error} / {skipped} when the client failed or is not available (undici 8 on a
 * Node older than it supports, a build without agent.fetch()).
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { reportAndExit } from './child.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

/** The built package: a snapshot of dist/ taken by run.mjs (so a rebuild in the middle of a run cannot mix versions), else ../dist. */
const distUrl = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const { client, url, concurrency, connections, warmup, requests, maxMs, bodySize } = config;
/**
 * A cold start (`{ rounds }`): no warm-up; each round makes a new client (so a new pool and
 * new connections to an origin it has not seen) and sends `requests` through it, the clock
 * running from before the client is made to the last body byte.
 */
const cold = /** @type {{ rounds: number } | undefined} */ (config.cold);
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

/** undici 8's engines field: it is not run on older Node versions. */
const UNDICI8_NODE = [22, 19];

/**
 * undici 7 (`undici`) or 8 (`undici8`, an npm alias), skipped where undici 8 cannot run.
 *
 * @param {'undici' | 'undici8'} name
 * @returns {Promise<any>} the module
 */
async function loadUndici(name) {
  if (name === 'undici8') {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    if (major < UNDICI8_NODE[0] || (major === UNDICI8_NODE[0] && minor < UNDICI8_NODE[1]))
      throw new Skip(
        `undici 8 needs Node >= ${UNDICI8_NODE.join('.')}, this is ${process.version}`,
      );
  }
  return import(name);
}

/**
 * undici's `Pool.request()`, the body read with `arrayBuffer()`.
 *
 * @param {'undici' | 'undici8'} name
 * @returns {Promise<Client>}
 */
async function undiciPool(name) {
  const { Pool } = await loadUndici(name);
  const pool = new Pool(origin, { connections });
  return {
    async one() {
      const { body } = await pool.request({ path, method: 'GET' });
      return (await body.arrayBuffer()).byteLength;
    },
    close: () => pool.destroy(),
  };
}

/**
 * undici's lowest public layer: `Pool.dispatch()` with a bare handler that counts the body
 * bytes and keeps none of them (no body stream, no promise per response from undici). What
 * undici's own parser and pool cost per request: the anchor for `pool.request()`.
 *
 * @param {'undici' | 'undici8'} name
 * @returns {Promise<Client>}
 */
async function undiciDispatch(name) {
  const { Pool } = await loadUndici(name);
  const pool = new Pool(origin, { connections });
  const options = { path, method: 'GET', origin };
  return {
    one() {
      return new Promise((resolve, reject) => {
        let n = 0;
        let status = 0;
        pool.dispatch(options, {
          onRequestStart() {},
          onResponseStart(/** @type {unknown} */ _controller, /** @type {number} */ code) {
            status = code;
          },
          onResponseData(/** @type {unknown} */ _controller, /** @type {Buffer} */ chunk) {
            n += chunk.length;
          },
          onResponseEnd() {
            if (status === 200) resolve(n);
            else reject(new Error(`status ${status}`));
          },
          onResponseError(/** @type {unknown} */ _controller, /** @type {Error} */ error) {
            reject(error);
          },
        });
      });
    },
    close: () => pool.destroy(),
  };
}

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
    // Probe once: agent.fetch() may not be implemented in this build. Not on a cold start,
    // where the probe would open the first connection before the clock starts.
    if (!cold) {
      const probe = await agent.fetch(url);
      await probe.arrayBuffer();
    }
    return {
      async one() {
        const res = await agent.fetch(url);
        return (await res.arrayBuffer()).byteLength;
      },
      close: () => agent.destroy(),
    };
  },

  'undici-pool': () => undiciPool('undici'),
  'undici8-pool': () => undiciPool('undici8'),
  'undici-dispatch': () => undiciDispatch('undici'),
  'undici8-dispatch': () => undiciDispatch('undici8'),

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
    // https.Agent over TLS: it keeps up to 100 TLS sessions for resumption by default.
    const agent = new (secure ? https : http).Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
    });
    const get = secure ? https.get : http.get;
    return {
      one() {
        return new Promise((resolve, reject) => {
          const req = get(url, { agent }, (res) => {
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
    /** The last TLS session the server gave, offered by the next connection. */
    /** @type {Buffer | undefined} */
    let session;
    for (let i = 0; i < connections; i++) {
      /** @type {(n: number) => void} */
      let onBytes = () => {};
      /** @type {net.Socket} */
      let socket;
      if (secure) {
        // node:tls has no `onread`: decrypted bytes come as 'data' chunks.
        const tlsSocket = tls.connect({
          host: target.hostname,
          port: Number(target.port),
          ...(session === undefined ? {} : { session }),
        });
        // tls.connect() takes no `noDelay`: set on the socket instead.
        tlsSocket.setNoDelay(true);
        tlsSocket.on('session', (s) => {
          session = s;
        });
        tlsSocket.on('data', (/** @type {Buffer} */ chunk) => onBytes(chunk.length));
        socket = tlsSocket;
      } else {
        // Reads land in one reused buffer (`onread`), as httpool's do: no allocation per read.
        socket = net.connect({
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
      }
      await new Promise((resolve, reject) => {
        socket.once(secure ? 'secureConnect' : 'connect', resolve);
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
 * @param {number} [inFlight] requests at once (default: the scenario's concurrency)
 * @returns {Promise<number>} requests completed
 */
async function drive(c, count, deadline, latencies, inFlight = concurrency) {
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
  for (let i = 0; i < inFlight; i++) {
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

/**
 * A client this build or Node cannot run is reported as skipped, not as a failure.
 *
 * @param {unknown} error
 * @returns {{ skipped: string } | undefined}
 */
function skipOf(error) {
  if (error instanceof Skip) return { skipped: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (/not implemented/i.test(message)) return { skipped: `not implemented: ${message}` };
  return undefined;
}

/** Closes a client, waiting for it no more than a second. */
function closeSoon(/** @type {Client} */ c) {
  return Promise.race([c.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
}

/**
 * Loads the module the client is built on, so a cold start measures connection set-up and a
 * fresh pool, not module loading.
 */
async function preload() {
  if (client.startsWith('httpool')) await import(new URL('index.js', distUrl).href);
  else if (client.startsWith('undici8')) await loadUndici('undici8');
  else if (client.startsWith('undici')) await import('undici');
  // Node's global fetch loads its bundled undici on first access.
  else if (client === 'node-fetch' && typeof globalThis.fetch !== 'function')
    throw new Error('no global fetch');
}

/**
 * The cold start: rounds of (new client, `requests` requests), at least one, no more once
 * `maxMs` has passed (one only for Node's global fetch). The clock and the CPU count run from before the client is made to the
 * last body byte of the round; closing it is not counted.
 *
 * @param {() => Promise<Client>} make
 * @param {number} rounds
 */
async function coldStart(make, rounds) {
  await preload();
  // Node's global fetch has one pool for the process: its second round would not be cold.
  if (client === 'node-fetch') rounds = 1;
  const latencies = new Float64Array(requests * rounds);
  let done = 0;
  let elapsedMs = 0;
  let cpuUserUs = 0;
  let cpuSystemUs = 0;
  let minorFaults = 0;
  let roundsRun = 0;
  const stopAt = performance.now() + maxMs;
  while (roundsRun < rounds && (roundsRun === 0 || performance.now() < stopAt)) {
    const cpu0 = process.cpuUsage();
    const faults0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    const c = await make();
    try {
      done += await drive(c, requests, t0 + 10_000, latencies.subarray(done));
      elapsedMs += performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      cpuUserUs += cpu.user;
      cpuSystemUs += cpu.system;
      minorFaults += process.resourceUsage().minorPageFault - faults0;
      roundsRun++;
    } finally {
      await closeSoon(c);
    }
  }
  const sorted = latencies.subarray(0, done).sort();
  return {
    requests: done,
    elapsedMs,
    cpuUserUs,
    cpuSystemUs,
    minorFaults,
    rounds: roundsRun,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
  };
}

async function main() {
  const make = clients[client];
  if (make === undefined) throw new Error(`unknown client ${client}`);
  if (cold !== undefined) {
    try {
      return await coldStart(make, cold.rounds);
    } catch (error) {
      const skip = skipOf(error);
      if (skip !== undefined) return skip;
      throw error;
    }
  }
  let c;
  try {
    c = await make();
  } catch (error) {
    const skip = skipOf(error);
    if (skip !== undefined) return skip;
    throw error;
  }
  try {
    // Over TLS, one request alone first: its connection's session is what the others resume
    // (all opened at once, none would have one to offer).
    if (secure) await drive(c, 1, performance.now() + 5000, undefined, 1);
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
    await closeSoon(c);
  }
}

reportAndExit(main());
