import { HttpoolError } from '../errors.js';
import type { HeaderPairs } from '../http/header-pairs.js';

/** A redirect that cannot or must not be followed: too many, a refused scheme, or `redirect: 'error'`. */
export class RedirectError extends HttpoolError {
  /** The status of the redirect response. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message, 'ERR_REDIRECT');
    this.status = status;
  }
}

/** Statuses that redirect with a Location (RFC 9110 §15.4). */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Fields that travel with a body and go when the body goes (Fetch, "request-body-header name"). */
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'transfer-encoding',
]);

/**
 * Credentials that must not follow a redirect to another origin: the advisories in
 * undici, urllib3, requests and Go all came from leaving one of these out.
 */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** True for 301, 302, 303, 307 and 308. */
export function isRedirectStatus(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** One hop of a redirect chain: where to go next and what to send. */
export interface RedirectHop {
  readonly url: URL;
  readonly method: string;
  readonly headers: HeaderPairs;
  /** False when the body must be dropped (the method became GET). */
  readonly keepBody: boolean;
}

/**
 * Works out the next request of a redirect chain (Fetch §4.4 "HTTP-redirect fetch",
 * RFC 9110 §15.4):
 * - 303 turns any method but HEAD into GET; 301 and 302 turn POST into GET; the body and
 *   its header fields go with the change;
 * - 307 and 308 keep the method and the body;
 * - a hop to another origin (scheme, host or port) drops Authorization, Cookie and
 *   Proxy-Authorization, and since the next hop starts from these headers they stay dropped;
 * - a Host given by the caller is dropped: it named the old server;
 * - a Location that is not an http: or https: URL, or one with credentials (`user:pw@`), is
 *   refused with {@link RedirectError}.
 *
 * Returns undefined when the response has no usable Location (it is then the final answer).
 */
export function nextHop(
  status: number,
  location: string | null,
  current: URL,
  method: string,
  headers: HeaderPairs,
): RedirectHop | undefined {
  if (!isRedirectStatus(status) || location === null) return undefined;
  let url: URL;
  try {
    url = new URL(location, current);
  } catch {
    throw new RedirectError('the redirect Location is not a valid URL', status);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RedirectError(`refusing to follow a redirect to ${url.protocol}`, status);
  }
  if (url.username !== '' || url.password !== '') {
    // Followed, they would be dropped without a word (a URL given directly is refused the same
    // way); sent, they would go wherever a server pointed. Neither is what the caller asked.
    throw new RedirectError('refusing to follow a redirect to a URL with credentials', status);
  }
  url.hash = '';
  let nextMethod = method;
  if (
    (status === 303 && method !== 'HEAD') ||
    ((status === 301 || status === 302) && method === 'POST')
  ) {
    nextMethod = 'GET';
  }
  const keepBody = nextMethod === method;
  const crossOrigin = url.origin !== current.origin;
  const next: HeaderPairs = [];
  for (const pair of headers) {
    const name = pair[0].toLowerCase();
    if (name === 'host') continue;
    if (crossOrigin && CREDENTIAL_HEADERS.has(name)) continue;
    if (!keepBody && BODY_HEADERS.has(name)) continue;
    next.push(pair);
  }
  return { url, method: nextMethod, headers: next, keepBody };
}

/** What {@link checkHop} says of a hop that would send again a body that is gone. */
export const BODY_SPENT = 'body-spent';

/**
 * The rules a redirect chain applies to a hop {@link nextHop} found, the same for
 * `agent.request()` and `fetch()`, in this order:
 * - under `redirect: 'error'` any redirect is a {@link RedirectError};
 * - once `redirects` (followed so far) has reached `maxRedirections`, so is the next one;
 * - a hop that keeps the body when the body cannot be sent again (`bodySpent`: a stream,
 *   already read) is {@link BODY_SPENT}, which each client answers its own way: the Agent
 *   returns the redirect itself, fetch() fails, as the Fetch standard says (§4.4, step 11).
 *
 * Returns undefined when the hop may be taken. Refusals are returned, not thrown: what the
 * caller does with the redirect's own body first is its business.
 */
export function checkHop(
  hop: RedirectHop,
  status: number,
  mode: 'follow' | 'error',
  redirects: number,
  maxRedirections: number,
  bodySpent: boolean,
): RedirectError | typeof BODY_SPENT | undefined {
  if (mode === 'error') return new RedirectError('redirected while redirect is "error"', status);
  if (redirects >= maxRedirections) {
    return new RedirectError(`more than ${maxRedirections} redirects`, status);
  }
  if (hop.keepBody && bodySpent) return BODY_SPENT;
  return undefined;
}
