/**
 * `httpool fetch`: fetches many URLs through one Agent, as a crawler would, and reports per
 * origin what it cost: requests, failures, bytes, connections, reuse, latency, rate.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, type AgentOptions, type HttpResponse } from '../index.js';
import {
  firstLine,
  flagOption,
  integerOption,
  type OptionSpec,
  parseCommandLine,
  parseHttpUrl,
  requestOptions,
  stringOption,
  UsageError,
} from './args.js';
import { escapeControls, quote, visible } from './escape.js';
import { FileNamer } from './filenames.js';
import { formatBytes, formatMs, formatPercent, formatRate, plural, table } from './format.js';
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

/** Help text of `httpool fetch`. */
export const FETCH_HELP = `Usage: httpool fetch [URL...] [--input FILE|-] [options]

Fetch many URLs through one connection pool per origin, as a crawler would, and
report per origin: requests, successes, failures, bytes, connections opened,
connection reuse, latency p50/p99 and requests per second.

URLs come from the arguments and/or from --input (one per line; blank lines and
lines starting with # are skipped). Each URL is fetched once per occurrence.

Options:
  -i, --input FILE|-       read URLs from FILE, or from standard input with -
  -c, --concurrency N      requests in flight at once (default 16)
  -p, --max-per-origin N   connections per origin (default 6)
  -t, --timeout MS         deadline for one URL, retries included (default 30000)
  -r, --retry N            retry a URL up to N times after a connection error or a
                           408/429/500/502/503/504 (GET and other idempotent methods;
                           default 0)
  -L, --follow             follow redirects (up to 20; credentials are not carried
                           to another origin); the final response is what counts,
                           under the origin of the URL given
  -o, --output DIR         save the bodies of successful responses in DIR, under names
                           derived from the URL (host_port_path_query-HASH.ext: letters,
                           digits, '.', '_' and '-' only; never a path); a URL without
                           an extension gets one from a common Content-Type
  -X, --method M           request method (default GET)
  -H, --header 'N: v'      a request header (repeatable); a User-Agent given here
                           replaces -A
  -A, --user-agent UA      the User-Agent header (default httpool/VERSION; '' sends none)
  -k, --insecure           do not verify TLS certificates (self-signed test servers)
      --json               print the summary as JSON on standard output
  -h, --help               show this help

A line of --input that is not an http: or https: URL is reported with its line
number and skipped; it makes the exit status 1, like a failed URL.

A URL succeeds when its response arrived with a status below 400 and its body was
read to the end. It fails on a transport error (counted by error code, e.g.
ERR_SOCKET, ERR_CONNECT_TIMEOUT, ERR_TIMEOUT) or a status of 400 or more (counted as
HTTP_<status>, e.g. HTTP_404). Without --follow a 3xx counts as a success; with it,
a redirect loop or a 21st redirect fails as ERR_REDIRECT.
A failure is reported on standard error and never stops the other URLs.
Text from servers and --input (reason phrases, URLs, messages) is printed with
control characters escaped (\\x1b, \\u009b, \\t; a backslash as \\\\); --json is exact.

Ctrl-C stops: requests in flight are abandoned (and not counted), and the summary of
the URLs fetched so far is printed. A second Ctrl-C quits at once.

Exit status: 0 when every URL succeeded, 1 when any failed, 2 for a usage error,
130 when interrupted.
`;

const OPTIONS: OptionSpec = {
  input: { type: 'string', short: 'i' },
  concurrency: { type: 'string', short: 'c' },
  'max-per-origin': { type: 'string', short: 'p' },
  timeout: { type: 'string', short: 't' },
  retry: { type: 'string', short: 'r' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  follow: { type: 'boolean', short: 'L' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  'user-agent': { type: 'string', short: 'A' },
  insecure: { type: 'boolean', short: 'k' },
  help: { type: 'boolean', short: 'h' },
};

/** Most URLs one run accepts. */
const MAX_URLS = 1_000_000;

/** Settings of one fetch run, after parsing. */
export interface FetchSettings {
  /** The URLs, in order. */
  urls: URL[];
  /** Requests in flight at once. */
  concurrency: number;
  /** Connections per origin. */
  maxPerOrigin: number;
  /** Deadline per URL in ms, retries included. */
  timeout: number;
  /** Retries per URL. */
  retry: number;
  /** Directory for bodies, if any. */
  output: string | undefined;
  /** Print JSON instead of tables. */
  json: boolean;
  /** Follow redirects. */
  follow: boolean;
  /** Request method. */
  method: string;
  /** Request headers as ordered pairs, the User-Agent included (unless `-A ''`). */
  headers: [string, string][];
  /** Skip TLS certificate verification. */
  insecure: boolean;
  /** Lines of `--input` that were not URLs, skipped. */
  inputErrors: InputError[];
}

/** A line of `--input` that was skipped because it is not a usable URL. */
export interface InputError {
  /** The file name given to `--input`, or `stdin`. */
  input: string;
  /** Its line number, from 1. */
  line: number;
  /** The line as read (trimmed). */
  text: string;
  /** What was printed: `FILE line N: not a valid URL: "..."`, the line in a visible form. */
  message: string;
}

/** Numbers for one origin (or for the whole run) in the JSON summary. */
export interface FetchTotals {
  /** URLs fetched. */
  requests: number;
  /** URLs that succeeded (status < 400, body read). */
  succeeded: number;
  /** URLs that failed (transport error or status >= 400). */
  failed: number;
  /** Response body bytes read. */
  bytes: number;
  /** Connections the pool opened. */
  connectionsOpened: number;
  /** Requests sent (retries and replays included): what the servers saw. */
  requestsSent: number;
  /** Share of sent requests that went over an already open connection. */
  reuseRatio: number;
  /** From the first request started to the last one finished, in ms. */
  durationMs: number;
  /** `requests / duration`. */
  requestsPerSecond: number;
  /** Latency from request start to body end, in ms. */
  latency: LatencySummary;
  /** Failures by code. */
  errors: Record<string, number>;
}

/** The JSON summary of `httpool fetch --json`. */
export interface FetchSummary extends FetchTotals {
  /** The same numbers for each origin. */
  perOrigin: Record<string, FetchTotals>;
  /** Each failed URL with its code and message. */
  failures: { url: string; code: string; message: string }[];
  /** Files written under `--output` (names relative to it). */
  saved: number;
  /** Lines of `--input` skipped because they are not usable URLs. */
  inputErrors: InputError[];
  /** True when Ctrl-C stopped the run: the figures cover the URLs fetched before it. */
  interrupted: boolean;
}

class Tally {
  requests = 0;
  succeeded = 0;
  failed = 0;
  bytes = 0;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  readonly latency = new LatencyRecorder();
  readonly errors = new ErrorCounts();

  record(start: number, end: number, bytes: number, code: string | undefined): void {
    this.requests++;
    this.bytes += bytes;
    this.first = Math.min(this.first, start);
    this.last = Math.max(this.last, end);
    this.latency.add(end - start);
    if (code === undefined) this.succeeded++;
    else {
      this.failed++;
      this.errors.add(code);
    }
  }

  totals(connectionsOpened: number, requestsSent: number): FetchTotals {
    const duration = this.requests === 0 ? 0 : this.last - this.first;
    return {
      requests: this.requests,
      succeeded: this.succeeded,
      failed: this.failed,
      bytes: this.bytes,
      connectionsOpened,
      requestsSent,
      reuseRatio:
        requestsSent === 0
          ? 0
          : round3(Math.max(0, requestsSent - connectionsOpened) / requestsSent),
      durationMs: round3(duration),
      requestsPerSecond: duration > 0 ? round3((this.requests / duration) * 1000) : 0,
      latency: this.latency.summary(),
      errors: this.errors.toJSON(),
    };
  }
}

/** Parses the command line of `httpool fetch` (reading `--input`). @throws UsageError */
export async function parseFetchArgs(
  argv: readonly string[],
  io: Io,
): Promise<FetchSettings | 'help'> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (flagOption(values, 'help')) return 'help';
  const concurrency = integerOption(values, 'concurrency', { min: 1, max: 10_000 }, 16);
  const maxPerOrigin = integerOption(values, 'max-per-origin', { min: 1, max: 10_000 }, 6);
  const timeout = integerOption(values, 'timeout', { min: 1, max: 3_600_000 }, 30_000);
  const retry = integerOption(values, 'retry', { min: 0, max: 10 }, 0);
  const output = stringOption(values, 'output');
  if (output === '') throw new UsageError('--output needs a directory');
  const { method, headers } = requestOptions(values);
  // A URL given as an argument was typed here: a bad one stops the run before anything is sent.
  const urls = positionals.map((text) => parseHttpUrl(text));
  const inputErrors: InputError[] = [];
  const input = stringOption(values, 'input');
  if (input !== undefined) {
    let text: string;
    try {
      text = input === '-' ? await io.readStdin() : await readFile(input, 'utf8');
    } catch (error) {
      const reason = (error as { code?: unknown }).code ?? firstLine(String(error));
      throw new UsageError(`cannot read --input ${quote(input)}: ${String(reason)}`);
    }
    const name = input === '-' ? 'stdin' : input;
    const where = (line: number) => `${visible(name)} line ${line}`;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (urls.length + inputErrors.length >= MAX_URLS) {
        throw new UsageError(`more than ${MAX_URLS} URLs`);
      }
      // A bad line in a long list (a crawler's output, say) is reported and skipped.
      try {
        urls.push(parseHttpUrl(line, where(i + 1)));
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        inputErrors.push({ input: name, line: i + 1, text: line, message: error.message });
      }
    }
  }
  if (urls.length === 0) {
    throw new UsageError(
      inputErrors.length === 0
        ? 'no URL given (pass URLs or --input FILE|-)'
        : `no valid URL: ${plural(inputErrors.length, 'input line')} skipped (${inputErrors[0]!.message})`,
    );
  }
  return {
    urls,
    concurrency,
    maxPerOrigin,
    timeout,
    retry,
    output,
    json: flagOption(values, 'json'),
    follow: flagOption(values, 'follow'),
    method,
    headers,
    insecure: flagOption(values, 'insecure'),
    inputErrors,
  };
}

/** Runs `httpool fetch` and returns the exit status. @throws UsageError */
export async function fetchCommand(argv: readonly string[], io: Io): Promise<number> {
  const settings = await parseFetchArgs(argv, io);
  if (settings === 'help') {
    io.stdout.write(FETCH_HELP);
    return 0;
  }
  if (settings.output !== undefined) {
    try {
      await mkdir(settings.output, { recursive: true });
    } catch (error) {
      const reason = (error as { code?: unknown }).code ?? firstLine(String(error));
      throw new UsageError(`cannot create --output ${quote(settings.output)}: ${String(reason)}`);
    }
  }
  for (const skipped of settings.inputErrors) {
    // The message quotes the line in a visible form already.
    io.stderr.write(`httpool: ${escapeControls(skipped.message)} (skipped)\n`);
  }
  const summary = await runFetch(settings, io);
  if (settings.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else io.stdout.write(renderFetchSummary(summary, settings.urls.length));
  if (summary.interrupted) return INTERRUPTED;
  return summary.failed === 0 && summary.inputErrors.length === 0 ? 0 : 1;
}

/** Fetches every URL of `settings` and returns the summary. Never throws for a failed URL. */
export async function runFetch(settings: FetchSettings, io: Io): Promise<FetchSummary> {
  const agentOptions: AgentOptions = {
    maxSize: settings.maxPerOrigin,
    originIdleTimeout: Number.POSITIVE_INFINITY, // keep every pool (and its stats) until the end
  };
  if (settings.retry > 0) agentOptions.retry = settings.retry;
  if (settings.insecure) agentOptions.tls = { rejectUnauthorized: false };
  const agent = new Agent(agentOptions);
  const all = new Tally();
  const byOrigin = new Map<string, Tally>();
  const failures: FetchSummary['failures'] = [];
  const namer = new FileNamer();
  let saved = 0;
  let next = 0;
  const started = performance.now();
  const progress = new Progress(io.stderr, (width) => {
    const done = all.requests;
    const total = settings.urls.length;
    const seconds = (performance.now() - started) / 1000;
    const text = ` ${done}/${total}  ${formatRate(seconds > 0 ? done / seconds : 0)} req/s  ${plural(all.failed, 'error')}`;
    return `${bar(done, total, Math.min(30, width - text.length - 2))}${text}`;
  });

  const fetchOne = async (url: URL): Promise<void> => {
    const origin = url.origin;
    let tally = byOrigin.get(origin);
    if (tally === undefined) {
      tally = new Tally();
      byOrigin.set(origin, tally);
    }
    const controller = inFlight.begin();
    const start = performance.now();
    let bytes = 0;
    let code: string | undefined;
    let message = '';
    let file: string | undefined;
    try {
      const response: HttpResponse = await agent.request(url, {
        method: settings.method,
        headers: settings.headers,
        signal: controller.signal,
        timeout: settings.timeout,
        redirect: settings.follow ? 'follow' : 'manual',
      });
      const counted = async function* (): AsyncGenerator<Uint8Array> {
        for await (const chunk of response.body) {
          bytes += chunk.byteLength;
          yield chunk;
        }
      };
      if (response.status >= 400) {
        code = statusCode(response.status);
        message = `${response.status} ${response.statusText}`.trim();
        for await (const _ of counted()) {
          // read to the end so the connection can be reused
        }
      } else if (settings.output !== undefined) {
        const type = response.headers.get('content-type') ?? undefined;
        file = join(settings.output, namer.next(url, type));
        await pipeline(counted(), createWriteStream(file));
        saved++;
      } else {
        for await (const _ of counted()) {
          // counted, not kept
        }
      }
    } catch (error) {
      code = errorCode(error);
      message = firstLine(error instanceof Error ? error.message : String(error));
      if (file !== undefined) await rm(file, { force: true }).catch(() => {});
    }
    if (inFlight.end(controller)) return;
    const end = performance.now();
    tally.record(start, end, bytes, code);
    all.record(start, end, bytes, code);
    if (code !== undefined) {
      failures.push({ url: url.href, code, message });
      // The message may quote the server (a reason phrase): it is shown, never obeyed.
      const why = message === '' ? '' : ` (${visible(message)})`;
      progress.log(`httpool: ${visible(code)} ${visible(url.href)}${why}`);
    }
  };

  // Ctrl-C: nothing new starts; requests in flight are abandoned and left out of the report.
  const inFlight = new InFlight(io, (line) => progress.log(line));
  progress.start();
  try {
    const workers = Array.from(
      { length: Math.min(settings.concurrency, settings.urls.length) },
      async () => {
        while (!inFlight.stopped && next < settings.urls.length) {
          const url = settings.urls[next++]!;
          await fetchOne(url);
        }
      },
    );
    await Promise.all(workers);
  } finally {
    inFlight.close();
    progress.stop();
  }
  const poolStats = agent.stats();
  await agent.close();

  const perOrigin: Record<string, FetchTotals> = {};
  for (const [origin, tally] of byOrigin) {
    let created = 0;
    let requests = 0;
    for (const [key, stats] of Object.entries(poolStats)) {
      if (sameOrigin(key, origin)) {
        created += stats.created;
        requests += stats.requests;
      }
    }
    perOrigin[origin] = tally.totals(created, requests);
  }
  // The totals count every pool, those of origins reached only by a redirect included.
  let connections = 0;
  let sent = 0;
  for (const stats of Object.values(poolStats)) {
    connections += stats.created;
    sent += stats.requests;
  }
  return {
    ...all.totals(connections, sent),
    perOrigin,
    failures,
    saved,
    inputErrors: settings.inputErrors,
    interrupted: inFlight.stopped,
  };
}

function sameOrigin(poolOrigin: string, origin: string): boolean {
  try {
    return new URL(poolOrigin).origin === origin;
  } catch {
    return false;
  }
}

/**
 * The plain-text report of a fetch run: a table per origin, a total line, errors by code.
 * `total` is how many URLs the run was given (said when it was interrupted).
 */
export function renderFetchSummary(summary: FetchSummary, total = summary.requests): string {
  const row = (name: string, t: FetchTotals): string[] => [
    name,
    String(t.requests),
    String(t.succeeded),
    String(t.failed),
    formatBytes(t.bytes),
    String(t.connectionsOpened),
    formatPercent(t.reuseRatio),
    formatMs(t.latency.p50),
    formatMs(t.latency.p99),
    formatRate(t.requestsPerSecond),
  ];
  const rows = [
    ['origin', 'requests', 'ok', 'failed', 'bytes', 'conns', 'reuse', 'p50', 'p99', 'req/s'],
    ...Object.entries(summary.perOrigin).map(([origin, t]) => row(origin, t)),
  ];
  if (Object.keys(summary.perOrigin).length > 1) rows.push(row('total', summary));
  let out = `\n${table(rows)}`;
  out += `\n${plural(summary.requests, 'URL')} in ${formatMs(summary.durationMs)}: ${summary.succeeded} ok, ${summary.failed} failed`;
  if (summary.saved > 0) out += `, ${summary.saved} saved`;
  if (summary.inputErrors.length > 0) {
    out += `; ${plural(summary.inputErrors.length, 'input line')} skipped`;
  }
  if (summary.interrupted) out += `; interrupted (Ctrl-C) after ${summary.requests} of ${total}`;
  out += '\n';
  const errors = Object.entries(summary.errors);
  if (errors.length > 0) {
    out += `errors: ${errors.map(([code, n]) => `${visible(code)} ${n}`).join(', ')}\n`;
  }
  return out;
}
