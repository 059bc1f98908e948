/**
 * `httpool bench`: a load generator over one ConnectionPool, in the spirit of autocannon and
 * wrk. Workers send requests back to back until a count or a duration is reached, and the
 * result gives the rate, the latency distribution, errors by code and connections opened.
 */
import { readFile } from 'node:fs/promises';
import { ConnectionPool, type RequestOptions } from '../index.js';
import {
  firstLine,
  flagOption,
  integerOption,
  type OptionSpec,
  parseCommandLine,
  parseHttpUrl,
  positiveNumberOption,
  requestOptions,
  stringOption,
  UsageError,
} from './args.js';
import { quote, visible } from './escape.js';
import { formatBytes, formatMs, formatRate, plural, table } from './format.js';
import { INTERRUPTED, InFlight, type Io } from './io.js';
import { bar, Progress } from './progress.js';
import {
  ErrorCounts,
  errorCode,
  LatencyRecorder,
  type LatencySummary,
  round3,
  statusCode,
} from './stats.js';

/** Requests sent when neither `--requests` nor `--duration` is given. */
export const DEFAULT_REQUESTS = 10_000;
/** Longest run, in seconds, whatever the options say. */
export const MAX_DURATION_S = 600;

/** Help text of `httpool bench`. */
export const BENCH_HELP = `Usage: httpool bench URL [options]

Load-test one origin through one connection pool: workers send requests back to
back over --connections pooled connections, then the rate, latency percentiles,
errors by code and connections opened are reported.

Options:
  -c, --connections N    connections in the pool (default 16)
      --concurrency N    requests in flight at once (default: --connections)
  -n, --requests N       stop after N requests (default ${DEFAULT_REQUESTS} when no --duration)
  -d, --duration S       stop starting requests after S seconds (decimals allowed)
                         with both, whichever comes first; never more than ${MAX_DURATION_S} s
  -m, --method M         request method (default GET)
  -H, --header 'N: v'    a request header (repeatable); a User-Agent given here
                         replaces -A
  -A, --user-agent UA    the User-Agent header (default httpool/VERSION; '' sends none)
  -b, --body STRING|@F   request body: the string, or the contents of file F
  -k, --insecure         do not verify TLS certificates (self-signed test servers)
  -t, --timeout MS       deadline for one request (default 30000)
      --json             print the result as JSON on standard output
  -h, --help             show this help

A request succeeds when its response arrived with a status below 400 and its body
was read; a status of 400 or more counts as an error HTTP_<status>, a transport error
by its code (ERR_SOCKET, ERR_TIMEOUT, ...). When no request succeeded (nothing
listens on the port, say), no request rate is given.

Ctrl-C stops early: requests in flight are abandoned (and not counted), and the
figures so far are printed. A second Ctrl-C quits at once.

Exit status: 0 when every request succeeded, 1 when any failed, 2 for a usage error,
130 when interrupted.
`;

const OPTIONS: OptionSpec = {
  connections: { type: 'string', short: 'c' },
  concurrency: { type: 'string' },
  requests: { type: 'string', short: 'n' },
  duration: { type: 'string', short: 'd' },
  method: { type: 'string', short: 'm' },
  header: { type: 'string', short: 'H', multiple: true },
  'user-agent': { type: 'string', short: 'A' },
  body: { type: 'string', short: 'b' },
  insecure: { type: 'boolean', short: 'k' },
  timeout: { type: 'string', short: 't' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Settings of one bench run, after parsing. */
export interface BenchSettings {
  /** The target. */
  url: URL;
  /** Pool size. */
  connections: number;
  /** Requests in flight. */
  concurrency: number;
  /** Most requests (Infinity with only a duration). */
  requests: number;
  /** Most ms spent starting requests. */
  durationMs: number;
  /** Request method. */
  method: string;
  /** Request headers as ordered pairs, the User-Agent included (unless `-A ''`). */
  headers: [string, string][];
  /** Skip TLS certificate verification. */
  insecure: boolean;
  /** Request body, if any. */
  body: Uint8Array | undefined;
  /** Deadline per request, ms. */
  timeout: number;
  /** Print JSON. */
  json: boolean;
}

/** The result of `httpool bench --json`. */
export interface BenchResult {
  /** The target URL. */
  url: string;
  /** Requests completed (succeeded or failed). */
  requests: number;
  /** Requests whose response had a status below 400 and was read. */
  succeeded: number;
  /** Requests that failed (transport error or status >= 400). */
  failed: number;
  /** Wall time from the first request to the last response, ms. */
  durationMs: number;
  /**
   * `requests / duration`; `null` when no request succeeded: how fast connections are
   * refused is not a request rate.
   */
  requestsPerSecond: number | null;
  /** Response body bytes read. */
  bytes: number;
  /** `bytes / duration`. */
  bytesPerSecond: number;
  /** Latency of one request, from send to body end, ms. */
  latency: LatencySummary;
  /** Responses by status code. */
  statusCodes: Record<string, number>;
  /** Failures by code. */
  errors: Record<string, number>;
  /** The message of the first transport error (why nothing connects, say), if any. */
  firstError?: string;
  /** Connections the pool opened. */
  connectionsOpened: number;
  /** Requests the pool sent (a stale-connection replay counts again). */
  requestsSent: number;
  /** True when Ctrl-C stopped the run: the figures cover the requests finished before it. */
  interrupted: boolean;
}

/** Parses the command line of `httpool bench` (reading `--body @file`). @throws UsageError */
export async function parseBenchArgs(argv: readonly string[]): Promise<BenchSettings | 'help'> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'bench needs a URL' : 'bench takes one URL');
  }
  const url = parseHttpUrl(positionals[0]!);
  const connections = integerOption(values, 'connections', { min: 1, max: 10_000 }, 16);
  const concurrency = integerOption(values, 'concurrency', { min: 1, max: 10_000 }, connections);
  const count = integerOption(values, 'requests', { min: 1, max: 100_000_000 });
  const duration = positiveNumberOption(values, 'duration', MAX_DURATION_S);
  const timeout = integerOption(values, 'timeout', { min: 1, max: 3_600_000 }, 30_000);
  // The User-Agent is sent by default, as by fetch: a server's log says where the load came from.
  const { method, headers } = requestOptions(values);
  let body: Uint8Array | undefined;
  const bodyText = stringOption(values, 'body');
  if (bodyText?.startsWith('@')) {
    try {
      body = await readFile(bodyText.slice(1));
    } catch (error) {
      const reason = (error as { code?: unknown }).code ?? firstLine(String(error));
      throw new UsageError(`cannot read --body ${quote(bodyText)}: ${String(reason)}`);
    }
  } else if (bodyText !== undefined) {
    body = Buffer.from(bodyText, 'utf8');
  }
  return {
    url,
    connections,
    concurrency,
    requests: count ?? (duration === undefined ? DEFAULT_REQUESTS : Number.POSITIVE_INFINITY),
    durationMs: (duration ?? MAX_DURATION_S) * 1000,
    method,
    headers,
    insecure: flagOption(values, 'insecure'),
    body,
    timeout,
    json: flagOption(values, 'json'),
  };
}

/** Runs `httpool bench` and returns the exit status. @throws UsageError */
export async function benchCommand(argv: readonly string[], io: Io): Promise<number> {
  const settings = await parseBenchArgs(argv);
  if (settings === 'help') {
    io.stdout.write(BENCH_HELP);
    return 0;
  }
  const result = await runBench(settings, io);
  if (settings.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else io.stdout.write(renderBenchResult(result, settings));
  if (result.interrupted) return INTERRUPTED;
  return result.failed === 0 ? 0 : 1;
}

/** Runs the load and returns the result. Never throws for a failed request. */
export async function runBench(settings: BenchSettings, io: Io): Promise<BenchResult> {
  const pool = new ConnectionPool(settings.url.origin, {
    maxSize: settings.connections,
    ...(settings.insecure ? { tls: { rejectUnauthorized: false } } : {}),
  });
  const latency = new LatencyRecorder();
  const errors = new ErrorCounts();
  const statuses = new Map<number, number>();
  const path = settings.url.pathname + settings.url.search;
  let started = 0;
  let done = 0;
  let failed = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const begin = performance.now();
  const deadline = begin + settings.durationMs;
  let lastEnd = begin;

  const progress = new Progress(io.stderr, (width) => {
    const seconds = (performance.now() - begin) / 1000;
    const rate = ` ${formatRate(seconds > 0 ? done / seconds : 0)} req/s  ${plural(failed, 'error')}`;
    if (Number.isFinite(settings.requests)) {
      const text = ` ${done}/${settings.requests}${rate}`;
      return `${bar(done, settings.requests, Math.min(30, width - text.length - 2))}${text}`;
    }
    const total = settings.durationMs / 1000;
    const text = ` ${seconds.toFixed(1)}/${total}s  ${plural(done, 'request')}${rate}`;
    return `${bar(seconds, total, Math.min(30, width - text.length - 2))}${text}`;
  });

  const one = async (): Promise<void> => {
    const controller = inFlight.begin();
    const options: RequestOptions = {
      method: settings.method,
      path,
      headers: settings.headers,
      signal: controller.signal,
      timeout: settings.timeout,
    };
    if (settings.body !== undefined) options.body = settings.body;
    const start = performance.now();
    let code: string | undefined;
    let message: string | undefined;
    try {
      const response = await pool.request(options);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      for await (const chunk of response.body) bytes += chunk.byteLength;
      if (response.status >= 400) code = statusCode(response.status);
    } catch (error) {
      code = errorCode(error);
      message = firstLine(error instanceof Error ? error.message : String(error));
    }
    if (inFlight.end(controller)) return;
    firstError ??= message;
    const end = performance.now();
    lastEnd = Math.max(lastEnd, end);
    latency.add(end - start);
    done++;
    if (code !== undefined) {
      failed++;
      errors.add(code);
    }
  };

  // Ctrl-C: nothing new starts; requests in flight are abandoned and left out of the report.
  const inFlight = new InFlight(io, (line) => progress.log(line));
  progress.start();
  try {
    const workers = Array.from(
      { length: Math.min(settings.concurrency, settings.requests) },
      async () => {
        while (!inFlight.stopped && started < settings.requests && performance.now() < deadline) {
          started++;
          await one();
        }
      },
    );
    await Promise.all(workers);
  } finally {
    inFlight.close();
    progress.stop();
  }
  const stats = pool.stats();
  await pool.close();
  const duration = Math.max(lastEnd - begin, 1e-3);
  return {
    url: settings.url.href,
    requests: done,
    succeeded: done - failed,
    failed,
    durationMs: round3(duration),
    requestsPerSecond: done - failed === 0 ? null : round3((done / duration) * 1000),
    bytes,
    bytesPerSecond: round3((bytes / duration) * 1000),
    latency: latency.summary(),
    statusCodes: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    errors: errors.toJSON(),
    ...(firstError === undefined ? {} : { firstError }),
    connectionsOpened: stats.created,
    requestsSent: stats.requests,
    interrupted: inFlight.stopped,
  };
}

/** The plain-text report of a bench run. */
export function renderBenchResult(result: BenchResult, settings: BenchSettings): string {
  const l = result.latency;
  let out = `\n${settings.method} ${visible(result.url)}: ${plural(settings.connections, 'connection')}, ${settings.concurrency} in flight\n\n`;
  out += table([
    ['latency', 'min', 'p50', 'p90', 'p99', 'max', 'mean'],
    [
      '',
      formatMs(l.min),
      formatMs(l.p50),
      formatMs(l.p90),
      formatMs(l.p99),
      formatMs(l.max),
      formatMs(l.mean),
    ],
  ]);
  const rate =
    result.requestsPerSecond === null
      ? 'none succeeded, no request rate'
      : `${formatRate(result.requestsPerSecond)} req/s, ${formatBytes(result.bytesPerSecond)}/s (${formatBytes(result.bytes)} read)`;
  out += `\n${plural(result.requests, 'request')} in ${formatMs(result.durationMs)}: ${rate}\n`;
  out += `connections opened: ${result.connectionsOpened}\n`;
  if (result.interrupted)
    out += 'interrupted (Ctrl-C): the figures cover the requests finished before it\n';
  const statuses = Object.entries(result.statusCodes);
  if (statuses.length > 0) out += `statuses: ${statuses.map(([s, n]) => `${s} ${n}`).join(', ')}\n`;
  const errors = Object.entries(result.errors);
  out +=
    errors.length === 0
      ? 'errors: none\n'
      : `errors: ${errors.map(([c, n]) => `${visible(c)} ${n}`).join(', ')}\n`;
  if (result.firstError !== undefined) out += `first error: ${visible(result.firstError)}\n`;
  return out;
}
