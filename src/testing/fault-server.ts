/**
 * FaultServer: a real HTTP/1.1 or HTTP/2 server on loopback that misbehaves on purpose, by
 * schedule or at random from a seed it prints, and records every request it saw and what it
 * did to it. For integration tests that check a client (httpool, or code on top of it) keeps
 * its promises when the server does not.
 */

import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { makeTestCertificate, type TestCertificate } from './certificate.js';
import {
  H2_ONLY_FAULTS,
  type H2Arrival,
  type H2Decision,
  type H2Fault,
  H2Sessions,
} from './fault-server-h2.js';
import { prng } from './random.js';
import {
  checkReply,
  FAULTS,
  type Fault,
  playReply,
  type ReceivedRequest,
  type Reply,
  type ReplyConnection,
  RequestReader,
} from './wire.js';

/** A request as the fault server saw it. */
export interface FaultRequest extends ReceivedRequest {
  /** Its place among all requests the server saw, from 0. */
  readonly index: number;
  /** Which connection carried it: 1 for the first accepted, and so on. */
  readonly connection: number;
  /** Its `x-id` header, else its path: what the default answer names. */
  readonly id: string;
  /** Over HTTP/2, its stream id (1, 3, 5, ... on each connection); absent over HTTP/1.1. */
  readonly streamId?: number;
}

/**
 * A fault a {@link FaultServer} plays: an HTTP/1.1 {@link Fault} or an {@link H2Fault}.
 * Over HTTP/2, the HTTP/1.1 names mean: `'close'` and `'reset'` end the connection under the
 * session (FIN or RST, no GOAWAY) before the answer; `'stall'` and `'stall-body'` as over
 * HTTP/1.1; `'cut-body'` part of the body, then the connection ends (no GOAWAY);
 * `'reset-body'` part of the body, then RST_STREAM(INTERNAL_ERROR) on that stream alone;
 * `'drip'` DATA frames of `dripBytes`; `'connection-close'` the answer, then GOAWAY naming
 * this stream and a graceful close; `'idle-close'` a graceful close (GOAWAY, FIN) and
 * `'idle-reset'` a TCP reset (no GOAWAY) `after` ms after the answer. `'stray-bytes'` has no
 * HTTP/2 form (every byte is framed) and is refused.
 */
export type ServerFault = Fault | H2Fault;

/** A {@link Reply} whose fault may be HTTP/2's own. */
export type FaultReply = Omit<Reply, 'fault'> & { readonly fault?: ServerFault | undefined };

/**
 * What a {@link FaultServer} speaks: `'http1'` (HTTP/1.1, the default), `'h2'` (HTTP/2 over
 * TLS with ALPN `h2`, on a certificate of its own unless `tls` gives one) or `'h2c'` (HTTP/2
 * in cleartext, prior knowledge).
 */
export type FaultServerProtocol = 'http1' | 'h2' | 'h2c';

/**
 * What the server did with a request: answered it (`'ok'`), played a {@link Fault} on it,
 * or nothing because its connection was already closing (`'dropped'`: the keep-alive close
 * race; over HTTP/2, a stream above the last id of a GOAWAY this server sent, never processed)
 * or had been sent stray bytes (`'poisoned'`).
 */
export type FaultFate = 'ok' | ServerFault | 'dropped' | 'poisoned';

/** One entry of {@link FaultServer.requests}. */
export interface FaultRecord extends FaultRequest {
  readonly fate: FaultFate;
}

/** Settings of a {@link FaultServer}. */
export interface FaultServerOptions {
  /**
   * What to answer with, a fault aside: a {@link Reply} or a function of the request (it may
   * be async). Default: 200 with an `x-id` header and a body `id:<id>:` followed by up to
   * 2000 filler bytes, so a response delivered to the wrong request is caught.
   */
  readonly handler?: FaultReply | ((request: FaultRequest) => FaultReply | Promise<FaultReply>);
  /**
   * Faults by schedule: the n-th request the server sees (from 0) gets `schedule[n]` (none
   * for `undefined` or past the end), or what a function says for it. A scheduled fault wins
   * over {@link rates}, and over the handler's own. Over HTTP/2 the choice is made as the
   * request's head arrives, in arrival order (its `body` is empty then), so `'goaway'` and
   * `'refuse'` keep their promise: the request was not processed, its handler not called. (A
   * handler's own `'goaway'` or `'refuse'` comes after it ran.)
   */
  readonly schedule?:
    | ReadonlyArray<ServerFault | undefined>
    | ((request: FaultRequest) => ServerFault | undefined);
  /** Faults at random: each fault's probability (0..1, summing to at most 1) per request. */
  readonly rates?: Readonly<Partial<Record<ServerFault, number>>>;
  /**
   * Seeds the random choices (faults, their timing, default body lengths); random by default.
   * The same seed replays the same choices for requests arriving in the same order.
   */
  readonly seed?: number;
  /** Closes connections idle this many ms, with no hint in the responses. Default never. */
  readonly idleTimeout?: number;
  /** Most ms a random fault waits after the answer (`after`, drawn from 1 to this). Default 10. */
  readonly maxFaultDelay?: number;
  /**
   * Where the seed is printed when faults are random (`rates`), once: `console.log` by
   * default; `false` prints nothing.
   */
  readonly log?: ((line: string) => void) | false;
  /** What it speaks; default `'http1'`. See {@link FaultServerProtocol}. */
  readonly protocol?: FaultServerProtocol;
  /**
   * For `'h2'`: the server's certificate and key (PEM). Default a fresh self-signed one for
   * 127.0.0.1 and localhost, which {@link FaultServer.tls} gives back for the client to trust.
   */
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca?: string };
  /** HTTP/2: the SETTINGS_MAX_CONCURRENT_STREAMS every session starts with. Default 100. */
  readonly maxConcurrentStreams?: number;
  /** HTTP/2: the SETTINGS_MAX_CONCURRENT_STREAMS the `'max-streams'` fault sends. Default 1. */
  readonly maxStreamsFault?: number;
}

/** A request record the server still updates (an HTTP/2 stream's fate can change later). */
interface LiveRecord extends Omit<FaultRecord, 'fate' | 'body'> {
  fate: FaultFate;
  body: Uint8Array;
}

/** The faults each protocol plays. */
const PROTOCOL_FAULTS: Record<FaultServerProtocol, readonly ServerFault[]> = {
  http1: FAULTS,
  h2: [...FAULTS.filter((fault) => fault !== 'stray-bytes'), ...H2_ONLY_FAULTS],
  h2c: [...FAULTS.filter((fault) => fault !== 'stray-bytes'), ...H2_ONLY_FAULTS],
};

/** Which faults fail a request outright, whatever a client does (GETs included). */
export const FAILING_FATES: ReadonlySet<FaultFate> = new Set<FaultFate>([
  'stall',
  'stall-body',
  'cut-body',
  'reset-body',
  'reset-stream',
  'idle-reset',
  'poisoned',
]);

const EMPTY = Buffer.alloc(0);

/**
 * A loopback HTTP/1.1 or HTTP/2 server that injects faults. Start it with
 * {@link FaultServer.start}; `origin` is where it listens.
 *
 * @example
 * ```ts
 * await using server = await FaultServer.start({ rates: { 'idle-close': 0.2 }, seed: 42 });
 * const res = await pool.request({ path: '/', headers: { 'x-id': 'a' } });
 * server.requests; // [{ id: 'a', fate: 'ok' | 'idle-close', ... }]
 * ```
 *
 * @example HTTP/2 over TLS, a GOAWAY on the second request
 * ```ts
 * await using server = await FaultServer.start({ protocol: 'h2', schedule: [undefined, 'goaway'] });
 * const pool = new ConnectionPool(server.origin, { http2: 'only', tls: { ca: server.tls?.ca } });
 * ```
 */
export class FaultServer implements AsyncDisposable {
  /** `http://127.0.0.1:PORT`, or `https://` for `'h2'`. */
  readonly origin: string;
  readonly port: number;
  /** The seed of the random choices; pass it as `seed` to replay them. */
  readonly seed: number;
  /** What it speaks. */
  readonly protocol: FaultServerProtocol;
  /** For `'h2'`: its certificate and key; trust `ca` (`tls: { ca }`). Absent otherwise. */
  readonly tls: TestCertificate | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #records: LiveRecord[] = [];
  readonly #options: FaultServerOptions;
  readonly #random: () => number;
  readonly #h2: H2Sessions | undefined;
  #connections = 0;
  #index = 0;

  private constructor(
    server: Server,
    options: FaultServerOptions,
    seed: number,
    tls: TestCertificate | undefined,
  ) {
    this.#server = server;
    this.#options = options;
    this.seed = seed;
    this.#random = prng(seed);
    this.port = (server.address() as AddressInfo).port;
    this.protocol = options.protocol ?? 'http1';
    this.tls = tls;
    this.origin = `${this.protocol === 'h2' ? 'https' : 'http'}://127.0.0.1:${this.port}`;
    this.#h2 =
      this.protocol === 'http1'
        ? undefined
        : new H2Sessions(
            {
              arrive: (arrival) => this.#arrive(arrival),
              drop: (arrival) => {
                this.#records.push({
                  ...arrival,
                  body: EMPTY,
                  index: this.#index++,
                  id: arrival.headers['x-id'] ?? arrival.path,
                  fate: 'dropped',
                });
              },
              idleTimeout: options.idleTimeout,
              maxStreamsFault: options.maxStreamsFault ?? 1,
              wait,
            },
            tls,
            options.maxConcurrentStreams,
          );
  }

  /**
   * Listens on a free port of 127.0.0.1.
   *
   * @throws InvalidArgumentError for an unknown fault, or one the protocol has no form of
   * (`'stray-bytes'` over HTTP/2, an HTTP/2 fault over HTTP/1.1), rates outside 0..1, a bad
   * reply
   */
  static async start(options: FaultServerOptions = {}): Promise<FaultServer> {
    checkOptions(options);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    let instance: FaultServer | undefined;
    const server = createServer((socket) => {
      // Connections before listen() resolves cannot come: the port is not known yet.
      if (instance !== undefined) instance.#accept(socket);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    let tls: TestCertificate | undefined;
    if (options.protocol === 'h2') {
      tls =
        options.tls === undefined
          ? makeTestCertificate()
          : {
              key: options.tls.key,
              cert: options.tls.cert,
              ca: options.tls.ca ?? options.tls.cert,
            };
    }
    instance = new FaultServer(server, options, seed, tls);
    const { log = console.log, rates } = options;
    if (log !== false && rates !== undefined && Object.values(rates).some((r) => r > 0)) {
      log(
        `FaultServer ${instance.origin}: random faults, seed ${seed} (pass { seed: ${seed} } to replay)`,
      );
    }
    return instance;
  }

  /** Every request seen, in the order answered, with what was done to it. */
  get requests(): readonly FaultRecord[] {
    return this.#records;
  }

  /** The requests whose {@link FaultRequest.id} is `id` (each attempt at it). */
  attempts(id: string): FaultRecord[] {
    return this.#records.filter((record) => record.id === id);
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Connections open now. */
  get open(): number {
    return this.#sockets.size;
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** `await using server = await FaultServer.start()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #accept(socket: Socket): void {
    const id = ++this.#connections;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let idleTimer: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      clearTimeout(idleTimer);
      this.#sockets.delete(socket);
    });
    if (this.#h2 !== undefined) {
      this.#h2.accept(socket, id);
      return;
    }
    const connection: ReplyConnection = {
      get destroyed() {
        return socket.destroyed || socket.writableEnded;
      },
      write: (bytes) => {
        if (!connection.destroyed) socket.write(bytes);
      },
      end: () => {
        if (!socket.destroyed) socket.end();
      },
      reset: () => {
        if (!socket.destroyed) socket.resetAndDestroy();
      },
      flush: () =>
        new Promise((resolve) => {
          if (connection.destroyed) resolve();
          else socket.write(EMPTY, () => resolve());
        }),
    };
    let state: 'open' | 'closing' | 'poisoned' = 'open';
    let queue = Promise.resolve();
    const idle = () => {
      const { idleTimeout } = this.#options;
      if (idleTimeout === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => connection.end(), idleTimeout);
    };
    const reader = new RequestReader(
      (received) => {
        const request: FaultRequest = {
          ...received,
          index: this.#index++,
          connection: id,
          id: received.headers['x-id'] ?? received.path,
        };
        queue = queue.then(async () => {
          if (state !== 'open' || connection.destroyed) {
            this.#records.push({ ...request, fate: state === 'poisoned' ? 'poisoned' : 'dropped' });
            return;
          }
          const outcome = await this.#answer(request, connection);
          if (outcome === 'poisoned') state = 'poisoned';
          else if (outcome !== 'open') state = 'closing';
          else idle();
        });
      },
      () => connection.write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')),
      () => socket.destroy(),
    );
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(idleTimer);
      reader.push(chunk);
    });
    idle();
  }

  /** The fault by schedule, else drawn by the rates (one draw whenever rates are given). */
  #choose(request: FaultRequest): ServerFault | undefined {
    const { schedule, rates } = this.#options;
    const fault = typeof schedule === 'function' ? schedule(request) : schedule?.[request.index];
    if (fault !== undefined || rates === undefined) return fault;
    const roll = this.#random();
    let threshold = 0;
    for (const [name, rate] of Object.entries(rates) as Array<[ServerFault, number]>) {
      threshold += rate;
      if (roll < threshold) return name;
    }
    return undefined;
  }

  /**
   * An HTTP/2 request's head arrived: number and record it, and make every seeded draw for it
   * now, in arrival order (so a seed replays whatever the bodies' timing).
   */
  #arrive(arrival: H2Arrival): H2Decision {
    const request: FaultRequest = {
      ...arrival,
      body: EMPTY,
      index: this.#index++,
      id: arrival.headers['x-id'] ?? arrival.path,
    };
    const scheduled = this.#choose(request);
    const filler = Math.floor(this.#random() * 2000);
    const after = 1 + Math.floor(this.#random() * (this.#options.maxFaultDelay ?? 10));
    const record: LiveRecord = { ...request, fate: scheduled ?? 'ok' };
    this.#records.push(record);
    const { handler } = this.#options;
    return {
      fault: scheduled,
      after,
      answer: async (body) => {
        record.body = body;
        const full: FaultRequest = { ...request, body };
        let reply: FaultReply;
        try {
          reply =
            handler === undefined
              ? this.#defaultReply(full, filler)
              : typeof handler === 'function'
                ? await handler(full)
                : handler;
          checkH2Reply(reply);
        } catch {
          reply = { status: 500, body: 'the fault server handler failed' };
        }
        return { reply: reply as Reply, fault: scheduled ?? reply.fault };
      },
      dropped: () => {
        if (record.fate !== 'goaway' && record.fate !== 'refuse') record.fate = 'dropped';
      },
      played: (fault) => {
        record.fate = (fault as ServerFault | undefined) ?? 'ok';
      },
    };
  }

  async #answer(request: FaultRequest, connection: ReplyConnection) {
    const { handler } = this.#options;
    let fault: ServerFault | undefined = this.#choose(request);
    let reply: Reply;
    try {
      const given =
        handler === undefined
          ? this.#defaultReply(request)
          : typeof handler === 'function'
            ? await handler(request)
            : handler;
      // An HTTP/2 fault from the handler is unknown here: checkReply refuses it.
      checkReply(given as Reply);
      reply = given as Reply;
    } catch {
      reply = { status: 500, body: 'the fault server handler failed', connectionClose: true };
    }
    fault ??= reply.fault;
    const after = 1 + Math.floor(this.#random() * (this.#options.maxFaultDelay ?? 10));
    this.#records.push({ ...request, fate: fault ?? 'ok' });
    const closing = /(^|,)\s*close\s*($|,)/i.test(request.headers['connection'] ?? '');
    return playReply(
      connection,
      request,
      { ...reply, fault: fault as Fault | undefined, after: reply.after ?? after },
      wait,
      closing,
    );
  }

  #defaultReply(request: FaultRequest, length = Math.floor(this.#random() * 2000)): Reply {
    return { headers: { 'x-id': request.id }, body: `id:${request.id}:${'x'.repeat(length)}` };
  }
}

/**
 * An HTTP/2 reply: as {@link checkReply} says, with the HTTP/2 faults, a final status
 * (200-599), and no `raw` bytes (HTTP/2 frames every byte).
 */
function checkH2Reply(reply: FaultReply): void {
  checkReply({ ...reply, fault: undefined } as Reply);
  const { fault, status = 200 } = reply;
  if (fault !== undefined && !PROTOCOL_FAULTS.h2.includes(fault)) {
    throw new InvalidArgumentError(`fault ${String(fault)} has no HTTP/2 form`);
  }
  if (!(status >= 200 && status <= 599)) {
    throw new InvalidArgumentError(`an HTTP/2 reply status must be 200-599, got ${status}`);
  }
  if (reply.raw !== undefined) throw new InvalidArgumentError('an HTTP/2 reply has no raw bytes');
}

/** @throws InvalidArgumentError naming why `fault` cannot be played over `protocol` */
function checkFault(fault: unknown, protocol: FaultServerProtocol, where: string): void {
  const known = PROTOCOL_FAULTS[protocol];
  if (known.includes(fault as ServerFault)) return;
  if (protocol === 'http1' && H2_ONLY_FAULTS.includes(fault as H2Fault)) {
    throw new InvalidArgumentError(
      `fault ${String(fault)}${where} is HTTP/2's own; start the server with protocol 'h2' or 'h2c'`,
    );
  }
  if (fault === 'stray-bytes') {
    throw new InvalidArgumentError(
      `fault stray-bytes${where} has no HTTP/2 form: HTTP/2 frames every byte`,
    );
  }
  throw new InvalidArgumentError(
    `unknown fault ${String(fault)}${where}; one of ${known.join(', ')}`,
  );
}

function checkOptions(options: FaultServerOptions): void {
  const { rates, schedule, idleTimeout, maxFaultDelay, handler, protocol = 'http1' } = options;
  if (!['http1', 'h2', 'h2c'].includes(protocol)) {
    throw new InvalidArgumentError(`protocol must be 'http1', 'h2' or 'h2c'`);
  }
  if (options.tls !== undefined && protocol !== 'h2') {
    throw new InvalidArgumentError(`tls is for protocol 'h2'`);
  }
  if (
    options.tls !== undefined &&
    !(typeof options.tls.key === 'string' && typeof options.tls.cert === 'string')
  ) {
    throw new InvalidArgumentError('tls needs a key and a cert (PEM strings)');
  }
  for (const [name, value] of [
    ['maxConcurrentStreams', options.maxConcurrentStreams],
    ['maxStreamsFault', options.maxStreamsFault],
  ] as const) {
    if (value === undefined) continue;
    if (protocol === 'http1') throw new InvalidArgumentError(`${name} is for HTTP/2`);
    if (!(Number.isInteger(value) && value >= 0 && value < 2 ** 32)) {
      throw new InvalidArgumentError(`${name} must be an integer from 0 to 2^32-1`);
    }
  }
  let sum = 0;
  for (const [name, rate] of Object.entries(rates ?? {})) {
    checkFault(name, protocol, '');
    if (!(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
      throw new InvalidArgumentError(`the rate of ${name} must be a number from 0 to 1`);
    }
    sum += rate;
  }
  if (sum > 1 + 1e-9) throw new InvalidArgumentError('fault rates add up to more than 1');
  if (Array.isArray(schedule)) {
    for (const fault of schedule) {
      if (fault !== undefined) checkFault(fault, protocol, ' in the schedule');
    }
  }
  for (const [name, value] of [
    ['idleTimeout', idleTimeout],
    ['maxFaultDelay', maxFaultDelay],
  ] as const) {
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value < 2 ** 31)) {
      throw new InvalidArgumentError(`${name} must be a non-negative number of ms`);
    }
  }
  if (options.seed !== undefined && !Number.isInteger(options.seed)) {
    throw new InvalidArgumentError('seed must be an integer');
  }
  if (handler !== undefined && typeof handler !== 'function') {
    if (protocol === 'http1') checkReply(handler as Reply);
    else checkH2Reply(handler);
  }
}

const wait = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0) setImmediate(resolve);
    else setTimeout(resolve, ms);
  });
