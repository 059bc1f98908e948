import { InvalidArgumentError } from '../errors.js';
import { checkRetryOptions } from './options.js';

/**
 * When to send a request again after a failure or a retryable status. Off unless asked for;
 * the stale-connection replay of {@link ConnectionPool.request} is separate and always on.
 */
export interface RetryOptions {
  /** Retries after the first attempt. Default 2. */
  limit?: number;
  /** Methods that may be retried. Default the idempotent ones: GET, HEAD, OPTIONS, TRACE, PUT, DELETE. */
  methods?: readonly string[];
  /** Response statuses that are retried. Default 408, 429, 500, 502, 503, 504. */
  statusCodes?: readonly number[];
  /** Error codes that are retried. Default ERR_SOCKET, ERR_CONNECT_TIMEOUT, ERR_HEADERS_TIMEOUT. */
  errorCodes?: readonly string[];
  /** Backoff before the first retry, in ms; doubles with each retry. Default 100. */
  minDelay?: number;
  /** Longest wait between attempts, Retry-After included, in ms. Default 30 000. */
  maxDelay?: number;
}

/** {@link RetryOptions} with every default filled in. */
export interface RetryPolicy {
  readonly limit: number;
  readonly methods: ReadonlySet<string>;
  readonly statusCodes: ReadonlySet<number>;
  readonly errorCodes: ReadonlySet<string>;
  readonly minDelay: number;
  readonly maxDelay: number;
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'];
const DEFAULT_STATUSES = [408, 429, 500, 502, 503, 504];
const DEFAULT_ERROR_CODES = ['ERR_SOCKET', 'ERR_CONNECT_TIMEOUT', 'ERR_HEADERS_TIMEOUT'];

/**
 * Fills in defaults and checks the values. `true` means every default; a number is the limit.
 *
 * @throws InvalidArgumentError for a bad value
 */
export function resolveRetryPolicy(
  options: RetryOptions | number | boolean,
): RetryPolicy | undefined {
  if (options === false) return undefined;
  const given: RetryOptions =
    options === true ? {} : typeof options === 'number' ? { limit: options } : options;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new InvalidArgumentError('retry must be a boolean, a number or an options object');
  }
  // Every name known, every value of its kind (a number given alone is checked as the limit).
  checkRetryOptions(given);
  const limit = given.limit ?? 2;
  const minDelay = given.minDelay ?? 100;
  const maxDelay = given.maxDelay ?? 30_000;
  if (limit === 0) return undefined;
  return {
    limit,
    methods: new Set((given.methods ?? DEFAULT_METHODS).map((m) => m.toUpperCase())),
    statusCodes: new Set(given.statusCodes ?? DEFAULT_STATUSES),
    errorCodes: new Set(given.errorCodes ?? DEFAULT_ERROR_CODES),
    minDelay,
    maxDelay: Math.max(minDelay, maxDelay),
  };
}

/**
 * Milliseconds to wait before retry number `retry` (1 for the first): exponential backoff
 * with "equal jitter" (half fixed, half random), so clients that failed together do not
 * come back together. A server's Retry-After wins when present, capped by `maxDelay`.
 */
export function retryDelay(
  policy: RetryPolicy,
  retry: number,
  retryAfter: string | null,
  now: number = Date.now(),
  random: () => number = Math.random,
): number {
  const asked = retryAfter === null ? undefined : parseRetryAfter(retryAfter, now);
  if (asked !== undefined) return Math.min(asked, policy.maxDelay);
  const base = Math.min(policy.maxDelay, policy.minDelay * 2 ** (retry - 1));
  return base / 2 + random() * (base / 2);
}

/**
 * Reads Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns ms from
 * `now`, or undefined when the value is neither.
 */
export function parseRetryAfter(value: string, now: number = Date.now()): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
