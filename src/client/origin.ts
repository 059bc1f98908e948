import { InvalidArgumentError } from '../errors.js';

/** A parsed `scheme://host:port`: what a pool connects to. */
export interface Origin {
  /** `http:` or `https:`. */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP address, without IPv6 brackets (what `net.connect` takes). */
  readonly hostname: string;
  /** Port number, the scheme's default filled in. */
  readonly port: number;
  /** Canonical form, e.g. `http://127.0.0.1:8080` (default ports omitted, as URL does). */
  readonly origin: string;
  /** The Host header value: host, with the port unless it is the scheme's default. */
  readonly host: string;
}

/**
 * Parses and checks an origin. Only `http:` and `https:` are accepted; a path other than `/`,
 * a query, a fragment or credentials are refused, since a pool serves a whole origin.
 */
export function parseOrigin(input: string | URL): Origin {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : new URL(input.href);
  } catch {
    throw new InvalidArgumentError('origin must be an absolute http: or https: URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`unsupported protocol ${url.protocol} (http: or https: only)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('origin must not carry credentials');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError('origin must not have a path, query or fragment');
  }
  if (url.hostname === '') throw new InvalidArgumentError('origin has no host');
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const hostname =
    url.hostname.startsWith('[') && url.hostname.endsWith(']')
      ? url.hostname.slice(1, -1)
      : url.hostname;
  return { protocol: url.protocol, hostname, port, origin: url.origin, host: url.host };
}
