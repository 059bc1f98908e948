/**
 * FaultServer: a real HTTP/1.1 server on loopback that misbehaves on purpose, by schedule or
 * at random from a seed it prints, and records every request it saw and what it did to it. For
 * integration tests that check a client (httpool, or code on top of it) keeps its promises
 * when the server does not.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
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
}

/**
 * What the server did with a request: answered it (`'ok'`), played a {@link Fault} on it,
 * or nothing because its connection was already closing (`'dropped'`: the keep-alive close
 * race) or had been sent stray bytes (`'poisoned'`).
 */
export type FaultFate = 'ok' | Fault | 'dropped' | 'poisoned';

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
  readonly handler?: Reply | ((request: FaultRequest) => Reply | Promise<Reply>);
  /**
   * Faults by schedule: the n-th request the server sees (from 0) gets `schedule[n]` (none
   * for `undefined` or past the end), or what a function says for it. A scheduled fault wins
   * over {@link rates}, and over the handler's own.
   */
  readonly schedule?:
    | ReadonlyArray<Fault | undefined>
    | ((request: FaultRequest) => Fault | undefined);
  /** Faults at random: each fault's probability (0..1, summing to at most 1) per request. */
  readonly rates?: Readonly<Partial<Record<Fault, number>>>;
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
}

/** Which faults fail a request outright, whatever a client does (GETs included). */
export const FAILING_FATES: ReadonlySet<FaultFate> = new Set<FaultFate>([
  'stall',
  'stall-body',
  'cut-body',
  'reset-body',
  'idle-reset',
  'poisoned',
]);

const EMPTY = Buffer.alloc(0);

/**
 * A loopback HTTP/1.1 server that injects faults. Start it with {@link FaultServer.start};
 * `origin` is where it listens.
 *
 * @example
 * ```ts
 * await using server = await FaultServer.start({ rates: { 'idle-close': 0.2 }, seed: 42 });
 * const res = await pool.request({ path: '/', headers: { 'x-id': 'a' } });
 * server.requests; // [{ id: 'a', fate: 'ok' | 'idle-close', ... }]
 * ```
 */
export class FaultServer implements AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly port: number;
  /** The seed of the random choices; pass it as `seed` to replay them. */
  readonly seed: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #records: FaultRecord[] = [];
  readonly #options: FaultServerOptions;
  readonly #random: () => number;
  #connections = 0;
  #index = 0;

  private constructor(server: Server, options: FaultServerOptions, seed: number) {
    this.#server = server;
    this.#options = options;
    this.seed = seed;
    this.#random = prng(seed);
    this.port = (server.address() as AddressInfo).port;
    this.origin = `http://127.0.0.1:${this.port}`;
  }

  /**
   * Listens on a free port of 127.0.0.1.
   *
   * @throws InvalidArgumentError for an unknown fault, rates outside 0..1, a bad reply
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
    instance = new FaultServer(server, options, seed);
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

  async #answer(request: FaultRequest, connection: ReplyConnection) {
    const { schedule, rates, handler } = this.#options;
    let fault = typeof schedule === 'function' ? schedule(request) : schedule?.[request.index];
    if (fault === undefined && rates !== undefined) {
      const roll = this.#random();
      let threshold = 0;
      for (const [name, rate] of Object.entries(rates) as Array<[Fault, number]>) {
        threshold += rate;
        if (roll < threshold) {
          fault = name;
          break;
        }
      }
    }
    let reply: Reply;
    try {
      reply =
        handler === undefined
          ? this.#defaultReply(request)
          : typeof handler === 'function'
            ? await handler(request)
            : handler;
      checkReply(reply);
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
      { ...reply, fault, after: reply.after ?? after },
      wait,
      closing,
    );
  }

  #defaultReply(request: FaultRequest): Reply {
    const filler = 'x'.repeat(Math.floor(this.#random() * 2000));
    return { headers: { 'x-id': request.id }, body: `id:${request.id}:${filler}` };
  }
}

function checkOptions(options: FaultServerOptions): void {
  const { rates, schedule, idleTimeout, maxFaultDelay, handler } = options;
  let sum = 0;
  for (const [name, rate] of Object.entries(rates ?? {})) {
    if (!FAULTS.includes(name as Fault)) {
      throw new InvalidArgumentError(`unknown fault ${name}; one of ${FAULTS.join(', ')}`);
    }
    if (!(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
      throw new InvalidArgumentError(`the rate of ${name} must be a number from 0 to 1`);
    }
    sum += rate;
  }
  if (sum > 1 + 1e-9) throw new InvalidArgumentError('fault rates add up to more than 1');
  if (Array.isArray(schedule)) {
    for (const fault of schedule) {
      if (fault !== undefined && !FAULTS.includes(fault)) {
        throw new InvalidArgumentError(`unknown fault ${String(fault)} in the schedule`);
      }
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
  if (handler !== undefined && typeof handler !== 'function') checkReply(handler);
}

const wait = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0) setImmediate(resolve);
    else setTimeout(resolve, ms);
  });

/** mulberry32: a small seeded generator, so a seed replays a run's choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
