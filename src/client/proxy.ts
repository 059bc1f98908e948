/**
 * Forward-proxy configuration: parsing a proxy URL, the curl-compatible `*_proxy` / `no_proxy`
 * environment lookup, and the absolute-form request target used for plain `http:` targets
 * (RFC 9112 §3.2.2). The CONNECT tunnel for `https:` targets (RFC 9110 §9.3.6) is opened by
 * connector.ts and spoken by src/http1/tunnel.ts.
 *
 * Credentials in a proxy URL become a `Proxy-Authorization` header meant for the proxy alone:
 * on the CONNECT request for tunnelled targets, on each forwarded request for plain ones, and
 * never inside a tunnel, where the origin server would read it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { type Origin, parseOrigin } from './origin.js';

/** A parsed proxy: where to connect and what to tell it. */
export interface ProxyConfig {
  /** The proxy's own origin: `http:`, or `https:` for TLS to the proxy itself. */
  readonly origin: Origin;
  /**
   * `Basic base64(user:pass)` from the URL's percent-decoded credentials, for the
   * `Proxy-Authorization` header. Sent to the proxy only, never to an origin server.
   */
  readonly authorization?: string;
  /**
   * The proxy's identity for pool keys: its origin plus a keyed fingerprint of the credentials.
   * Two configs with the same key may share connections; the raw password never appears in it,
   * so the key is safe to log and to show in `stats()`.
   */
  readonly key: string;
}

// The tunnel (src/http1/tunnel.ts) raises it, so it lives with the other errors; it is named
// here too, where proxies are configured.
export { ProxyError } from '../errors.js';

/**
 * Per-process secret for credential fingerprints. Keyed, so a fingerprint seen in a log cannot
 * be tested offline against guessed passwords; the key only has to be stable for the life of
 * the process, since pool keys never outlive it.
 */
const fingerprintSecret = randomBytes(32);

function fingerprint(authorization: string): string {
  return createHmac('sha256', fingerprintSecret).update(authorization).digest('hex').slice(0, 16);
}

function decodeCredential(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    // The raw text is not shown: it is (part of) a secret.
    throw new InvalidArgumentError(`proxy URL ${what} is not valid percent-encoding`);
  }
}

/**
 * Parses a proxy URL such as `http://user:p%40ss@proxy.internal:3128`.
 *
 * `http:` and `https:` proxies are accepted (with `https:`, the connection to the proxy is TLS,
 * verified like any other, and a tunnel to an `https:` origin carries TLS inside TLS); SOCKS and
 * every other scheme are refused with InvalidArgumentError. A missing port means 80 (443 for
 * `https:`), as the URL standard says (curl assumes 1080).
 * Credentials are percent-decoded and turned into a Basic `Proxy-Authorization` value
 * (RFC 7617); a user name containing `:` is refused, since Basic could not carry it.
 *
 * @throws InvalidArgumentError for anything else; the message never repeats the URL, which may
 * hold a password.
 */
export function parseProxy(url: string | URL): ProxyConfig {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    throw new InvalidArgumentError('proxy must be an absolute http: or https: URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(
      `unsupported proxy protocol ${parsed.protocol} (http: and https: only)`,
    );
  }
  if (
    (parsed.pathname !== '/' && parsed.pathname !== '') ||
    parsed.search !== '' ||
    parsed.hash !== ''
  ) {
    throw new InvalidArgumentError('proxy URL must not have a path, query or fragment');
  }
  if (parsed.hostname === '') throw new InvalidArgumentError('proxy URL has no host');
  // Rebuilt from scheme and host alone: parseOrigin refuses credentials, and they must not
  // reach the origin (which ends up in pool keys, stats and error messages) anyway.
  const origin = parseOrigin(`${parsed.protocol}//${parsed.host}`);
  if (parsed.username === '' && parsed.password === '') {
    return { origin, key: origin.origin };
  }
  const user = decodeCredential(parsed.username, 'user name');
  const password = decodeCredential(parsed.password, 'password');
  if (user.includes(':')) {
    throw new InvalidArgumentError('proxy user name must not contain ":" (Basic cannot carry it)');
  }
  const authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  return { origin, authorization, key: `${origin.origin}#${fingerprint(authorization)}` };
}

/** Lower-case then upper-case, the first non-empty one (curl treats an empty value as unset). */
function lookup(env: NodeJS.ProcessEnv, lower: string, upper?: string): string | undefined {
  const a = env[lower]?.trim();
  if (a !== undefined && a !== '') return a;
  if (upper === undefined) return undefined;
  const b = env[upper]?.trim();
  return b !== undefined && b !== '' ? b : undefined;
}

/** Host name without IPv6 brackets or a trailing dot, lower-cased. */
function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Splits `host`, `host:port`, `[v6]`, `[v6]:port`; a bare IPv6 address has no port. */
function splitHostPort(entry: string): { host: string; port: number | undefined } {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) return { host: entry, port: undefined };
    const rest = entry.slice(close + 1);
    const port = /^:(\d{1,5})$/.exec(rest)?.[1];
    return { host: entry.slice(1, close), port: port === undefined ? undefined : Number(port) };
  }
  const colon = entry.lastIndexOf(':');
  // More than one colon and no brackets: a bare IPv6 address (possibly with /prefix).
  if (colon < 0 || entry.indexOf(':') !== colon) return { host: entry, port: undefined };
  const port = entry.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port)) return { host: entry, port: undefined };
  return { host: entry.slice(0, colon), port: Number(port) };
}

/**
 * True when `no_proxy` says `hostname:port` must be reached directly. The rules are curl's
 * (lib/noproxy.c and the `--noproxy` documentation), with two extensions:
 *
 * - Entries are separated by commas and/or white space; empty entries are skipped.
 * - `*` as the whole value matches every host. (Extension: `*` as one entry of a list does too,
 *   as in Go; curl would ignore it there.)
 * - A name matches itself and every subdomain: `example.com` matches `example.com` and
 *   `a.b.example.com` but not `badexample.com`. A leading dot is dropped, so `.example.com`
 *   matches exactly the same hosts (the apex included), as in curl. Case and a trailing dot
 *   are ignored.
 * - When the target is an IP address, only IP entries match it: an exact address or a CIDR
 *   range (`10.0.0.0/8`, `fd00::/8`). Names are never resolved, so `localhost` does not match
 *   `127.0.0.1`, and loopback is not exempt unless listed (curl's behaviour; Go exempts it).
 * - Extension (Go's rule; curl ignores ports here): `host:port` or `[v6]:port` matches only
 *   that port; an entry without a port matches every port.
 */
function bypassesProxy(noProxy: string, hostname: string, port: number): boolean {
  const host = normalizeHost(hostname);
  const family = isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') return true;
    const { host: entryHost, port: entryPort } = splitHostPort(raw);
    if (entryPort !== undefined && entryPort !== port) continue;
    if (family !== 0) {
      if (ipMatches(entryHost, host, family)) return true;
      continue;
    }
    let name = normalizeHost(entryHost);
    if (name.startsWith('.')) name = name.slice(1);
    if (name === '' || isIP(name) !== 0 || name.includes('/')) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

function ipMatches(entry: string, host: string, family: number): boolean {
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  if (isIP(address) !== family) return false;
  const list = new BlockList();
  if (slash < 0) {
    list.addAddress(address, type);
  } else {
    const bits = entry.slice(slash + 1);
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return false;
    list.addSubnet(address, prefix, type);
  }
  return list.check(host, type);
}

/**
 * The proxy the environment asks for when reaching `target`, as curl reads it, or `undefined`
 * for a direct connection.
 *
 * - `https:` targets: `https_proxy`, else `HTTPS_PROXY` (the lower-case name wins when both
 *   are set).
 * - `http:` targets: `http_proxy` only. The upper-case `HTTP_PROXY` is ignored on purpose, as
 *   curl does: a CGI program gets the request's `Proxy:` header as `HTTP_PROXY`, so honouring
 *   it would let any client pick the proxy ("httpoxy", CVE-2016-5385).
 * - `no_proxy`, else `NO_PROXY`, lists hosts reached directly: a name and its subdomains
 *   (`.name` alike), `host:port`, IP addresses and CIDR ranges, or `*` for every host.
 * - An empty (or all-blank) value counts as unset. A value without a scheme is taken as
 *   `http://value`, as curl does.
 * - `all_proxy` / `ALL_PROXY` are not read: they usually name a SOCKS proxy, which httpool
 *   does not speak, and failing every request over it would be worse than going direct.
 *
 * @param env the environment to read; `process.env` by default.
 * @throws InvalidArgumentError when the chosen variable holds an unusable proxy URL; the
 * message names the variable, never its value (which may carry a password). Failing loudly
 * beats silently going direct when a proxy was asked for.
 */
export function proxyForUrl(
  target: URL | Origin,
  env: NodeJS.ProcessEnv = process.env,
): ProxyConfig | undefined {
  const protocol = target.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') return undefined;
  const hostname = target.hostname;
  const port =
    target instanceof URL
      ? target.port === ''
        ? protocol === 'https:'
          ? 443
          : 80
        : Number(target.port)
      : target.port;
  const name = protocol === 'https:' ? 'https_proxy' : 'http_proxy';
  const value =
    protocol === 'https:' ? lookup(env, 'https_proxy', 'HTTPS_PROXY') : lookup(env, 'http_proxy');
  if (value === undefined) return undefined;
  const noProxy = lookup(env, 'no_proxy', 'NO_PROXY');
  if (noProxy !== undefined && bypassesProxy(noProxy, hostname, port)) return undefined;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return parseProxy(url);
  } catch (error) {
    const why = error instanceof InvalidArgumentError ? `: ${error.message}` : '';
    throw new InvalidArgumentError(`the ${name} environment variable is not usable${why}`);
  }
}

/**
 * The absolute-form request target (RFC 9112 §3.2.2) a client sends to a forward proxy for a
 * plain `http:` target: `http://host:port/path`. The port is always written, so the proxy
 * never has to guess a default.
 *
 * - An origin-form `path` (`/...`) is appended as is; `//other/x` stays a path on `target`.
 * - `*` (OPTIONS) becomes `http://host:port` with an empty path (RFC 9112 §3.2.4).
 * - An absolute `http(s)://` path is accepted only when it names `target` itself: the proxy
 *   routes on this URL, so another origin here would send the request (and its credentials)
 *   somewhere the pool was never asked to go.
 *
 * @throws InvalidArgumentError for any other path, or an absolute one naming another origin.
 */
export function absoluteTarget(target: Origin, path: string): string {
  const host = isIP(target.hostname) === 6 ? `[${target.hostname}]` : target.hostname;
  const base = `${target.protocol}//${host}:${target.port}`;
  if (path === '*') return base;
  if (path.startsWith('/')) return `${base}${path}`;
  if (/^https?:\/\//i.test(path)) {
    let url: URL;
    try {
      url = new URL(path);
    } catch {
      throw new InvalidArgumentError('the request path is not a valid absolute URL');
    }
    if (url.origin !== new URL(target.origin).origin) {
      throw new InvalidArgumentError("an absolute request path must name the pool's own origin");
    }
    return `${base}${url.pathname}${url.search}`;
  }
  throw new InvalidArgumentError(
    'the request path must start with "/", be "*", or be an absolute http(s) URL',
  );
}
