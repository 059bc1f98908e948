import type { LookupFunction } from 'node:net';

/** How a connection reaches a host over TCP, beyond its name and port. */
export interface Routing {
  /** Resolves host names instead of `dns.lookup` (a cache, a pin). */
  lookup?: LookupFunction | undefined;
  /** The local address to connect from. */
  localAddress?: string | undefined;
}

/** The `net.connect` / `tls.connect` options for `options`: only those given (exact optional types). */
export function routing(options: Routing): { lookup?: LookupFunction; localAddress?: string } {
  const out: { lookup?: LookupFunction; localAddress?: string } = {};
  if (options.lookup !== undefined) out.lookup = options.lookup;
  if (options.localAddress !== undefined) out.localAddress = options.localAddress;
  return out;
}
