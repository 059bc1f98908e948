/**
 * MockAgent: an {@link Agent} whose connections are in-memory sockets answered by scripted
 * interceptors. Only the socket is fake: requests go through the real serializer, pool,
 * parser, replay rule, timeouts, redirects and retries, so a test sees what production would.
 */
import type { Socket } from 'node:net';
import { Agent, type AgentOptions } from '../client/agent.js';
import type { ConnectTarget } from '../client/connector.js';
import { parseOrigin } from '../client/origin.js';
import { type Clock, systemClock } from '../clock.js';
import { InvalidArgumentError, MockNotMatchedError, MockPendingError } from '../errors.js';
import { type MockConnection, mockConnection } from './mock-socket.js';
import {
  checkReply,
  type Fault,
  playReply,
  type ReceivedRequest,
  type Reply,
  type ReplyChunk,
  RequestReader,
} from './wire.js';

/** Faults that play on an answer's body; without a body of their own they get this one. */
const BODY_FAULTS: ReadonlySet<Fault> = new Set(['stall-body', 'cut-body', 'reset-body', 'drip']);
const DEFAULT_FAULT_BODY = 'x'.repeat(64);

/** Matches the request target (`/path?query`): a string equal to it, a RegExp, or a test. */
export type PathMatcher = string | RegExp | ((path: string) => boolean);
/** Matches a header field's value (undefined when absent): equal to a string, a RegExp, or a test. */
export type HeaderMatcher = string | RegExp | ((value: string | undefined) => boolean);
/** Matches the request body as UTF-8 text: equal to a string, a RegExp, or a test. */
export type BodyMatcher = string | RegExp | ((body: string) => boolean);

/** Which requests an interceptor answers; every field given must match. */
export interface InterceptOptions {
  /** The method, in any case, or a RegExp. Default `'GET'`. */
  readonly method?: string | RegExp;
  /** The request target as sent, query string included. */
  readonly path: PathMatcher;
  /** Header fields by name (any case). */
  readonly headers?: Readonly<Record<string, HeaderMatcher>>;
  /** The body, de-chunked, as UTF-8 text. */
  readonly body?: BodyMatcher;
}

/** One request the mock received, matched or not. */
export interface MockCall {
  /** The origin whose pool sent it: `http://api.test`. */
  readonly origin: string;
  readonly method: string;
  /** The request target as sent, query string included. */
  readonly path: string;
  /** Header fields by lower-case name; repeated ones joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** Header fields in the order sent, names as sent. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** The body as UTF-8 text. */
  readonly body: string;
  /** The body's bytes. */
  readonly bytes: Uint8Array;
  /** Which mock connection carried it: 1 for the first the agent opened, and so on. */
  readonly connection: number;
  /** Whether an interceptor answered it. */
  readonly matched: boolean;
}

/** A body for {@link MockInterceptor.reply}: text (UTF-8), bytes, or pieces sent one by one. */
export type MockBody = string | Uint8Array | readonly ReplyChunk[];

/** What a reply function returns: a {@link Reply}, or a promise of one. */
export type ReplyFunction = (call: MockCall) => Reply | Promise<Reply>;

/**
 * Settings of a {@link MockAgent}: an Agent's, but it opens its connections itself (no
 * `connect`, no `proxy`) and speaks HTTP/1.1 (`http2` may be `'off'` or `'auto'`).
 */
export type MockAgentOptions = Omit<AgentOptions, 'connect' | 'proxy'>;

/**
 * One scripted answer: the requests it matches, what it answers them with, and how many
 * times (once by default; {@link times}, {@link persist}).
 */
export class MockInterceptor {
  /** @internal */
  readonly origin: string;
  readonly #match: InterceptOptions;
  #reply: Reply | ReplyFunction = {};
  #left = 1;
  #persist = false;
  #calls = 0;

  /** @internal Made by {@link MockAgent.intercept}. */
  constructor(origin: string, match: InterceptOptions) {
    this.origin = origin;
    this.#match = match;
  }

  /**
   * Answers with `status` and `body` (text, bytes, or pieces: see {@link Reply.body});
   * `options` sets headers, framing, delays, a fault. Or answers with a {@link Reply}, or with
   * what a function makes of the request (it may be async).
   *
   * @throws InvalidArgumentError for a reply that cannot be sent
   */
  reply(status: number, body?: MockBody, options?: Omit<Reply, 'status' | 'body'>): this;
  reply(reply: Reply | ReplyFunction): this;
  reply(
    first: number | Reply | ReplyFunction,
    body?: MockBody,
    options?: Omit<Reply, 'status' | 'body'>,
  ): this {
    if (typeof first === 'function') {
      this.#reply = first;
      return this;
    }
    const reply: Reply = typeof first === 'number' ? { ...options, status: first, body } : first;
    checkReply(reply);
    this.#reply = reply;
    return this;
  }

  /**
   * Plays a fault instead of an answer (`'close'`, `'reset'`, `'stall'`) or on one (the
   * `*-body` faults cut `options.body`, and `'drip'` drips it: without one they play on a
   * 64-byte body of `x`, so the head arrives whole; `'idle-*'` and `'stray-bytes'` come after
   * it). See {@link Fault}.
   */
  fault(fault: Fault, options: Omit<Reply, 'fault'> = {}): this {
    const onBody =
      BODY_FAULTS.has(fault) && options.body === undefined && options.json === undefined;
    return this.reply(
      onBody ? { ...options, body: DEFAULT_FAULT_BODY, fault } : { ...options, fault },
    );
  }

  /** Answers `count` requests (default 1) before it is used up. */
  times(count: number): this {
    if (!Number.isInteger(count) || count < 1) {
      throw new InvalidArgumentError(`times() takes a positive integer, got ${count}`);
    }
    this.#left = count;
    this.#persist = false;
    return this;
  }

  /** Answers every request it matches, never used up. */
  persist(): this {
    this.#persist = true;
    return this;
  }

  /** How many requests it answered. */
  get calls(): number {
    return this.#calls;
  }

  /** @internal Still answers requests. */
  get live(): boolean {
    return this.#persist || this.#left > 0;
  }

  /** @internal Waits for a request: uses left, or persistent and never used. */
  get pending(): boolean {
    return this.#persist ? this.#calls === 0 : this.#left > 0;
  }

  /** @internal */
  matches(request: ReceivedRequest, text: string): boolean {
    const { method = 'GET', path, headers, body } = this.#match;
    if (
      typeof method === 'string'
        ? method.toUpperCase() !== request.method.toUpperCase()
        : !method.test(request.method)
    ) {
      return false;
    }
    if (!test(path, request.path)) return false;
    for (const [name, matcher] of Object.entries(headers ?? {})) {
      if (!testValue(matcher, request.headers[name.toLowerCase()])) return false;
    }
    return body === undefined || test(body, text);
  }

  /** @internal Takes one use and gives the reply for `call`. */
  async use(call: MockCall): Promise<Reply> {
    this.#calls++;
    if (!this.#persist) this.#left--;
    const reply = this.#reply;
    if (typeof reply !== 'function') return reply;
    let made: Reply;
    try {
      made = await reply(call);
    } catch (error) {
      throw new InvalidArgumentError(
        `the reply function for ${this.toString()} failed: ${(error as Error)?.message ?? String(error)}`,
      );
    }
    checkReply(made);
    return made;
  }

  /** `GET /items (2 left)`, for messages. */
  toString(): string {
    const { method = 'GET', path, headers, body } = this.#match;
    let text = `${String(method)} ${describe(path)}`;
    const names = Object.keys(headers ?? {});
    if (names.length > 0) text += ` with headers ${names.join(', ')}`;
    if (body !== undefined) text += ` with body ${describe(body)}`;
    const uses = this.#persist ? 'persistent' : `${this.#left} left`;
    return `${text} on ${this.origin} (${uses})`;
  }
}

function describe(matcher: string | RegExp | ((value: string) => boolean)): string {
  if (typeof matcher === 'string') return JSON.stringify(matcher).slice(1, -1);
  if (matcher instanceof RegExp) return String(matcher);
  return `<${matcher.name || 'function'}>`;
}

function test(matcher: string | RegExp | ((value: string) => boolean), value: string): boolean {
  if (typeof matcher === 'string') return matcher === value;
  if (matcher instanceof RegExp) return matcher.test(value);
  return matcher(value) === true;
}

function testValue(matcher: HeaderMatcher, value: string | undefined): boolean {
  if (typeof matcher === 'function') return matcher(value) === true;
  return value !== undefined && test(matcher, value);
}

/** Which origins may reach the network. */
type NetRule = (origin: string) => boolean;

/**
 * An Agent for tests: origins are answered by interceptors over in-memory connections, and
 * nothing reaches the network unless {@link enableNetConnect} lets an origin through.
 *
 * A connection to an origin with interceptors is a mock one, whichever of them match; one to
 * an origin without, that the network is open to, is dialled for real; any other is a mock
 * connection whose every request fails with MockNotMatchedError. Delays (in replies and
 * faults) run on the agent's `clock`, so with a {@link FakeClock} they wait for `advance()`.
 *
 * @example
 * ```ts
 * const agent = new MockAgent();
 * agent.intercept('http://api.test', { path: '/items' }).reply(200, '[]');
 * const res = await agent.request('http://api.test/items');
 * assert.equal(await res.text(), '[]');
 * agent.assertNoPendingInterceptors();
 * ```
 */
export class MockAgent extends Agent {
  readonly #interceptors: MockInterceptor[] = [];
  readonly #calls: MockCall[] = [];
  readonly #clock: Clock;
  #net: NetRule[] | 'all' = [];
  #connections = 0;
  readonly #waiters = new Set<{ count: number; resolve: () => void }>();

  /** @throws InvalidArgumentError for a bad option, or `connect` or `proxy` (the mock's own) */
  constructor(options: MockAgentOptions = {}) {
    const given = options as AgentOptions;
    if (given.connect !== undefined || given.proxy !== undefined) {
      throw new InvalidArgumentError('a MockAgent opens its own connections: no connect or proxy');
    }
    // The mock speaks HTTP/1.1; 'auto' settles on it, as with a server that offers no h2.
    if (options.http2 === 'only' || options.http2 === 'prior-knowledge') {
      throw new InvalidArgumentError(
        `a MockAgent speaks HTTP/1.1 only, not http2 '${options.http2}'`,
      );
    }
    // The hook is bound to the agent once it exists; the pools ask it only later.
    const hook: { open?: (target: ConnectTarget) => Socket | undefined } = {};
    super({ ...options, connect: (target) => hook.open?.(target) });
    hook.open = (target) => this.#open(target);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Adds an interceptor for `origin` (`http://api.test`; any path in it is ignored), used in
   * the order added: the first that matches and is not used up answers.
   *
   * @throws InvalidArgumentError for a bad origin or matcher
   */
  intercept(origin: string | URL, match: InterceptOptions): MockInterceptor {
    const target = parseOrigin(origin).origin;
    const path = (match as Partial<InterceptOptions> | undefined)?.path;
    if (
      !(typeof path === 'string' || path instanceof RegExp || typeof path === 'function') ||
      (typeof match.method === 'string' && match.method === '')
    ) {
      throw new InvalidArgumentError(
        'intercept() takes { path } (a string, a RegExp or a function) and an optional method',
      );
    }
    const interceptor = new MockInterceptor(target, match);
    this.#interceptors.push(interceptor);
    return interceptor;
  }

  /**
   * Lets connections to origins without interceptors reach the network: all of them (no
   * argument), or those equal to a string (an origin), matching a RegExp, or passing a test.
   * Calls add up.
   */
  enableNetConnect(match?: string | RegExp | ((origin: string) => boolean)): void {
    if (match === undefined) {
      this.#net = 'all';
      return;
    }
    let rule: NetRule;
    if (typeof match === 'string') {
      const origin = parseOrigin(match).origin;
      rule = (o) => o === origin;
    } else if (match instanceof RegExp) rule = (o) => match.test(o);
    else if (typeof match === 'function') rule = (o) => match(o) === true;
    else
      throw new InvalidArgumentError('enableNetConnect() takes an origin, a RegExp or a function');
    if (this.#net !== 'all') this.#net.push(rule);
  }

  /** Closes the network to every origin again (the default). */
  disableNetConnect(): void {
    this.#net = [];
  }

  /** Every request the mock connections received, in order, matched or not. */
  get calls(): readonly MockCall[] {
    return this.#calls;
  }

  /** Mock connections opened so far. */
  get connectionsOpened(): number {
    return this.#connections;
  }

  /** The interceptors still waiting for a request (with uses left, or persistent and unused). */
  pendingInterceptors(): string[] {
    return this.#interceptors.filter((i) => i.pending).map((i) => i.toString());
  }

  /** @throws MockPendingError listing the interceptors no request used up */
  assertNoPendingInterceptors(): void {
    const pending = this.pendingInterceptors();
    if (pending.length > 0) throw new MockPendingError(pending);
  }

  /**
   * Resolves once the mock has received `count` requests in all (so a test can advance a fake
   * clock knowing a request is waiting for its answer). Rejects (a plain Error) after
   * `timeout` ms of real time, default 5000, so a test never hangs on it.
   */
  waitForCalls(count: number, timeout = 5000): Promise<void> {
    if (this.#calls.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `the mock received ${this.#calls.length} requests, not ${count}, in ${timeout} ms`,
          ),
        );
      }, timeout);
      this.#waiters.add(waiter);
    });
  }

  #netAllowed(origin: string): boolean {
    return this.#net === 'all' || this.#net.some((rule) => rule(origin));
  }

  #open(target: ConnectTarget): Socket | undefined {
    const { origin } = target;
    if (this.#netAllowed(origin) && !this.#interceptors.some((i) => i.origin === origin)) {
      return undefined;
    }
    const id = ++this.#connections;
    const connection = mockConnection(40_000 + (id % 20_000));
    let queue = Promise.resolve();
    // Once a reply closed, stalled or poisoned the connection, nothing more is answered on it.
    let done = false;
    const reader = new RequestReader(
      (request) => {
        queue = queue.then(async () => {
          if (done || connection.reply.destroyed) return;
          done = !(await this.#answer(origin, id, request, connection));
        });
      },
      () => connection.reply.write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')),
      (error) => connection.fail(error),
    );
    connection.server.on('data', (chunk: Buffer) => reader.push(chunk));
    return connection.client;
  }

  /** Answers one request; false when the connection is left unusable. */
  async #answer(
    origin: string,
    id: number,
    request: ReceivedRequest,
    connection: MockConnection,
  ): Promise<boolean> {
    const text = Buffer.from(request.body).toString('utf8');
    const interceptor = this.#interceptors.find(
      (i) => i.origin === origin && i.live && i.matches(request, text),
    );
    const call: MockCall = {
      origin,
      method: request.method,
      path: request.path,
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      body: text,
      bytes: request.body,
      connection: id,
      matched: interceptor !== undefined,
    };
    this.#record(call);
    if (interceptor === undefined) {
      const waiting = this.#interceptors.filter((i) => i.origin === origin && i.live);
      const expected = waiting.map((i) => i.toString());
      const said =
        expected.length === 0
          ? `no interceptor is waiting for ${origin}`
          : `waiting for ${origin}: ${expected.join('; ')}`;
      const net = this.#netAllowed(origin) ? '' : '; net connect is disabled';
      connection.fail(
        new MockNotMatchedError(`no interceptor matched the request (${said}${net})`, expected),
      );
      return false;
    }
    let reply: Reply;
    try {
      reply = await interceptor.use(call);
    } catch (error) {
      connection.fail(error as Error);
      return false;
    }
    const closing = /(^|,)\s*close\s*($|,)/i.test(request.headers['connection'] ?? '');
    const outcome = await playReply(connection.reply, request, reply, this.#wait, closing);
    return outcome === 'open';
  }

  #record(call: MockCall): void {
    this.#calls.push(call);
    for (const waiter of this.#waiters) {
      if (this.#calls.length >= waiter.count) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Waits on the agent's clock; no wait is a turn of the event loop. */
  readonly #wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0) setImmediate(resolve);
      else this.#clock.schedule(resolve, ms);
    });
}
