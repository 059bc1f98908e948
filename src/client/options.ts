/**
 * Option checking for every options object httpool takes (pool, Agent, `perOrigin`'s result,
 * retry, `acquire()`, request): an unknown name, or a value of the wrong kind or out of range,
 * is an InvalidArgumentError that names the option and where it was, and suggests the closest
 * known name. Nothing is queued, opened or sent before the check passes.
 *
 * Each kind of options has one table from option name to value check, written against its
 * TypeScript interface with `satisfies Record<keyof X, Check>`: a field added to the interface
 * fails the build until its check is listed here, so the names cannot drift.
 *
 * A signal is accepted by its shape (`aborted` a boolean, `addEventListener` and
 * `removeEventListener` functions), as Node's own APIs accept it, rather than by `instanceof`:
 * an AbortSignal from another realm, or a polyfill's, then works too.
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { MAX_TIMER_MS } from '../http/deadline.js';
import { type ParserLimits, resolveParserLimits } from '../http1/limits.js';
import type { AgentOptions, AgentRequestOptions, OriginOptions } from './agent.js';
import type { AcquireOptions, PoolOptions, RequestOptions } from './connection-pool.js';
import type { DnsOptions } from './dns.js';
import { type ProxyConfig, parseProxy } from './proxy.js';
import type { ConnectionRequestOptions } from './request-options.js';
import type { RetryOptions } from './retry-policy.js';
import { isAbortSignal } from './signal.js';

/** Checks one option's value (never undefined); throws InvalidArgumentError naming it. */
type Check = (value: unknown, name: string, where: string) => void;

/** What a refused value was, for the message: numbers as they are, anything else by kind. */
function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** A refused string, quoted and cut short (never a header's or a URL's: those may be secrets). */
function quoted(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : describe(value);
}

function refuse(where: string, name: string, what: string, got: string): never {
  throw new InvalidArgumentError(`${where} ${name} must be ${what}, got ${got}`);
}

/** A number check: at least `min` (more than `min` if `strict`), at most `max` unless Infinity. */
function numberCheck(
  what: string,
  min: number,
  { strict = false, integer = false, max = Number.POSITIVE_INFINITY, infinity = true } = {},
): Check {
  return (value, name, where) => {
    if (
      typeof value !== 'number' ||
      Number.isNaN(value) ||
      (strict ? value <= min : value < min) ||
      (value === Number.POSITIVE_INFINITY
        ? !infinity
        : value > max || (integer && !Number.isInteger(value)))
    ) {
      refuse(where, name, what, describe(value));
    }
  };
}

const nonNegative = numberCheck('a non-negative number', 0);
const count = numberCheck('a positive integer or Infinity', 1, { integer: true });
const nonNegativeCount = numberCheck('a non-negative integer or Infinity', 0, { integer: true });
/** Handed to a Node timer: beyond MAX_TIMER_MS it would fire at once, so only Infinity is longer. */
const timerMs = numberCheck(`a non-negative number of ms, at most ${MAX_TIMER_MS} or Infinity`, 0, {
  max: MAX_TIMER_MS,
});
const positiveTimerMs = numberCheck(
  `a positive number of ms, at most ${MAX_TIMER_MS} or Infinity`,
  0,
  { strict: true, max: MAX_TIMER_MS },
);
/** A wait the pool's clock runs (it chains timers), so any positive length. */
const positiveMs = numberCheck('a positive number of ms or Infinity', 0, { strict: true });
const finiteTimerMs = numberCheck(`a non-negative number of ms, at most ${MAX_TIMER_MS}`, 0, {
  max: MAX_TIMER_MS,
  infinity: false,
});

const boolean: Check = (value, name, where) => {
  if (typeof value !== 'boolean') refuse(where, name, 'true or false', describe(value));
};

const string: Check = (value, name, where) => {
  if (typeof value !== 'string') refuse(where, name, 'a string', describe(value));
};

const fn: Check = (value, name, where) => {
  if (typeof value !== 'function') refuse(where, name, 'a function', describe(value));
};

/** A plain options object: not null, not an array. */
function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const object: Check = (value, name, where) => {
  if (!isObject(value)) refuse(where, name, 'an object', describe(value));
};

function oneOf(...allowed: string[]): Check {
  const what = allowed.map((a) => `'${a}'`).join(', ');
  return (value, name, where) => {
    if (typeof value !== 'string' || !allowed.includes(value)) {
      refuse(where, name, `one of ${what}`, quoted(value));
    }
  };
}

const signal: Check = (value, name, where) => {
  if (!isAbortSignal(value)) refuse(where, name, 'an AbortSignal', describe(value));
};

function arrayOf(what: string, ok: (item: unknown) => boolean): Check {
  return (value, name, where) => {
    if (!Array.isArray(value)) refuse(where, name, `an array of ${what}`, describe(value));
    for (const item of value) {
      if (!ok(item)) refuse(where, name, `an array of ${what}`, `${quoted(item)} in it`);
    }
  };
}

const headers: Check = (value, name, where) => {
  if (typeof value !== 'object' || value === null) {
    refuse(where, name, 'an object or an iterable of [name, value] pairs', describe(value));
  }
};

const body: Check = (value, name, where) => {
  if (
    value !== null &&
    typeof value !== 'string' &&
    !(value instanceof Uint8Array) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function'
  ) {
    refuse(
      where,
      name,
      'a string, a Uint8Array, an async iterable, a stream or null',
      describe(value),
    );
  }
};

/** Any value (JSON's, say): checked where it is used. */
const any: Check = () => {};

const url: Check = (value, name, where) => {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    refuse(where, name, 'a URL (a string or a URL)', describe(value));
  }
};

const retry: Check = (value, name, where) => {
  if (typeof value !== 'boolean' && typeof value !== 'number' && !isObject(value)) {
    refuse(where, name, 'a boolean, a number or a retry options object', describe(value));
  }
};

function proxyCheck(allowEnv: boolean): Check {
  return (value, name, where) => {
    if (typeof value === 'string' || value instanceof URL) return;
    const config = value as { origin?: unknown; key?: unknown };
    if (isObject(value) && isObject(config.origin) && typeof config.key === 'string') return;
    refuse(where, name, `a URL${allowEnv ? ", 'env'" : ''} or a ProxyConfig`, describe(value));
  };
}

const limits: Check = (value, name, where) => {
  if (!isObject(value)) refuse(where, name, 'an object', describe(value));
  checkNames(value, PARSER_LIMITS);
  // The values, and the same names again, for direct callers of the parser.
  resolveParserLimits(value as Partial<ParserLimits>);
};

const clock: Check = (value, name, where) => {
  const c = value as { now?: unknown; schedule?: unknown };
  if (!isObject(value) || typeof c.now !== 'function' || typeof c.schedule !== 'function') {
    refuse(where, name, 'a Clock (now() and schedule())', describe(value));
  }
};

const socketPath: Check = (value, name, where) => {
  // A leading NUL names a Linux abstract socket; anywhere else it would cut the path short.
  if (typeof value !== 'string' || value === '' || value.indexOf('\0', 1) >= 0) {
    refuse(where, name, 'a non-empty path', quoted(value));
  }
};

const localAddress: Check = (value, name, where) => {
  if (typeof value !== 'string' || isIP(value) === 0)
    refuse(where, name, 'an IP address', quoted(value));
};

const resolver: Check = (value, name, where) => {
  const r = value as Record<string, unknown>;
  if (
    !isObject(value) ||
    typeof r['resolve4'] !== 'function' ||
    typeof r['resolve6'] !== 'function' ||
    typeof r['lookup'] !== 'function'
  ) {
    refuse(where, name, 'a resolver (resolve4(), resolve6() and lookup())', describe(value));
  }
};

/** `dns`: false, or DNS cache settings (checked by {@link DNS}, declared below). */
const dns: Check = (value, name, where) => {
  if (value === false) return;
  if (!isObject(value)) refuse(where, name, 'false or an object', describe(value));
  checkOptions(value, DNS);
};

const isStatus = (item: unknown): boolean =>
  typeof item === 'number' && Number.isInteger(item) && item >= 100 && item <= 599;
const isNonEmptyString = (item: unknown): boolean => typeof item === 'string' && item !== '';

/** One kind of options: its name in messages, and a check per known option. */
interface OptionsKind {
  /** How messages name an option of this kind: `pool option`, `request option`, ... */
  readonly label: string;
  /** Checks by option name, without a prototype (so `constructor` is as unknown as any name). */
  readonly checks: Readonly<Record<string, Check | undefined>>;
  readonly names: readonly string[];
  /** Said after the refusal of a name that is known not to belong here. */
  readonly hints: Readonly<Record<string, string>>;
}

function kind(
  label: string,
  table: Record<string, Check>,
  hints: Record<string, string> = {},
): OptionsKind {
  return {
    label,
    checks: Object.assign(Object.create(null) as Record<string, Check>, table),
    names: Object.keys(table),
    hints,
  };
}

const POOL_OPTION_CHECKS = {
  maxSize: count,
  idleTimeout: nonNegative,
  maxWaiting: nonNegativeCount,
  connectTimeout: positiveTimerMs,
  headersTimeout: timerMs,
  bodyTimeout: timerMs,
  maxLifetime: nonNegative,
  maxRequestsPerConnection: numberCheck('a number >= 1 (Infinity for no bound)', 1),
  keepAliveTimeoutThreshold: nonNegative,
  maxDrainBytes: nonNegative,
  maxDrainTime: timerMs,
  limits,
  // Node's ConnectionOptions: its keys are Node's to check.
  tls: object,
  leakDetectionTimeout: timerMs,
  clock,
  proxy: proxyCheck(false),
  socketPath,
  lookup: fn,
  localAddress,
  connect: fn,
  headers,
  decompress: boolean,
  http2: oneOf('off', 'auto', 'only', 'prior-knowledge'),
  maxConcurrentStreams: count,
  pingTimeout: positiveTimerMs,
} satisfies Record<keyof PoolOptions, Check>;

const AGENT_OPTION_CHECKS = {
  ...POOL_OPTION_CHECKS,
  proxy: proxyCheck(true),
  maxTotal: count,
  maxOrigins: count,
  originIdleTimeout: timerMs,
  retry,
  maxRedirections: nonNegativeCount,
  perOrigin: fn,
  baseUrl: url,
  dns,
} satisfies Record<keyof AgentOptions, Check>;

const DNS_OPTION_CHECKS = {
  ttl: finiteTimerMs,
  minTtl: finiteTimerMs,
  negativeTtl: finiteTimerMs,
  maxEntries: count,
  attemptDelay: finiteTimerMs,
  failurePenalty: finiteTimerMs,
  resolver,
} satisfies Record<keyof DnsOptions, Check>;

const { proxy: _proxy, clock: _clock, headers: _headers, ...originChecks } = POOL_OPTION_CHECKS;
const ORIGIN_OPTION_CHECKS: Record<keyof OriginOptions, Check> = originChecks;

const RETRY_OPTION_CHECKS = {
  limit: numberCheck('a non-negative integer', 0, { integer: true, infinity: false }),
  methods: arrayOf('method names', isNonEmptyString),
  statusCodes: arrayOf('integer statuses 100-599', isStatus),
  errorCodes: arrayOf('error codes (strings)', isNonEmptyString),
  minDelay: finiteTimerMs,
  maxDelay: finiteTimerMs,
} satisfies Record<keyof RetryOptions, Check>;

const ACQUIRE_OPTION_CHECKS = {
  blocking: boolean,
  timeout: positiveMs,
  signal,
} satisfies Record<keyof AcquireOptions, Check>;

const EXCHANGE_OPTION_CHECKS = {
  method: string,
  path: string,
  headers,
  body,
  signal,
  headersTimeout: timerMs,
  bodyTimeout: timerMs,
  // The whole request's deadline: beyond a timer's reach it is no deadline, so any length.
  timeout: positiveMs,
  // Its parameters are checked where they are encoded, its value where it is serialized.
  query: object,
  json: any,
  decompress: boolean,
} satisfies Record<keyof ConnectionRequestOptions, Check>;

const REQUEST_OPTION_CHECKS = {
  ...EXCHANGE_OPTION_CHECKS,
  acquireTimeout: positiveMs,
} satisfies Record<keyof RequestOptions, Check>;

const { path: _path, ...AGENT_REQUEST_BASE } = REQUEST_OPTION_CHECKS;
const AGENT_REQUEST_OPTION_CHECKS = {
  ...AGENT_REQUEST_BASE,
  redirect: oneOf('follow', 'manual', 'error'),
  maxRedirections: nonNegativeCount,
  retry,
} satisfies Record<keyof AgentRequestOptions, Check>;

const PARSER_LIMIT_NAMES = {
  maxHeaderSize: true,
  maxHeaderCount: true,
  maxStatusLineLength: true,
  maxChunkSizeLineLength: true,
  maxChunkExtensionSize: true,
  maxInformationalResponses: true,
  maxResponseSize: true,
  maxTrailerSize: true,
} satisfies Record<keyof ParserLimits, true>;

const POOL = kind('pool option', POOL_OPTION_CHECKS);
const AGENT = kind('agent option', AGENT_OPTION_CHECKS);
const ORIGIN = kind('perOrigin option', ORIGIN_OPTION_CHECKS, {
  proxy: "the proxy is the agent's",
  clock: "the clock is the agent's",
  headers: "default headers are the agent's",
});
const RETRY = kind('retry option', RETRY_OPTION_CHECKS);
const DNS = kind('dns option', DNS_OPTION_CHECKS);
const ACQUIRE = kind('acquire option', ACQUIRE_OPTION_CHECKS);
const EXCHANGE = kind('request option', EXCHANGE_OPTION_CHECKS);
const REQUEST = kind('request option', REQUEST_OPTION_CHECKS, {
  redirect: 'redirects are followed by an Agent',
  retry: 'retries are made by an Agent',
});
const AGENT_REQUEST = kind('request option', AGENT_REQUEST_OPTION_CHECKS, {
  path: 'the path is part of the URL',
});
const PARSER_LIMITS = kind(
  'parser limit',
  Object.fromEntries(Object.keys(PARSER_LIMIT_NAMES).map((name) => [name, any])),
);

/**
 * The edit distance of `a` and `b` (optimal string alignment: insertions, deletions,
 * substitutions and swaps of two neighbours each cost 1). Only run on the error path.
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The known name `name` was most likely meant to be: the same name in another case, else the
 * nearest by {@link editDistance} when at most about a third of it differs; else undefined.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  for (const candidate of known) if (candidate.toLowerCase() === lower) return candidate;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.ceil(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function unknownOption(name: string, of: OptionsKind): InvalidArgumentError {
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
  const hint = Object.hasOwn(of.hints, name) ? of.hints[name] : undefined;
  const closest = hint === undefined ? closestName(name, of.names) : undefined;
  const why =
    hint !== undefined ? ` (${hint})` : closest !== undefined ? ` (did you mean ${closest}?)` : '';
  return new InvalidArgumentError(`unknown ${of.label} ${shown}${why}`);
}

/** Refuses anything but a plain object, and any name `of` does not know. */
function checkNames(options: object, of: OptionsKind): void {
  const checks = of.checks;
  for (const name in options) {
    if (checks[name] === undefined) throw unknownOption(name, of);
  }
}

/**
 * Checks names and values in one pass. `for...in` sees inherited enumerable fields too, as the
 * code reading the options does. Allocates nothing when the options are good: this runs on
 * every request.
 */
function checkOptions(options: unknown, of: OptionsKind): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${of.label}s must be an object, got ${describe(options)}`);
  }
  const checks = of.checks;
  for (const name in options) {
    const check = checks[name];
    if (check === undefined) throw unknownOption(name, of);
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined) check(value, name, of.label);
  }
}

/**
 * Checks pool options: every name known, every value of its kind, and the combinations.
 *
 * @throws InvalidArgumentError for an unknown name or a bad value
 */
export function checkPoolOptions(options: PoolOptions): void {
  checkOptions(options, POOL);
  checkCombinations(options);
}

/**
 * Checks an Agent's options, its pools' included (with its proxy, for the combinations it
 * rules out).
 *
 * @throws InvalidArgumentError for an unknown name or a bad value
 */
export function checkAgentOptions(options: AgentOptions): void {
  checkOptions(options, AGENT);
  checkCombinations(options);
}

/**
 * Checks what `perOrigin` returned for one origin (undefined is fine): pool options, without
 * the proxy and clock, which are the agent's.
 *
 * @throws InvalidArgumentError for an unknown name or a bad value
 */
export function checkOriginOptions(options: OriginOptions | undefined): void {
  if (options === undefined) return;
  if (isObject(options) && typeof (options as { then?: unknown }).then === 'function') {
    throw new InvalidArgumentError(
      'perOrigin must return an options object or undefined (not a promise)',
    );
  }
  checkOptions(options, ORIGIN);
}

/** @throws InvalidArgumentError for an unknown retry option or a bad value */
export function checkRetryOptions(options: RetryOptions): void {
  checkOptions(options, RETRY);
}

/** @throws InvalidArgumentError for an unknown `acquire()` option or a bad value */
export function checkAcquireOptions(options: AcquireOptions): void {
  checkOptions(options, ACQUIRE);
}

/** @throws InvalidArgumentError for an unknown `pool.request()` option or a bad value */
export function checkRequestOptions(options: RequestOptions): void {
  checkOptions(options, REQUEST);
}

/** @throws InvalidArgumentError for an unknown option of a lease's `request()` or a bad value */
export function checkExchangeOptions(options: ConnectionRequestOptions): void {
  checkOptions(options, EXCHANGE);
}

/** @throws InvalidArgumentError for an unknown `agent.request()` option or a bad value */
export function checkAgentRequestOptions(options: AgentRequestOptions): void {
  checkOptions(options, AGENT_REQUEST);
}

/** The rules that tie options together (each value is already of its kind). */
function checkCombinations(options: PoolOptions | AgentOptions): void {
  if (options.socketPath !== undefined) {
    if (options.proxy !== undefined) {
      throw new InvalidArgumentError('socketPath and proxy cannot be used together');
    }
    if (options.lookup !== undefined || options.localAddress !== undefined) {
      throw new InvalidArgumentError(
        'socketPath is not looked up or bound: no lookup or localAddress',
      );
    }
  }
}

/** @throws InvalidArgumentError unless `timeout` is undefined, a number >= 0, or Infinity */
export function checkCloseTimeout(timeout: unknown): asserts timeout is number | undefined {
  if (timeout === undefined) return;
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidArgumentError('close timeout must be a non-negative number of ms');
  }
}

/**
 * A `proxy` option (checked by kind already) as the pool takes it: a URL parsed, a
 * {@link ProxyConfig} as it is, undefined for none.
 *
 * @throws ProxyError or InvalidArgumentError for a URL that is not a usable proxy
 */
export function resolveProxy(
  proxy: string | URL | ProxyConfig | undefined,
): ProxyConfig | undefined {
  if (proxy === undefined) return undefined;
  return typeof proxy === 'string' || proxy instanceof URL ? parseProxy(proxy) : proxy;
}
