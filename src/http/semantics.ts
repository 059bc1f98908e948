/**
 * HTTP semantics every protocol shares (RFC 9110), each rule in one place: which requests
 * may be repeated, and which bodies can be sent a second time.
 */

import { hasHeader } from './header-pairs.js';
import type { HeadersInput, RequestBody } from './options.js';

/** Methods whose requests may be replayed when the first attempt provably reached no server logic. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * @internal Header fields (lower-case) by which a caller marks a request safe to repeat: the
 * IETF draft's `Idempotency-Key` and the older `X-Idempotency-Key`. The HTTP/1 serializer
 * recognises the same two names.
 */
export const IDEMPOTENCY_KEY_FIELDS: readonly string[] = ['idempotency-key', 'x-idempotency-key'];

/** @internal True for the methods RFC 9110 §9.2.2 calls idempotent (upper-case, as sent). */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method);
}

/** @internal True when the request carries an idempotency key (either name). */
export function hasIdempotencyKey(headers: HeadersInput | undefined): boolean {
  return IDEMPOTENCY_KEY_FIELDS.some((field) => hasHeader(headers, field));
}

/**
 * @internal Whether sending a request twice means what sending it once does: an idempotent
 * method (given upper-case), or a request that carries an idempotency key.
 */
export function mayRepeat(method: string, headers: HeadersInput | undefined): boolean {
  return isIdempotentMethod(method) || hasIdempotencyKey(headers);
}

/** @internal True for a body that can be sent again: none, a string or bytes (a stream is consumed). */
export function isReplayableBody(body: RequestBody | undefined): boolean {
  return (
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
  );
}
