// @ts-check
/**
 * The side-by-side benchmark: httpool against undici, Node's http.Agent and fetch, and a
 * raw-socket floor, in one run, on one machine, against one server; plus pool bookkeeping
 * (httpool's resource pool against tarn, generic-pool and a bare free list), acquire cost
 * under 10,000 queued waiters, and heap per idle connection. On request (`--sections=h2`),
 * HTTP/2: httpool's h2 against undici's and a bare node:http2 session, over TLS and h2c, and
 * against httpool over HTTP/1.1. Also on request (`--sections=dns`): many origins (1,000 host
 * names on loopback, a few requests each) through one Agent, with and without its DNS cache.
 *
 * Usage: npm run bench [-- --quick] [-- --only=httpool-pool,undici-pool] [-- --sections=http,micro,waiters,heap,h2,dns]
 *        [-- --repeats=N] [-- --out=DIR] [-- --baseline=DIR] [-- --node=current,/path/to/node24]
 *
 * `--node` (or BENCH_NODE) runs the server and every measured process under those node
 * binaries, one after the other (`current` is the one running this script); the report has
 * a part per Node version.
 *
 * Writes RESULTS.md, results.svg and results.json into bench/ (a --quick run writes
 * RESULTS.quick.md, results.quick.svg and results.quick.json instead, so it never replaces
 * the published figures). Progress goes to stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown } from './report.mjs';
import { renderSvg } from './svg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// Others may rebuild dist/ while a run is going: measure one snapshot of it, all run long.
const distSource = path.join(here, '..', 'dist');
if (!existsSync(path.join(distSource, 'index.js'))) {
  process.stderr.write('bench: dist/ is not built; run `npm run bench` (it builds first)\n');
  process.exit(1);
}
const snapshotDir = mkdtempSync(path.join(os.tmpdir(), 'httpool-bench-'));
const distSnapshot = path.join(snapshotDir, 'dist');
cpSync(distSource, distSnapshot, { recursive: true });
process.env.BENCH_DIST = distSnapshot;
process.on('exit', () => rmSync(snapshotDir, { recursive: true, force: true }));
const argv = process.argv.slice(2);
/** @param {string} name */
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
// --baseline=DIR: another build's dist/ (say, of the commit before a change), measured as
// `httpool-*@base` clients in the same run, interleaved with this build's.
const baselineOption = option('baseline');
let baselineSnapshot;
if (baselineOption !== undefined) {
  const source = path.resolve(baselineOption);
  if (!existsSync(path.join(source, 'index.js'))) {
    process.stderr.write(
      `bench: --baseline=${baselineOption} has no index.js (give a built dist/)\n`,
    );
    process.exit(1);
  }
  baselineSnapshot = path.join(snapshotDir, 'baseline');
  cpSync(source, baselineSnapshot, { recursive: true });
}
const quick = argv.includes('--quick');
const only = option('only')?.split(',').filter(Boolean);
// h2 and dns are not in the default set (see bench/README.md).
const sections = new Set((option('sections') ?? 'http,micro,waiters,heap').split(','));
const repeats = Math.max(1, Number(option('repeats') ?? (quick ? 1 : 3)));
const outDir = path.resolve(option('out') ?? here);
const suffix = quick ? '.quick' : '';

/**
 * The node binaries to measure under, each checked to run: `--node=a,b` or BENCH_NODE, else
 * this one. The server and every measured process of a part run under that part's binary.
 *
 * @type {{ execPath: string, version: string }[]}
 */
const nodes = [];
for (const entry of (option('node') ?? process.env.BENCH_NODE ?? 'current')
  .split(',')
  .filter(Boolean)) {
  const execPath = entry === 'current' ? process.execPath : path.resolve(entry);
  const probe = spawnSync(execPath, ['-p', 'process.version'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const version = probe.stdout?.trim() ?? '';
  if (probe.status !== 0 || !/^v\d+\.\d+\.\d+/.test(version)) {
    process.stderr.write(
      `bench: --node=${entry} does not run (${probe.error?.message ?? probe.stderr?.trim() ?? `exit ${probe.status}`})\n`,
    );
    process.exit(1);
  }
  nodes.push({ execPath, version });
}
/** The node binary of the part being measured. */
let nodeBin = process.execPath;

/**
 * Each Node version's part stops starting new runs after this; what did not run is reported
 * as skipped.
 */
const BUDGET_MS = Number(option('budget-ms') ?? (quick ? 180_000 : 25 * 60_000));
const startedAt = performance.now();
let partStartedAt = startedAt;
const overBudget = () => performance.now() - partStartedAt > BUDGET_MS;

const BASELINE_CLIENTS =
  baselineSnapshot === undefined
    ? []
    : ['httpool-pool@base', 'httpool-lease@base', 'httpool-fetch@base'];
const HTTP_CLIENTS = [
  'httpool-pool',
  'httpool-lease',
  'httpool-fetch',
  ...BASELINE_CLIENTS,
  'undici-pool',
  'undici-dispatch',
  'undici8-pool',
  'undici8-dispatch',
  'undici-fetch',
  'node-http',
  'node-fetch',
  'floor',
];
const POOL_IMPLS = [
  'httpool',
  ...(baselineSnapshot === undefined ? [] : ['httpool@base']),
  'generic-pool',
  'tarn',
  'bare',
];
const HEAP_CLIENTS = [
  'httpool',
  ...(baselineSnapshot === undefined ? [] : ['httpool@base']),
  'undici-pool',
  'node-http',
];
const H2_CLIENTS = [
  'httpool-h2',
  ...(baselineSnapshot === undefined ? [] : ['httpool-h2@base', 'httpool-h1@base']),
  'undici-h2',
  'h2-floor',
  'httpool-h1',
];
const CONNECTIONS = 16;
const BODY_SIZES = [13, 16384];
const CONCURRENCIES = [1, 16, 64];
const H2_CONCURRENCIES = [16, 64, 256];
/** The h2 section's transports: the h2 server's port family for h2 and for the HTTP/1.1 row. */
const H2_TRANSPORTS = [
  { id: 'TLS', h2: 'h2', h1: 'h1-tls', scheme: 'https' },
  { id: 'h2c', h2: 'h2c', h1: 'h1', scheme: 'http' },
];
const WAITERS = [0, 100, 10_000];
/** undici 8's engines field (`>=22.19.0`): its clients are skipped on older Node versions. */
const UNDICI8_NODE = [22, 19];
/** The deep-queue scenario: this many requests in flight over CONNECTIONS connections. */
const DEEP = 256;
/** The dns section: host names, requests sent at once to each, how often, by how many loops. */
const DNS_MODES = ['cache', 'no-cache'];
const dnsCounts = quick
  ? { names: 200, perName: 4, rounds: 2, workers: 16, maxOrigins: 64 }
  : { names: 1000, perName: 4, rounds: 2, workers: 16, maxOrigins: 64 };

// Quick: a smoke check of every cell, not figures to quote.
const counts = quick
  ? {
      warmup: 500,
      requests: 2500,
      requestsC1: 800,
      maxMs: 700,
      pairs: 200_000,
      pairWarmup: 20_000,
      pairMaxMs: 300,
      coldRequests: 2000,
      coldRounds: 1,
    }
  : {
      warmup: 5000,
      requests: 20_000,
      requestsC1: 5000,
      maxMs: 3000,
      pairs: 1_000_000,
      pairWarmup: 100_000,
      pairMaxMs: 1000,
      coldRequests: 2000,
      coldRounds: 5,
    };
/** node:http2 runs at a fraction of HTTP/1.1's rate here: fewer requests, so its 48 cells fit. */
const h2Counts = quick
  ? { warmup: 500, requests: 2000, maxMs: 1000 }
  : { warmup: 2000, requests: 10_000, maxMs: 2000 };

/** @param {string} name */
const selected = (name) => only === undefined || only.includes(name);
/** @param {string} message */
const log = (message) =>
  process.stderr.write(
    `[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(3)}s] ${message}\n`,
  );

// Pinning: server on core 0, clients on core 1, where taskset exists and there are 2+ cores.
const hasTaskset = os.cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = '0';
const CLIENT_CPU = String(Math.min(1, os.cpus().length - 1));

/**
 * @param {string[]} nodeArgs node's own arguments and the script's
 * @param {string | undefined} cpu core to pin to
 * @returns {[string, string[]]} command and arguments
 */
function command(nodeArgs, cpu) {
  return hasTaskset && cpu !== undefined
    ? ['taskset', ['-c', cpu, nodeBin, ...nodeArgs]]
    : [nodeBin, nodeArgs];
}

/** Warnings the children printed (deduplicated), for the report. */
const warnings = new Map();
/** The node version of the part being measured, for the warnings. */
let currentVersion = process.version;

/**
 * Runs one measurement process and parses the JSON line it prints.
 *
 * @param {string} script file in bench/
 * @param {object} config passed as argv[2]
 * @param {{ nodeArgs?: string[], timeoutMs: number, env?: Record<string, string> }} opts
 * @returns {Promise<any>} the child's result, or {error}
 */
function runChild(script, config, opts) {
  // A `name@base` client or implementation is `name`, run on the baseline build.
  const named = /** @type {{ client?: string, impl?: string }} */ (config);
  const onBaseline = [named.client, named.impl].some((n) => n?.endsWith('@base'));
  const childConfig = {
    ...config,
    ...(named.client === undefined ? {} : { client: named.client.replace(/@base$/, '') }),
    ...(named.impl === undefined ? {} : { impl: named.impl.replace(/@base$/, '') }),
    watchdogMs: opts.timeoutMs - 5000,
  };
  const [cmd, args] = command(
    [...(opts.nodeArgs ?? []), path.join(here, script), JSON.stringify(childConfig)],
    CLIENT_CPU,
  );
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...(onBaseline ? { BENCH_DIST: baselineSnapshot } : {}),
        ...opts.env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      if (stderr.length < 20_000) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ error: `spawn failed: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const line of stderr.split('\n')) {
        const m = /^\(node:\d+\) (\w*Warning: .*)$/.exec(line);
        if (m)
          warnings.set(
            `${m[1]}`,
            `${script} ${/** @type {any} */ (config).client ?? /** @type {any} */ (config).impl ?? ''}, node ${currentVersion}`,
          );
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        resolve({
          error: `exit ${code ?? signal}${signal === 'SIGKILL' ? ' (killed after timeout)' : ''}: ${tail || last || 'no output'}`,
        });
      }
    });
  });
}

/**
 * A canned-response server, in its own process: server.mjs (HTTP/1.1) or h2-server.mjs.
 *
 * @param {string} script
 */
async function startServer(script = 'server.mjs') {
  const [cmd, args] = command([path.join(here, script), BODY_SIZES.join(',')], SERVER_CPU);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  /** @type {any} */
  const hello = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 10 s')), 10_000);
    child.stdout?.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  /** @returns {Promise<{ connections: number, requests: number, resumed?: number }>} */
  const stats = () =>
    new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve({ connections: Number.NaN, requests: Number.NaN, resumed: Number.NaN }),
        5000,
      );
      child.once('message', (/** @type {any} */ m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send({ type: 'stats' });
    });
  return {
    ports: hello.ports,
    /** @type {Record<string, number>} server.mjs's TLS ports by body size (none without openssl) */
    tlsPorts: hello.tlsPorts ?? {},
    /** @type {string | null} the server's certificate, to trust */
    ca: hello.ca ?? null,
    stats,
    stop() {
      try {
        child.send({ type: 'exit' });
      } catch {}
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    },
  };
}

/**
 * One measurement of one client (a client.mjs child) with the server's connection and
 * request counts taken around it, logged on one line.
 *
 * @param {Awaited<ReturnType<typeof startServer>>} server
 * @param {object} config for client.mjs
 * @param {string} tag what the log line starts with
 * @param {Record<string, string>} [env] for the child
 * @returns {Promise<any>} the child's result, with serverConnections and serverRequests (and
 *   serverResumed: TLS handshakes that resumed a session, where the server counts them)
 */
async function measureClient(server, config, tag, env = {}) {
  const before = await server.stats();
  const result = await runChild('client.mjs', config, { timeoutMs: 40_000, env });
  const after = await server.stats();
  result.serverConnections = after.connections - before.connections;
  result.serverRequests = after.requests - before.requests;
  if (after.resumed !== undefined && before.resumed !== undefined)
    result.serverResumed = after.resumed - before.resumed;
  if (result.skipped !== undefined) return result;
  if (result.error !== undefined) log(`${tag.trim()}: ERROR ${result.error}`);
  else {
    const rps = (result.requests / result.elapsedMs) * 1000;
    const cpu = (result.cpuUserUs + result.cpuSystemUs) / result.requests;
    log(
      `${tag} ${rps.toFixed(0).padStart(7)} req/s  ${cpu.toFixed(1).padStart(6)} µs/req  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  ${result.serverConnections} conns`,
    );
  }
  return result;
}

/**
 * @param {string} version `v22.19.0`
 * @param {number[]} at least [major, minor]
 */
function atLeast(version, [major = 0, minor = 0]) {
  const [a = 0, b = 0] = version.slice(1).split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** The http section's scenarios (see bench/README.md). */
function httpScenarios() {
  /** @param {number} size */
  const body = (size) => (size === 13 ? '13 B' : `${size / 1024} KiB`);
  /** @type {{ id: string, concurrency: number, bodySize: number, tls?: boolean, cold?: boolean }[]} */
  const list = [];
  for (const bodySize of BODY_SIZES)
    for (const concurrency of CONCURRENCIES)
      list.push({ id: `c=${concurrency}, ${body(bodySize)}`, concurrency, bodySize });
  list.push({ id: `c=${DEEP}, 13 B`, concurrency: DEEP, bodySize: 13 });
  for (const bodySize of BODY_SIZES)
    list.push({ id: `TLS, c=16, ${body(bodySize)}`, concurrency: 16, bodySize, tls: true });
  list.push({ id: 'cold start, c=16, 13 B', concurrency: 16, bodySize: 13, cold: true });
  return list;
}

/** The h2 section's scenarios. */
function h2ScenarioList() {
  /** @type {{ id: string, transport: string, concurrency: number, bodySize: number }[]} */
  const list = [];
  for (const transport of H2_TRANSPORTS) {
    for (const bodySize of BODY_SIZES) {
      for (const concurrency of H2_CONCURRENCIES) {
        list.push({
          id: `${transport.id}, c=${concurrency}, ${bodySize === 13 ? '13 B' : `${bodySize / 1024} KiB`}`,
          transport: transport.id,
          concurrency,
          bodySize,
        });
      }
    }
  }
  return list;
}

/**
 * Every selected section under one node binary (already in `nodeBin`).
 *
 * @param {{ execPath: string, version: string }} node
 * @returns {Promise<any>} that part of results.json
 */
async function measurePart(node) {
  const scenarios = httpScenarios();
  const h2Scenarios = h2ScenarioList();
  /** @type {Record<string, any[]>} runs by `${scenario.id}|${client}` */
  const httpRuns = {};
  /** @type {Record<string, string>} why a cell is not a number */
  const httpNotes = {};
  /** @type {Record<string, any[]>} runs by `${h2Scenario.id}|${client}` */
  const h2Runs = {};
  /** @type {Record<string, string>} */
  const h2Notes = {};
  /** @type {Record<string, any[]>} runs by `${shape}|${impl}` */
  const poolRuns = {};
  /** @type {Record<string, any[]>} */
  const heapRuns = {};
  /** @type {Record<string, any[]>} runs by mode */
  const dnsRuns = {};
  /**
   * Clients skipped in this part from some point on, with why (said once in the report).
   *
   * @type {Record<string, string>}
   */
  const skippedClients = {};
  const httpClients = HTTP_CLIENTS.filter(selected);
  if (!atLeast(node.version, UNDICI8_NODE)) {
    for (const client of httpClients.filter((c) => c.startsWith('undici8'))) {
      skippedClients[client] =
        `undici 8 needs Node >= ${UNDICI8_NODE.join('.')}, this is ${node.version}`;
    }
    if (Object.keys(skippedClients).length > 0)
      log(
        `node ${node.version}: ${Object.keys(skippedClients).join(', ')} skipped (undici 8 needs Node >= ${UNDICI8_NODE.join('.')})`,
      );
  }

  const server =
    sections.has('http') || sections.has('heap') || sections.has('dns')
      ? await startServer()
      : undefined;
  /** The server's certificate in a file, for NODE_EXTRA_CA_CERTS in the TLS runs. */
  let caFile;
  if (server?.ca) {
    caFile = path.join(snapshotDir, `ca-${node.version}.pem`);
    writeFileSync(caFile, server.ca);
  }
  try {
    if (server !== undefined && sections.has('http')) {
      for (let r = 0; r < repeats; r++) {
        const order = r % 2 === 0 ? httpClients : [...httpClients].reverse();
        for (const scenario of scenarios) {
          for (const client of order) {
            const key = `${scenario.id}|${client}`;
            httpRuns[key] ??= [];
            const skipped = skippedClients[client];
            if (skipped !== undefined) {
              httpNotes[key] = `skipped: ${skipped}`;
              continue;
            }
            if (client.startsWith('httpool-lease') && scenario.concurrency > CONNECTIONS) {
              httpNotes[key] =
                `n/a: a lease is one connection, so at most ${CONNECTIONS} in flight`;
              continue;
            }
            const port = (scenario.tls ? server.tlsPorts : server.ports)[String(scenario.bodySize)];
            if (port === undefined || (scenario.tls && caFile === undefined)) {
              httpNotes[key] = 'skipped: no TLS server (openssl failed)';
              continue;
            }
            if (overBudget()) {
              httpNotes[key] ??= 'skipped: time budget spent';
              continue;
            }
            const url = `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${port}/`;
            const requests = scenario.cold
              ? counts.coldRequests
              : scenario.concurrency === 1
                ? counts.requestsC1
                : counts.requests;
            const result = await measureClient(
              server,
              {
                client,
                url,
                concurrency: scenario.concurrency,
                connections: Math.min(scenario.concurrency, CONNECTIONS),
                warmup: scenario.cold ? 0 : counts.warmup,
                requests,
                maxMs: counts.maxMs,
                bodySize: scenario.bodySize,
                ...(scenario.cold ? { cold: { rounds: counts.coldRounds } } : {}),
              },
              `[${r + 1}/${repeats}] ${scenario.id.padEnd(22)} ${client.padEnd(16)}`,
              // Every client trusts the bench server the same way, Node's global fetch included.
              scenario.tls && caFile !== undefined ? { NODE_EXTRA_CA_CERTS: caFile } : {},
            );
            if (result.skipped !== undefined) {
              // What a client cannot run here (this build, this Node) it cannot run anywhere.
              skippedClients[client] = result.skipped;
              httpNotes[key] = `skipped: ${result.skipped}`;
              log(`${client}: skipped from here on: ${result.skipped}`);
              continue;
            }
            httpRuns[key].push(result);
          }
        }
      }
      // A client skipped part-way keeps the runs it made; the cells it never ran say why.
      for (const scenario of scenarios)
        for (const client of httpClients) {
          const key = `${scenario.id}|${client}`;
          const why = skippedClients[client];
          if (why !== undefined && (httpRuns[key]?.length ?? 0) === 0)
            httpNotes[key] = `skipped: ${why}`;
        }
    }

    if (sections.has('h2')) {
      const h2Server = await startServer('h2-server.mjs');
      try {
        const clients = H2_CLIENTS.filter(selected);
        /** A client this build cannot run is skipped everywhere, with one notice. */
        const h2Skipped = new Set();
        for (let r = 0; r < repeats; r++) {
          const order = r % 2 === 0 ? clients : [...clients].reverse();
          for (const scenario of h2Scenarios) {
            const transport = H2_TRANSPORTS.find((t) => t.id === scenario.transport);
            for (const client of order) {
              const key = `${scenario.id}|${client}`;
              h2Runs[key] ??= [];
              if (h2Skipped.has(client)) continue;
              const h1 = client.startsWith('httpool-h1');
              const port =
                h2Server.ports[(h1 ? transport?.h1 : transport?.h2) ?? '']?.[
                  String(scenario.bodySize)
                ];
              if (port === undefined) {
                h2Notes[key] = 'skipped: no TLS server (openssl failed)';
                continue;
              }
              if (overBudget()) {
                h2Notes[key] ??= 'skipped: time budget spent';
                continue;
              }
              const result = await measureClient(
                h2Server,
                {
                  client,
                  url: `${transport?.scheme}://127.0.0.1:${port}/`,
                  concurrency: scenario.concurrency,
                  connections: h1 ? CONNECTIONS : 1,
                  warmup: h2Counts.warmup,
                  requests: h2Counts.requests,
                  maxMs: h2Counts.maxMs,
                  bodySize: scenario.bodySize,
                  ...(transport?.scheme === 'https' ? { ca: h2Server.ca } : {}),
                },
                `[${r + 1}/${repeats}] ${scenario.id.padEnd(20)} ${client.padEnd(15)}`,
              );
              if (result.skipped !== undefined) {
                h2Skipped.add(client);
                for (const s of h2Scenarios)
                  h2Notes[`${s.id}|${client}`] = `skipped: ${result.skipped}`;
                log(`h2 ${client}: skipped in every scenario: ${result.skipped}`);
                continue;
              }
              h2Runs[key].push(result);
            }
          }
        }
      } finally {
        h2Server.stop();
      }
    }

    if (server !== undefined && sections.has('dns')) {
      for (let r = 0; r < repeats; r++) {
        for (const mode of r % 2 === 0 ? DNS_MODES : [...DNS_MODES].reverse()) {
          dnsRuns[mode] ??= [];
          if (overBudget()) continue;
          const before = await server.stats();
          const result = await runChild(
            'origins.mjs',
            { mode, port: server.ports['13'], ...dnsCounts },
            { nodeArgs: ['--expose-gc'], timeoutMs: 120_000 },
          );
          result.serverConnections = (await server.stats()).connections - before.connections;
          dnsRuns[mode].push(result);
          if (result.error !== undefined) log(`dns ${mode}: ERROR ${result.error}`);
          else
            log(
              `[${r + 1}/${repeats}] dns ${mode.padEnd(8)} ${result.lookups} lookups  ${result.connections} conns  ${((result.cpuUserUs + result.cpuSystemUs) / result.requests).toFixed(1)} µs/req  heap +${(result.heapDeltaBytes / 1024).toFixed(0)} KiB  ${result.elapsedMs.toFixed(0)} ms`,
            );
        }
      }
    }

    const shapes = [];
    if (sections.has('micro')) shapes.push({ id: 'bookkeeping', size: 16, workers: 16 });
    if (sections.has('waiters'))
      for (const w of WAITERS) shapes.push({ id: `waiters=${w}`, size: 1, workers: w + 1 });
    const impls = POOL_IMPLS.filter(selected);
    for (let r = 0; r < repeats && shapes.length > 0; r++) {
      const order = r % 2 === 0 ? impls : [...impls].reverse();
      for (const shape of shapes) {
        for (const impl of order) {
          const key = `${shape.id}|${impl}`;
          poolRuns[key] ??= [];
          if (overBudget()) continue;
          const result = await runChild(
            'micro.mjs',
            {
              impl,
              size: shape.size,
              workers: shape.workers,
              pairs: counts.pairs,
              warmup: counts.pairWarmup,
              maxMs: counts.pairMaxMs,
            },
            { timeoutMs: 30_000 },
          );
          poolRuns[key].push(result);
          if (result.error !== undefined) log(`pool ${shape.id} ${impl}: ERROR ${result.error}`);
          else
            log(
              `[${r + 1}/${repeats}] pool ${shape.id.padEnd(14)} ${impl.padEnd(13)} ${(result.pairsPerSec / 1e6).toFixed(2)} M pairs/s  ${result.nsPerPair.toFixed(0)} ns/pair`,
            );
        }
      }
    }

    if (server !== undefined && sections.has('heap')) {
      const heapClients = HEAP_CLIENTS.filter(selected);
      for (let r = 0; r < repeats; r++) {
        for (const client of r % 2 === 0 ? heapClients : [...heapClients].reverse()) {
          heapRuns[client] ??= [];
          if (overBudget()) continue;
          const before = await server.stats();
          const result = await runChild(
            'heap.mjs',
            { client, url: `http://127.0.0.1:${server.ports['13']}/`, n: 1000 },
            { nodeArgs: ['--expose-gc'], timeoutMs: 60_000 },
          );
          result.serverConnections = (await server.stats()).connections - before.connections;
          heapRuns[client].push(result);
          if (result.error !== undefined) log(`heap ${client}: ERROR ${result.error}`);
          else
            log(
              `[${r + 1}/${repeats}] heap ${client.padEnd(12)} ${result.heapPerConnBytes.toFixed(0)} B heap/conn  ${result.rssPerConnBytes.toFixed(0)} B rss/conn  (${result.idle} idle, server saw ${result.serverConnections})`,
            );
        }
      }
    }
  } finally {
    server?.stop();
  }
  return {
    node: node.version,
    execPath: node.execPath,
    budgetSpent: overBudget(),
    elapsedS: (performance.now() - partStartedAt) / 1000,
    scenarios: sections.has('http') ? scenarios : [],
    clients: httpClients,
    skippedClients,
    httpRuns,
    httpNotes,
    poolImpls: POOL_IMPLS.filter(selected),
    poolRuns,
    heapClients: HEAP_CLIENTS.filter(selected),
    heapRuns,
    h2Counts,
    h2Scenarios: sections.has('h2') ? h2Scenarios : [],
    h2Clients: sections.has('h2') ? H2_CLIENTS.filter(selected) : [],
    h2Runs,
    h2Notes,
    dnsCounts,
    dnsRuns,
  };
}

async function main() {
  const cpuModel = os.cpus()[0]?.model?.trim() || 'unknown';
  const env = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: nodes.map((n) => n.version).join(', '),
    nodes: nodes.map((n) => n.version),
    cpu: `${cpuModel} (${os.cpus().length} cores visible)`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    baseline: baselineOption,
    quick,
    repeats,
    pinning: hasTaskset
      ? `server on core ${SERVER_CPU}, each client on core ${CLIENT_CPU} (taskset)`
      : 'none (taskset not found or a single core)',
    counts,
    connections: CONNECTIONS,
    budgetMs: BUDGET_MS,
  };
  log(
    `node ${env.node}, ${env.cpu}; ${env.pinning}; ${repeats} repeat(s)${quick ? ', quick' : ''}`,
  );
  const parts = [];
  for (const node of nodes) {
    nodeBin = node.execPath;
    currentVersion = node.version;
    partStartedAt = performance.now();
    if (nodes.length > 1) log(`== node ${node.version} (${node.execPath})`);
    parts.push(await measurePart(node));
  }

  const data = {
    env,
    elapsedS: (performance.now() - startedAt) / 1000,
    budgetSpent: parts.some((p) => p.budgetSpent),
    nodes: parts,
    warnings: [...warnings].map(([warning, where]) => ({ warning, where })),
  };
  const files = {
    json: path.join(outDir, `results${suffix}.json`),
    md: path.join(outDir, `RESULTS${suffix}.md`),
    svg: path.join(outDir, `results${suffix}.svg`),
  };
  // An --out directory that does not exist yet is made, rather than losing the run at the end.
  mkdirSync(outDir, { recursive: true });
  writeFileSync(files.json, `${JSON.stringify(data, null, 1)}\n`);
  writeFileSync(files.svg, renderSvg(data));
  writeFileSync(files.md, renderMarkdown(data, path.basename(files.svg)));
  log(`done in ${data.elapsedS.toFixed(0)} s: ${files.md}, ${files.svg}, ${files.json}`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
