// @ts-check
/**
 * Many origins: one Agent sends a few requests to each of `names` host names, all mapped to
 * the bench server on loopback, with the Agent's DNS cache (`cache`) or without it
 * (`no-cache`: `dns: false` and a `lookup`, so every connect looks the name up). Either way a
 * lookup is the system's own (`dns.lookup('localhost')`, getaddrinfo reading /etc/hosts),
 * counted; only the name asked differs.
 *
 * Usage: node --expose-gc bench/origins.mjs '<json>' where json is
 *   {mode: 'cache' | 'no-cache', port, names, perName, rounds, workers, maxOrigins}
 * Each of `workers` loops takes the next name and sends `perName` requests to it at once
 * (so up to `perName` connections), `rounds` times; the Agent keeps `maxOrigins` pools.
 *
 * Prints one JSON line: {requests, elapsedMs, cpuUserUs, cpuSystemUs, lookups, connections,
 * heapDeltaBytes, dns} or {error}.
 */
import { subscribe } from 'node:diagnostics_channel';
import dns from 'node:dns';
import { reportAndExit } from './child.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const distUrl = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}/`)
  : new URL('../dist/', import.meta.url);
const { mode, port, names, perName, rounds, workers, maxOrigins } = config;

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

let lookups = 0;
/** Every name is localhost to the system: the same getaddrinfo call whatever the name. */
const systemLookup = () => {
  lookups++;
  return dns.promises.lookup('localhost', { all: true, family: 4 });
};
const notFound = () =>
  Promise.reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' }));

async function run() {
  const { Agent } = await import(new URL('index.js', distUrl).href);
  let connections = 0;
  subscribe('httpool:connection:open', () => {
    connections++;
  });
  const common = { maxOrigins, idleTimeout: 60_000 };
  const agent =
    mode === 'cache'
      ? new Agent({
          ...common,
          // Not in DNS (as an /etc/hosts name is not): the cache asks the system, once per name.
          dns: { resolver: { resolve4: notFound, resolve6: notFound, lookup: systemLookup } },
        })
      : new Agent({
          ...common,
          dns: false,
          lookup: (
            /** @type {string} */ _name,
            /** @type {any} */ _options,
            /** @type {(e: Error | null, a?: unknown) => void} */ callback,
          ) => {
            systemLookup().then(
              (all) => callback(null, all),
              (error) => callback(error),
            );
          },
        });
  await settle();
  const heapBefore = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  let requests = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= names) return;
      const url = `http://h${i}.bench.test:${port}/`;
      for (let r = 0; r < rounds; r++) {
        await Promise.all(
          Array.from({ length: perName }, async () => {
            const res = await agent.request(url);
            await res.arrayBuffer();
            requests++;
          }),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await settle();
  const heapDeltaBytes = process.memoryUsage().heapUsed - heapBefore;
  const dnsStats = agent.dnsStats?.() ?? null;
  await agent.destroy();
  return {
    mode,
    requests,
    elapsedMs,
    cpuUserUs: used.user,
    cpuSystemUs: used.system,
    lookups,
    connections,
    heapDeltaBytes,
    dns: dnsStats,
  };
}

reportAndExit(run());
