import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/** How a connection reaches a host over TCP, beyond its name and port. */
export interface Routing {
  /** Resolves host names instead of `dns.lookup` (a cache, a pin). */
  lookup?: LookupFunction | undefined;
  /** The local address to connect from. */
  localAddress?: string | undefined;
}

/** What `net.connect` / `tls.connect` take for a {@link Routing}. */
interface ConnectRouting {
  lookup?: LookupFunction;
  localAddress?: string;
  family?: number;
}

/** The `net.connect` / `tls.connect` options for `options`: only those given (exact optional types). */
export function routing(options: Routing): ConnectRouting {
  const out: ConnectRouting = {};
  if (options.lookup !== undefined) out.lookup = forgivingLookup(options.lookup);
  if (options.localAddress !== undefined) {
    out.localAddress = options.localAddress;
    // Node looks the name up for any family when a local address is set; an address of the
    // other family could not be reached from it.
    out.family = isIP(options.localAddress);
  }
  return out;
}

type Callback = (error: Error | null, address?: string | LookupAddress[], family?: number) => void;

/**
 * `lookup` as `net.connect` needs it whatever the caller's function does: Node asks for every
 * address (`all: true`, for happy eyeballs) and fails obscurely on a single one, crashes on an
 * empty list, and lets a synchronous throw escape. Here one address becomes a list (or a list
 * its first entry, as asked), nothing found is ENOTFOUND, a throw is an error, and only the
 * first answer counts.
 */
function forgivingLookup(lookup: LookupFunction): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: Callback) => {
    let answered = false;
    const answer: Callback = (error, address, family) => {
      if (answered) return;
      answered = true;
      if (error) {
        callback(error);
        return;
      }
      const list: LookupAddress[] = Array.isArray(address)
        ? address
        : typeof address === 'string'
          ? [{ address, family: family ?? isIP(address) }]
          : [];
      const first = list[0];
      if (first === undefined) {
        callback(
          Object.assign(new Error(`lookup found no address for ${hostname}`), {
            code: 'ENOTFOUND',
          }),
        );
      } else if (options.all === true) callback(null, list);
      else callback(null, first.address, first.family);
    };
    try {
      (lookup as unknown as (h: string, o: object, c: Callback) => void)(hostname, options, answer);
    } catch (error) {
      answer(error instanceof Error ? error : new Error(String(error)));
    }
  }) as unknown as LookupFunction;
}
