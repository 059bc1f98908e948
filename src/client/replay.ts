import { SocketError } from '../errors.js';
import type { ExchangeOptions } from '../http/options.js';
import { isReplayableBody, mayRepeat } from '../http/semantics.js';
import { standardMethod } from '../http1/serializer.js';

/** What the replay rule needs to know about the connection the request failed on. */
export interface FailedOn {
  /** True when at least one response byte had arrived. */
  readonly responseStarted: boolean;
}

/**
 * Whether a request that failed on a reused connection may be sent once more on another
 * connection without the caller asking (Go's `shouldRetryRequest`, narrowed):
 * - the failure is the socket closing or resetting (the server dropped a kept-alive
 *   connection), not a timeout, an abort or a bad response;
 * - no byte of a response arrived, so the server cannot have answered it;
 * - the method is idempotent (RFC 9110 §9.2.2) or the request carries an idempotency key
 *   (`Idempotency-Key` or `X-Idempotency-Key`);
 * - the body can be sent again: none, a string or bytes (a stream is consumed).
 */
export function canReplay(options: ExchangeOptions, failedOn: FailedOn, error: unknown): boolean {
  if (!(error instanceof SocketError) || failedOn.responseStarted) return false;
  return (
    isReplayableBody(options.body) && mayRepeat(standardMethod(options.method), options.headers)
  );
}
