/**
 * Connecting to a host name that has several addresses: the addresses come from a source (a DNS
 * cache, in the order it wants them tried), and are raced by Happy Eyeballs (RFC 8305 §5): one
 * attempt starts, the next after a delay or as soon as one fails, the first to connect wins and
 * the others are closed. The lookup and every attempt share one connect-timeout budget.
 */
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { systemClock, type Timer } from '../clock.js';
import { abortReason, ConnectTimeoutError, SocketError } from '../errors.js';
import {
  type Dialed,
  type DialOptions,
  type DialTarget,
  dial,
  serverName,
  withinTimeout,
} from './dial.js';

/** Where the addresses of a host name come from, and where failed attempts are reported. */
export interface AddressSource {
  /**
   * The addresses to try for `hostname`, in the order to try them: at once when they are at
   * hand (a cache hit), else a promise that rejects when there are none (the lookup's error).
   */
  addresses(hostname: string): readonly LookupAddress[] | Promise<readonly LookupAddress[]>;
  /** An attempt to `address` failed (not one closed because another won). */
  failed?(address: string): void;
  /** ms before the next attempt starts while one is still connecting; RFC 8305's 250 by default. */
  readonly attemptDelay?: number | undefined;
}

/** RFC 8305 §5's recommended Connection Attempt Delay. */
export const DEFAULT_ATTEMPT_DELAY = 250;

/** Opens one connection to one address; {@link dial} by default (tests pass a fake one). */
export type Attempt = (target: DialTarget, options: DialOptions) => Promise<Dialed>;

/**
 * Looks `target.hostname` up through `source` and connects to the first of its addresses that
 * answers (see {@link dialFirst}). `options.timeout` bounds the lookup and the attempts
 * together. A failed lookup rejects with SocketError (`${what} failed: ...`, its cause the
 * lookup's error), as a failed lookup inside `net.connect` does.
 */
export async function dialResolved(
  target: DialTarget,
  source: AddressSource,
  options: DialOptions,
  attempt: Attempt = dial,
): Promise<Dialed> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const budget = options.budget ?? options.timeout;
  let addresses: readonly LookupAddress[];
  try {
    const found = source.addresses(target.hostname);
    // At hand (a cache hit): no wait to bound.
    addresses = Array.isArray(found)
      ? found
      : await withinTimeout(found as Promise<readonly LookupAddress[]>, options, clock);
  } catch (error) {
    if (error instanceof ConnectTimeoutError || error === options.signal?.reason) throw error;
    const cause = error instanceof Error ? error : new Error(String(error));
    throw new SocketError(`${options.what} failed: ${cause.message}`, { cause });
  }
  const left = options.timeout - (clock.now() - started);
  if (left <= 0) throw new ConnectTimeoutError(budget);
  // From a local address only its own family can be reached.
  const from = options.localAddress === undefined ? 0 : isIP(options.localAddress);
  if (from !== 0) addresses = addresses.filter((a) => a.family === from);
  return dialFirst(
    target,
    addresses,
    { ...options, timeout: left, budget },
    source.attemptDelay ?? DEFAULT_ATTEMPT_DELAY,
    (address) => source.failed?.(address),
    attempt,
  );
}

/** One connection attempt of a race, and how to call it off. */
interface Racer {
  readonly address: string;
  readonly controller: AbortController;
}

/**
 * Connects to the first of `addresses` (tried in the order given) that answers, by Happy
 * Eyeballs: an attempt starts, then the next one `attemptDelay` ms later, or at once when one
 * fails (refused, unreachable); the first connection made wins and every other attempt is
 * closed. The TLS server name stays the host name's. `options.timeout` bounds the whole race.
 *
 * Rejects with ConnectTimeoutError, the signal's reason, the one attempt's error when there was
 * one address, or a SocketError listing every address's failure (its cause the first's).
 */
export function dialFirst(
  target: DialTarget,
  addresses: readonly LookupAddress[],
  options: DialOptions,
  attemptDelay: number,
  onFailed: (address: string) => void = () => {},
  attempt: Attempt = dial,
): Promise<Dialed> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const clock = options.clock ?? systemClock;
  const servername = target.servername ?? options.tls?.servername ?? serverName(target.hostname);
  const only = addresses.length === 1 ? addresses[0] : undefined;
  if (only !== undefined) {
    // Nothing to race: one plain dial, its own timer and signal (the common case, kept cheap).
    return attempt({ ...target, hostname: only.address, servername }, options).catch(
      (error: unknown) => {
        if (error !== signal?.reason && !(error instanceof ConnectTimeoutError)) {
          onFailed(only.address);
        }
        throw error;
      },
    );
  }
  return new Promise<Dialed>((resolve, reject) => {
    const racing = new Set<Racer>();
    const failures: Array<{ address: string; error: Error }> = [];
    let next = 0;
    let phase: 'racing' | 'settled' = 'racing';
    let stagger: Timer | undefined;
    const settle = (): void => {
      phase = 'settled';
      stagger?.cancel();
      deadline.cancel();
      signal?.removeEventListener('abort', onAbort);
      // The losers: their sockets are destroyed by their own dial.
      for (const racer of racing) racer.controller.abort(new Error('another address answered'));
      racing.clear();
    };
    const fail = (error: Error): void => {
      settle();
      reject(error);
    };
    const onAbort = (): void => fail(abortReason(signal!));
    const start = (): void => {
      stagger?.cancel();
      stagger = undefined;
      const entry = addresses[next++];
      if (entry === undefined) return;
      const racer: Racer = { address: entry.address, controller: new AbortController() };
      racing.add(racer);
      attempt(
        { ...target, hostname: entry.address, servername },
        // The race's own timer bounds every attempt.
        {
          ...options,
          timeout: Number.POSITIVE_INFINITY,
          signal: racer.controller.signal,
        },
      ).then(
        (dialed) => {
          racing.delete(racer);
          if (phase === 'settled') {
            dialed.socket.destroy();
            return;
          }
          settle();
          resolve(dialed);
        },
        (error: unknown) => {
          racing.delete(racer);
          if (phase === 'settled') return;
          failures.push({
            address: entry.address,
            error: error instanceof Error ? error : new Error(String(error)),
          });
          onFailed(entry.address);
          if (next < addresses.length) start();
          else if (racing.size === 0) fail(allFailed(options.what, failures));
        },
      );
      if (next < addresses.length) stagger = clock.schedule(start, attemptDelay);
    };
    const deadline = clock.schedule(
      () => fail(new ConnectTimeoutError(options.budget ?? options.timeout)),
      options.timeout,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    if (addresses.length === 0) {
      fail(new SocketError(`${options.what} failed: no address for ${target.hostname}`));
      return;
    }
    start();
  });
}

/** The error of a race that every address lost. */
function allFailed(what: string, failures: Array<{ address: string; error: Error }>): Error {
  const [first] = failures;
  if (failures.length === 1) return first!.error;
  const each = failures
    .map(({ address, error }) => {
      const cause = (error as { cause?: unknown }).cause;
      const message = cause instanceof Error ? cause.message : error.message;
      // Node's messages name the address already ("connect ECONNREFUSED 127.0.0.2:80").
      return message.includes(address) ? message : `${address}: ${message}`;
    })
    .join('; ');
  return new SocketError(`${what} failed on every address (${each})`, {
    cause: (first!.error as { cause?: unknown }).cause ?? first!.error,
  });
}
