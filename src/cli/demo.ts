/**
 * `httpool demo` (what `npm start` runs): starts an embedded web site on loopback, crawls it
 * twice with the same concurrency and the same per-origin limit — once through the pool, once
 * opening a new connection for every request — and prints the comparison.
 *
 * Built only on the package's public API, as every command-line program here is.
 */
import { Agent, type AgentOptions } from '../index.js';
import {
  flagOption,
  integerOption,
  type OptionSpec,
  parseCommandLine,
  UsageError,
} from './args.js';
import { type CrawlResult, crawl } from './crawl.js';
import { quote } from './escape.js';
import { formatBytes, formatMs, formatRate, plural, table } from './format.js';
import type { Io } from './io.js';
import { startDemoSite } from './site.js';

/** Help text of `httpool demo`. */
export const DEMO_HELP = `Usage: httpool demo [options]

Start a local web site (HTML pages linking to each other and to images) on
127.0.0.1, crawl it breadth-first twice with the same concurrency and the same
connection limit, and compare:

  pooled       one Agent: connections are kept alive and reused
  no reuse     the same Agent settings with maxRequestsPerConnection: 1,
               so every request opens a new connection

Nothing leaves the loopback interface.

Options:
      --pages N        pages on the site (default 300; images: half as many)
  -c, --concurrency N  requests in flight (default 16)
  -p, --max-per-origin N
                       connections to the site at once (default 6)
      --json           print the comparison as JSON on standard output
  -h, --help           show this help

Exit status: 0 when both crawls fetched the whole site, 1 otherwise, 2 for a usage error.
`;

const OPTIONS: OptionSpec = {
  pages: { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  'max-per-origin': { type: 'string', short: 'p' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** One crawl of the comparison. */
export interface DemoRun extends CrawlResult {
  /** `pooled` or `no reuse`. */
  name: string;
  /** Connections the client opened. */
  connectionsOpened: number;
  /** Connections the server accepted during the crawl. */
  serverConnections: number;
  /** Requests the server answered during the crawl. */
  serverRequests: number;
  /** `requests / duration`. */
  requestsPerSecond: number;
}

/** The result of `httpool demo --json`. */
export interface DemoResult {
  /** The site's start URL. */
  site: string;
  /** Distinct URLs on the site. */
  resources: number;
  /** Requests in flight. */
  concurrency: number;
  /** Connection limit for the site. */
  maxPerOrigin: number;
  /** The pooled crawl and the one without reuse. */
  runs: [DemoRun, DemoRun];
}

/** Runs `httpool demo` and returns the exit status. @throws UsageError */
export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (flagOption(values, 'help')) {
    io.stdout.write(DEMO_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`demo takes no arguments, got ${quote(positionals[0]!)}`);
  const pages = integerOption(values, 'pages', { min: 1, max: 20_000 }, 300);
  const concurrency = integerOption(values, 'concurrency', { min: 1, max: 1000 }, 16);
  const maxPerOrigin = integerOption(values, 'max-per-origin', { min: 1, max: 1000 }, 6);
  const json = flagOption(values, 'json');

  const site = await startDemoSite(pages);
  let result: DemoResult;
  try {
    if (!json) {
      io.stdout.write(
        `httpool demo: crawling a local site of ${plural(site.resources, 'URL')} (${pages === 1 ? '1 page and its' : `${pages} pages and their`} images)\n` +
          `at ${site.url}, ${plural(concurrency, 'request')} in flight, at most ${plural(maxPerOrigin, 'connection')}.\n`,
      );
    }
    const runOnce = async (name: string, extra: AgentOptions): Promise<DemoRun> => {
      const before = { requests: site.requests, connections: site.connections };
      const agent = new Agent({ maxSize: maxPerOrigin, ...extra });
      try {
        const crawled = await crawl(agent, new URL(site.url), { concurrency });
        const created = Object.values(agent.stats()).reduce((n, s) => n + s.created, 0);
        return {
          name,
          ...crawled,
          connectionsOpened: created,
          serverConnections: site.connections - before.connections,
          serverRequests: site.requests - before.requests,
          requestsPerSecond:
            crawled.durationMs > 0 ? (crawled.requests / crawled.durationMs) * 1000 : 0,
        };
      } finally {
        await agent.close();
      }
    };
    const pooled = await runOnce('pooled', {});
    const unpooled = await runOnce('no reuse', { maxRequestsPerConnection: 1 });
    result = {
      site: site.url,
      resources: site.resources,
      concurrency,
      maxPerOrigin,
      runs: [pooled, unpooled],
    };
  } finally {
    await site.close();
  }

  if (json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else io.stdout.write(renderDemo(result));
  const complete = result.runs.every(
    (run) => run.requests === result.resources && run.succeeded === run.requests,
  );
  return complete ? 0 : 1;
}

/** The comparison as a table, with the ratios under it. */
export function renderDemo(result: DemoResult): string {
  const rows = [
    ['crawl', 'requests', 'ok', 'connections opened', 'bytes', 'time', 'req/s'],
    ...result.runs.map((run) => [
      run.name,
      String(run.requests),
      String(run.succeeded),
      `${run.connectionsOpened} (server saw ${run.serverConnections})`,
      formatBytes(run.bytes),
      formatMs(run.durationMs),
      formatRate(run.requestsPerSecond),
    ]),
  ];
  const [pooled, unpooled] = result.runs;
  let out = `\n${table(rows)}\n`;
  out += `pooled: ${formatRate(pooled.requests / Math.max(1, pooled.connectionsOpened))} requests per connection; `;
  out += `${plural(Math.max(0, unpooled.connectionsOpened - pooled.connectionsOpened), 'fewer connection', 'fewer connections')}`;
  if (pooled.durationMs > 0) {
    out += `, ${(unpooled.durationMs / pooled.durationMs).toFixed(1)}x the speed of no reuse`;
  }
  out += '.\n';
  const failures = result.runs.flatMap((run) =>
    Object.entries(run.errors).map(([code, n]) => `${run.name}: ${code} ${n}`),
  );
  if (failures.length > 0) out += `errors: ${failures.join(', ')}\n`;
  return out;
}
