import { SocketError } from '../errors.js';
import type { ExchangeOptions } from '../http/options.js';
import { isReplayableBody, mayRepeat } from '../http/semantics.js';
import { standardMethod } from '../http1/serializer.js';

/**
 * Whether a request that failed on a reused connection may be sent once more on another
 * connection without the caller asking (Go's `shouldRetryRequest`, narrowed). It reads only
 * the request and the error, which the connection classified where the failure happened:
 * - the failure is the socket closing or resetting (the server dropped a kept-alive
 *   connection), not a timeout, an abort or a bad response;
 * - the error says no byte of a response arrived (`responseStarted: false`), so the server
 *   cannot have answered it; a socket error that does not say is never replayed;
 * - the method is idempotent (RFC 9110 §9.2.2) or the request carries an idempotency key
 *   (`Idempotency-Key` or `X-Idempotency-Key`);
 * - the body can be sent again: none, a string or bytes (a stream is consumed).
 *
 * An error that says the server did not process the request at all (`unprocessed`: an
 * HTTP/2 stream refused, or above a GOAWAY's last id, RFC 9113 §8.7) may go again whatever
 * its method.
 */
export function canReplay(options: ExchangeOptions, error: unknown): boolean {
  if (!(error instanceof SocketError) || error.responseStarted !== false) return false;
  // The server said it did not process it (HTTP/2): any method, if the body can go again.
  if (error.unprocessed === true) return isReplayableBody(options.body);
  return (
    isReplayableBody(options.body) && mayRepeat(standardMethod(options.method), options.headers)
  );
}
