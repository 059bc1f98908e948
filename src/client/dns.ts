/**
 * Host names to addresses for an Agent's pools: one cache shared by every pool (record
 * TTLs honoured, bounded, least recently used out first, failures kept briefly, one lookup per
 * name at a time), and per pool the order its new connections try the addresses in (turn by
 * turn, an address that just failed last) and the watch that retires connections to an address
 * once the name no longer resolves to it.
 */
import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { Clock, Timer } from '../clock.js';
import type { AddressSource } from '../net/eyeballs.js';
import { debug } from './diagnostics.js';

/** An address record with its TTL in seconds, as `resolve4(name, { ttl: true })` gives it. */
export interface AddressRecord {
  readonly address: string;
  readonly ttl: number;
}

/**
 * What the DNS cache asks names of: `node:dns`'s promises API by default. Tests pass a fake one.
 * `resolve4`/`resolve6` ask DNS servers (and give TTLs); `lookup` asks the system as
 * `dns.lookup` does (`/etc/hosts`, `localhost`), for names those cannot answer.
 */
export interface DnsResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<readonly AddressRecord[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<readonly AddressRecord[]>;
  lookup(hostname: string, options: { all: true }): Promise<readonly LookupAddress[]>;
}

/** Settings of an Agent's DNS cache (`dns` option). Every time is in milliseconds. */
export interface DnsOptions {
  /**
   * Longest an answer is kept: a record's shorter TTL is honoured, and an answer from the
   * system's lookup (which has no TTL) is kept this long. Default 30 000.
   */
  ttl?: number | undefined;
  /** Shortest an answer is kept, whatever its records say (a TTL of 0 would mean a lookup per connection). Default 1000. */
  minTtl?: number | undefined;
  /** How long a failed lookup is remembered, failing connects to that name at once. Default 1000. */
  negativeTtl?: number | undefined;
  /** Names kept at once; the least recently used goes beyond it. Default 10 000. */
  maxEntries?: number | undefined;
  /** ms between Happy Eyeballs connection attempts (RFC 8305 §5). Default 250. */
  attemptDelay?: number | undefined;
  /** ms an address whose connect failed is tried after the others. Default 30 000. */
  failurePenalty?: number | undefined;
  /** Answers names instead of `node:dns` (tests pass a fake one). */
  resolver?: DnsResolver | undefined;
}

/** A snapshot of an Agent's DNS cache. */
export interface DnsStats {
  /** Lookups made (each name's, coalesced: concurrent connects to a new name make one). */
  lookups: number;
  /** Addresses asked for and answered from the cache. */
  hits: number;
  /** Addresses asked for while a lookup of the name was already running (no lookup of their own). */
  coalesced: number;
  /** Lookups that found nothing or failed. */
  failures: number;
  /** Lookups made again because a name with live connections expired. */
  refreshes: number;
  /** Names cached now. */
  entries: number;
}

/** A name's addresses (or why there are none), and until when (clock ms) they hold. */
export interface Answer {
  readonly addresses: readonly LookupAddress[];
  readonly expiresAt: number;
}

interface Entry {
  readonly answer: Answer | undefined;
  readonly error: Error | undefined;
  readonly expiresAt: number;
}

const DEFAULTS = {
  ttl: 30_000,
  minTtl: 1000,
  negativeTtl: 1000,
  maxEntries: 10_000,
  failurePenalty: 30_000,
};

/** Errors that are an answer from a DNS server: the name has no such record. */
const ANSWERED = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'EBADNAME', 'ENOTIMP']);
/** How long DNS servers that did not answer are skipped (the system lookup is asked instead). */
const SERVERS_DOWN_MS = 30_000;

/** Names the DNS servers do not hold (RFC 6761 §6.3): asked of the system only. */
function systemOnly(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** `node:dns`'s resolvers, made on first use: bounded retries, so a dead server fails fast. */
let systemResolver: DnsResolver | undefined;
function defaultResolver(): DnsResolver {
  if (systemResolver === undefined) {
    const resolver = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
    systemResolver = {
      resolve4: (name, options) => resolver.resolve4(name, options),
      resolve6: (name, options) => resolver.resolve6(name, options),
      lookup: (name, options) => dnsPromises.lookup(name, options),
    };
  }
  return systemResolver;
}

/**
 * Addresses by host name, for every pool of one Agent. An answer is kept for its records'
 * shortest TTL (within `minTtl`..`ttl`), a failure for `negativeTtl`; beyond `maxEntries` the
 * least recently used name goes. Concurrent requests for a name being looked up share the
 * one lookup.
 */
export class DnsCache {
  readonly #clock: Clock;
  readonly #resolver: DnsResolver;
  readonly #ttl: number;
  readonly #minTtl: number;
  readonly #negativeTtl: number;
  readonly #maxEntries: number;
  /** By name; a Map keeps insertion order, and a hit re-inserts: the first key is the LRU. */
  readonly #entries = new Map<string, Entry>();
  readonly #running = new Map<string, Promise<Answer>>();
  /** Until when (clock ms) the DNS servers are taken to be down, and skipped. */
  #serversDownUntil = Number.NEGATIVE_INFINITY;
  readonly #stats = { lookups: 0, hits: 0, coalesced: 0, failures: 0, refreshes: 0 };
  /** Settings the pools' address sources read. */
  readonly attemptDelay: number | undefined;
  readonly failurePenalty: number;
  readonly negativeTtl: number;

  constructor(options: DnsOptions, clock: Clock) {
    this.#clock = clock;
    this.#resolver = options.resolver ?? defaultResolver();
    this.#ttl = options.ttl ?? DEFAULTS.ttl;
    this.#minTtl = Math.min(options.minTtl ?? DEFAULTS.minTtl, this.#ttl);
    this.#negativeTtl = options.negativeTtl ?? DEFAULTS.negativeTtl;
    this.#maxEntries = options.maxEntries ?? DEFAULTS.maxEntries;
    this.attemptDelay = options.attemptDelay;
    this.failurePenalty = options.failurePenalty ?? DEFAULTS.failurePenalty;
    this.negativeTtl = this.#negativeTtl;
  }

  /** The clock the cache dates its answers by. */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * The addresses of `hostname`: from the cache while its answer holds, else from the one
   * lookup of it running, else from a new one. Rejects with the lookup's error (kept for
   * `negativeTtl`). `refresh` counts the lookup as one made for a name with live connections.
   */
  resolve(hostname: string, refresh = false): Promise<Answer> {
    let answer: Answer | undefined;
    try {
      answer = this.cached(hostname);
    } catch (error) {
      return Promise.reject(error);
    }
    return answer !== undefined ? Promise.resolve(answer) : this.#resolve(hostname, refresh);
  }

  /**
   * {@link resolve} without a promise when the answer is at hand (a hit: returned as it is);
   * a failure still remembered throws.
   */
  resolveNow(hostname: string): Answer | Promise<Answer> {
    return this.cached(hostname) ?? this.#resolve(hostname, false);
  }

  /** The answer for `hostname` while it holds (counted as a hit); throws a remembered failure. */
  cached(hostname: string): Answer | undefined {
    const name = hostname.toLowerCase();
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (this.#clock.now() >= entry.expiresAt) {
      this.#entries.delete(name);
      return undefined;
    }
    this.#stats.hits++;
    this.#entries.delete(name);
    this.#entries.set(name, entry);
    if (entry.answer === undefined) throw entry.error;
    return entry.answer;
  }

  #resolve(hostname: string, refresh: boolean): Promise<Answer> {
    const name = hostname.toLowerCase();
    const running = this.#running.get(name);
    if (running !== undefined) {
      this.#stats.coalesced++;
      return running;
    }
    this.#stats.lookups++;
    if (refresh) this.#stats.refreshes++;
    const lookup = this.#lookup(name).then(
      (answer) => {
        this.#running.delete(name);
        this.#store(name, { answer, error: undefined, expiresAt: answer.expiresAt });
        return answer;
      },
      (error: unknown) => {
        this.#running.delete(name);
        this.#stats.failures++;
        const failure = error instanceof Error ? error : new Error(String(error));
        const expiresAt = this.#clock.now() + this.#negativeTtl;
        this.#store(name, { answer: undefined, error: failure, expiresAt });
        throw failure;
      },
    );
    this.#running.set(name, lookup);
    return lookup;
  }

  /** A snapshot of the counters. */
  stats(): DnsStats {
    return { ...this.#stats, entries: this.#entries.size };
  }

  #store(name: string, entry: Entry): void {
    this.#entries.delete(name);
    this.#entries.set(name, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  /**
   * Asks the DNS servers for both families (with TTLs); a name they cannot answer (none of
   * either, or no server) is asked of the system, as `dns.lookup` would, and kept `ttl`.
   */
  async #lookup(name: string): Promise<Answer> {
    const resolver = this.#resolver;
    if (!systemOnly(name) && !(this.#clock.now() < this.#serversDownUntil)) {
      const unanswered = (error: unknown): readonly AddressRecord[] => {
        const code = (error as { code?: unknown } | null)?.code;
        // The servers did not answer at all (timeout, refused, failure): while they are down,
        // every name goes to the system lookup at once instead of waiting for them again.
        if (typeof code !== 'string' || !ANSWERED.has(code)) {
          this.#serversDownUntil = this.#clock.now() + SERVERS_DOWN_MS;
        }
        return [];
      };
      const [v4, v6] = await Promise.all([
        resolver.resolve4(name, { ttl: true }).catch(unanswered),
        resolver.resolve6(name, { ttl: true }).catch(unanswered),
      ]);
      if (v4.length > 0 || v6.length > 0) {
        const records = [...v4, ...v6];
        let ttl = Number.POSITIVE_INFINITY;
        for (const record of records) ttl = Math.min(ttl, record.ttl * 1000);
        ttl = Math.max(this.#minTtl, Math.min(this.#ttl, Number.isFinite(ttl) ? ttl : 0));
        const addresses = preferred([
          ...v4.map((r) => ({ address: r.address, family: 4 })),
          ...v6.map((r) => ({ address: r.address, family: 6 })),
        ]);
        return { addresses, expiresAt: this.#clock.now() + ttl };
      }
    }
    const found = await resolver.lookup(name, { all: true });
    const addresses = found
      .filter((a) => isIP(a.address) !== 0)
      .map((a) => ({ address: a.address, family: isIP(a.address) }));
    if (addresses.length === 0) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), {
        code: 'ENOTFOUND',
        hostname: name,
      });
    }
    return { addresses, expiresAt: this.#clock.now() + this.#ttl };
  }
}

/**
 * IPv4 first, unless Node was told to prefer IPv6 (`--dns-result-order=ipv6first`): where
 * IPv6 is not routed, trying it first would cost every new connection a failed attempt.
 */
function preferred(addresses: LookupAddress[]): LookupAddress[] {
  const order = (dnsPromises as { getDefaultResultOrder?: () => string }).getDefaultResultOrder;
  if (order?.() !== 'ipv6first') return addresses;
  return [...addresses.filter((a) => a.family === 6), ...addresses.filter((a) => a.family === 4)];
}

/**
 * The order to try `addresses` in for the `turn`th new connection: each family rotated by the
 * turn (so connections spread over the addresses), the families interleaved starting with the
 * first address's (RFC 8305 §4), and addresses in `penalized` moved last.
 */
export function orderAddresses(
  addresses: readonly LookupAddress[],
  turn: number,
  penalized: (address: string) => boolean,
): LookupAddress[] {
  const first = addresses[0];
  if (first === undefined) return [];
  const lead = addresses.filter((a) => a.family === first.family);
  const other = addresses.filter((a) => a.family !== first.family);
  const rotate = (list: LookupAddress[]): LookupAddress[] => {
    const by = list.length === 0 ? 0 : turn % list.length;
    return [...list.slice(by), ...list.slice(0, by)];
  };
  const a = rotate(lead);
  const b = rotate(other);
  const mixed: LookupAddress[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) mixed.push(a[i]!);
    if (i < b.length) mixed.push(b[i]!);
  }
  return [
    ...mixed.filter((x) => !penalized(x.address)),
    ...mixed.filter((x) => penalized(x.address)),
  ];
}

/** What {@link OriginAddresses} needs of its pool: whether it has connections, and retiring them. */
export interface AddressedPool {
  stats(): { readonly open: number };
  /** Retires the connections to addresses `stale` says yes to (see ConnectionPool.retireAddresses). */
  retireAddresses(stale: (address: string) => boolean): number;
}

/**
 * One pool's view of the cache: its new connections take the addresses turn by turn, one that
 * just failed last; while it has connections open, the name is looked up again as its answer
 * expires, and connections to an address no longer in it are retired.
 */
export class OriginAddresses implements AddressSource {
  readonly #cache: DnsCache;
  readonly #hostname: string;
  #turn = 0;
  /** When (clock ms) each address last failed a connect; made on the first failure. */
  #failedAt: Map<string, number> | undefined;
  #watch: Timer | undefined;
  /** The pool whose connections are watched, weakly: a pool the Agent dropped may go. */
  #pool: WeakRef<AddressedPool> | undefined;
  readonly attemptDelay: number | undefined;

  constructor(cache: DnsCache, hostname: string) {
    this.#cache = cache;
    this.#hostname = hostname;
    this.attemptDelay = cache.attemptDelay;
  }

  /** The pool to watch; set once it is made. */
  set pool(pool: AddressedPool) {
    this.#pool = new WeakRef(pool);
  }

  addresses(hostname: string): readonly LookupAddress[] | Promise<readonly LookupAddress[]> {
    const answer = this.#cache.resolveNow(hostname);
    return answer instanceof Promise ? answer.then((a) => this.#order(a)) : this.#order(answer);
  }

  #order(answer: Answer): readonly LookupAddress[] {
    this.#follow(answer);
    const turn = this.#turn++;
    const failedAt = this.#failedAt;
    if (answer.addresses.length === 1 && failedAt === undefined) return answer.addresses;
    const now = this.#cache.clock.now();
    const penalty = this.#cache.failurePenalty;
    return orderAddresses(answer.addresses, turn, (address) => {
      const at = failedAt?.get(address);
      return at !== undefined && now - at < penalty;
    });
  }

  failed(address: string): void {
    debug('%s: connect to %s failed; it is tried last for a while', this.#hostname, address);
    this.#failedAt ??= new Map();
    this.#failedAt.set(address, this.#cache.clock.now());
    // Bounded: only a name's own addresses land here, but a name may change them often.
    if (this.#failedAt.size > 64) this.#failedAt.delete(this.#failedAt.keys().next().value!);
  }

  /** Stops watching the name (the pool is gone). */
  stop(): void {
    this.#watch?.cancel();
    this.#watch = undefined;
  }

  /** Looks the name up again when `answer` expires, unless a watch is set already. */
  #follow(answer: Answer): void {
    if (this.#watch !== undefined) return;
    const clock = this.#cache.clock;
    this.#watch = clock.schedule(
      () => this.#refresh(),
      Math.max(0, answer.expiresAt - clock.now()),
    );
  }

  #refresh(): void {
    this.#watch = undefined;
    const pool = this.#pool?.deref();
    // Nothing open (or the pool is gone): the next connect looks the name up itself.
    if (pool === undefined || pool.stats().open === 0) return;
    this.#cache.resolve(this.#hostname, true).then(
      (answer) => {
        const current = new Set(answer.addresses.map((a) => a.address));
        pool.retireAddresses((address) => !current.has(address));
        if (pool.stats().open > 0) this.#follow(answer);
      },
      () => {
        // A failed lookup says nothing about where the name points: keep the connections,
        // and try again once the failure is forgotten.
        if (this.#watch !== undefined || pool.stats().open === 0) return;
        const clock = this.#cache.clock;
        this.#watch = clock.schedule(
          () => this.#refresh(),
          Math.max(1000, this.#cache.negativeTtl),
        );
      },
    );
  }
}
