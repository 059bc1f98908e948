/**
 * The HTTP/2 side of the fault server: `node:http2` sessions over sockets the fault server
 * accepted itself, so a fault can end a connection without a GOAWAY (the raw socket is
 * closed or reset under the session), and the faults HTTP/2 has of its own: GOAWAY with a
 * last stream id below streams in flight, REFUSED_STREAM, RST_STREAM before or in the body,
 * a SETTINGS_MAX_CONCURRENT_STREAMS change.
 */
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Reply, ReplyChunk } from './wire.js';

/**
 * A fault only HTTP/2 has:
 * - `'goaway'`: GOAWAY(NO_ERROR) whose last stream id is the one below this request's, as
 *   the request arrives: it and every stream opened after it on the session are not
 *   processed (the client may send them again); streams below it are answered. On a
 *   session's first stream (node:http2 cannot name a last id of 0) the stream is refused
 *   (REFUSED_STREAM) and the GOAWAY names it: the same promise, not processed;
 * - `'refuse'`: RST_STREAM(REFUSED_STREAM) as the request arrives: not processed;
 * - `'reset-stream'`: RST_STREAM(INTERNAL_ERROR) before the response head: taken up, then
 *   failed (`StreamResetError`, not sent again);
 * - `'max-streams'`: SETTINGS_MAX_CONCURRENT_STREAMS `maxStreamsFault` (default 1) on the
 *   session, then the answer once the client acknowledged it;
 * - `'delay'`: the answer `after` ms late (drawn from 1 to `maxFaultDelay`, as the idle faults).
 */
export type H2Fault = 'goaway' | 'refuse' | 'reset-stream' | 'max-streams' | 'delay';

/** Every {@link H2Fault}. */
export const H2_ONLY_FAULTS: readonly H2Fault[] = [
  'goaway',
  'refuse',
  'reset-stream',
  'max-streams',
  'delay',
];

/** The faults a fault server decides on before it has read a request's body or asked its handler. */
const ON_ARRIVAL = new Set<string>(['goaway', 'refuse']);

/** A request as the HTTP/2 side read it, before the fault server numbers and records it. */
export interface H2Arrival {
  readonly method: string;
  readonly path: string;
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  readonly headers: Readonly<Record<string, string>>;
  readonly connection: number;
  readonly streamId: number;
}

/** What the fault server decided for a request when it arrived. */
export interface H2Decision {
  /** The fault chosen by schedule or at random, if any (the handler's own comes later). */
  readonly fault: string | undefined;
  readonly after: number;
  /**
   * Called once the body has arrived (not for a fault played on arrival): the reply to play,
   * with the fault that wins. May reject; the server answers 500 then.
   */
  readonly answer: (body: Uint8Array) => Promise<{ reply: Reply; fault: string | undefined }>;
  /** The request's fate changed: a stream above a GOAWAY's last id was never processed. */
  readonly dropped: () => void;
  /** The fate is the fault finally played (the handler's, say). */
  readonly played: (fault: string | undefined) => void;
}

/** The fault server, as the HTTP/2 side sees it. */
export interface H2Host {
  /** Called as each request's head arrives, in arrival order (the seeded draws follow it). */
  arrive(request: H2Arrival): H2Decision;
  /** A request arrived above the last id of a GOAWAY sent: recorded, never processed. */
  drop(request: H2Arrival): void;
  readonly idleTimeout: number | undefined;
  readonly maxStreamsFault: number;
  /** Waits on real timers. */
  readonly wait: (ms: number) => Promise<void>;
}

interface SessionState {
  readonly connection: number;
  readonly socket: Socket;
  /** The lowest last stream id of a GOAWAY this server sent. */
  goawayLast: number | undefined;
  streams: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/** Header fields HTTP/2 forbids (RFC 9113 §8.2.2); a reply's are left out. */
const CONNECTION_FIELDS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** HTTP/2 sessions over sockets handed in by {@link H2Sessions.accept}. */
export class H2Sessions {
  readonly #server: Http2Server | Http2SecureServer;
  readonly #host: H2Host;
  /** Accepted sockets by their remote port, until their session starts. */
  readonly #accepted = new Map<number, { socket: Socket; connection: number }>();
  readonly #sessions = new Map<ServerHttp2Session, SessionState>();

  constructor(
    host: H2Host,
    tls: { key: string; cert: string } | undefined,
    maxConcurrentStreams: number | undefined,
  ) {
    this.#host = host;
    const settings =
      maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: maxConcurrentStreams };
    this.#server =
      tls === undefined
        ? createServer({ settings })
        : createSecureServer({ key: tls.key, cert: tls.cert, settings, ALPNProtocols: ['h2'] });
    this.#server.on('session', (session: ServerHttp2Session) => this.#session(session));
    // Both server kinds emit the same 'stream' event; one signature serves.
    (this.#server as Http2Server).on(
      'stream',
      (
        stream: ServerHttp2Stream,
        headers: IncomingHttpHeaders,
        _flags: number,
        rawHeaders: string[],
      ) => this.#stream(stream, headers, rawHeaders),
    );
    this.#server.on('sessionError', () => {});
    this.#server.on('tlsClientError', () => {});
  }

  /** Serves HTTP/2 on a socket the fault server accepted (its `connection` number given). */
  accept(socket: Socket, connection: number): void {
    const port = socket.remotePort;
    if (port !== undefined) this.#accepted.set(port, { socket, connection });
    socket.once('close', () => {
      if (port !== undefined && this.#accepted.get(port)?.socket === socket) {
        this.#accepted.delete(port);
      }
    });
    // A TLS server wraps the raw socket itself, as if it had accepted it.
    this.#server.emit('connection', socket);
  }

  #session(session: ServerHttp2Session): void {
    session.on('error', () => {});
    const port = session.socket?.remotePort;
    const accepted = port === undefined ? undefined : this.#accepted.get(port);
    if (accepted === undefined) {
      session.destroy();
      return;
    }
    this.#accepted.delete(port as number);
    const state: SessionState = {
      connection: accepted.connection,
      socket: accepted.socket,
      goawayLast: undefined,
      streams: 0,
      idleTimer: undefined,
    };
    this.#sessions.set(session, state);
    session.on('close', () => {
      clearTimeout(state.idleTimer);
      this.#sessions.delete(session);
    });
    this.#idle(session, state);
  }

  /** With `idleTimeout`, a session without streams that long is closed (GOAWAY, then FIN). */
  #idle(session: ServerHttp2Session, state: SessionState): void {
    const { idleTimeout } = this.#host;
    clearTimeout(state.idleTimer);
    if (idleTimeout === undefined || state.streams > 0) return;
    state.idleTimer = setTimeout(() => {
      if (!session.destroyed) session.close();
    }, idleTimeout);
  }

  #stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
    stream.on('error', () => {});
    const session = stream.session as ServerHttp2Session | undefined;
    const state = session === undefined ? undefined : this.#sessions.get(session);
    if (session === undefined || state === undefined) {
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const id = stream.id ?? 0;
    const pairs: Array<readonly [string, string]> = [];
    const fields: Record<string, string> = Object.create(null);
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      const value = rawHeaders[i + 1] as string;
      if (name.startsWith(':')) continue;
      pairs.push([name, value]);
      fields[name] = fields[name] === undefined ? value : `${fields[name]}, ${value}`;
    }
    const arrival: H2Arrival = {
      method: String(headers[':method'] ?? 'GET'),
      path: String(headers[':path'] ?? '/'),
      rawHeaders: pairs,
      headers: fields,
      connection: state.connection,
      streamId: id,
    };
    if (state.goawayLast !== undefined && id > state.goawayLast) {
      // Sent before the client read this server's GOAWAY: never processed, and it takes no
      // seeded draw, so a replayed run does not depend on how that race went.
      this.#host.drop(arrival);
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const decision = this.#host.arrive(arrival);
    state.streams++;
    clearTimeout(state.idleTimer);
    stream.once('close', () => {
      state.streams--;
      // nghttp2 closes the streams above a GOAWAY's last id it sent with REFUSED_STREAM.
      if (
        state.goawayLast !== undefined &&
        id > state.goawayLast &&
        stream.rstCode === constants.NGHTTP2_REFUSED_STREAM
      ) {
        decision.dropped();
      }
      if (!session.destroyed) this.#idle(session, state);
    });
    if (decision.fault !== undefined && ON_ARRIVAL.has(decision.fault)) {
      this.#onArrival(decision.fault, stream, session, state);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => {
      decision
        .answer(new Uint8Array(Buffer.concat(chunks)))
        .then(({ reply, fault }) => {
          decision.played(fault);
          if (fault !== undefined && ON_ARRIVAL.has(fault)) {
            this.#onArrival(fault, stream, session, state);
            return;
          } else {
            const method = String(headers[':method'] ?? 'GET');
            return this.#play(stream, session, state, method, reply, fault, decision.after);
          }
        })
        .catch(() => {
          if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        });
    });
  }

  #onArrival(
    fault: string,
    stream: ServerHttp2Stream,
    session: ServerHttp2Session,
    state: SessionState,
  ): void {
    if (stream.destroyed || stream.closed) return;
    if (fault === 'refuse') {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // 'goaway': the last id is the client stream below this one (client ids are odd).
    const id = stream.id ?? 1;
    const last = id - 2;
    if (last <= 0) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      state.goawayLast = 0;
      // Without an id, node:http2 names the last stream it took up: this one, just refused.
      session.goaway(constants.NGHTTP2_NO_ERROR);
    } else {
      state.goawayLast = Math.min(last, state.goawayLast ?? last);
      session.goaway(constants.NGHTTP2_NO_ERROR, state.goawayLast);
      // nghttp2 closes this stream (above the last id) once the GOAWAY is out; in case not:
      setImmediate(() => {
        if (!stream.destroyed && !stream.closed) stream.close(constants.NGHTTP2_REFUSED_STREAM);
      });
    }
    // The streams below finish; then the session ends.
    session.close();
  }

  async #play(
    stream: ServerHttp2Stream,
    session: ServerHttp2Session,
    state: SessionState,
    method: string,
    reply: Reply,
    fault: string | undefined,
    after: number,
  ): Promise<void> {
    const { wait } = this.#host;
    const gone = () => stream.destroyed || stream.closed;
    if ((reply.delay ?? 0) > 0) await wait(reply.delay ?? 0);
    if (fault === 'delay') await wait(reply.after ?? after);
    if (gone()) return;
    switch (fault) {
      case 'close':
        // No GOAWAY: the connection just ends under the session.
        state.socket.destroy();
        return;
      case 'reset':
        state.socket.resetAndDestroy();
        return;
      case 'stall':
        return;
      case 'reset-stream':
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return;
      case 'max-streams':
        await new Promise<void>((resolve) => {
          try {
            session.settings({ maxConcurrentStreams: this.#host.maxStreamsFault }, () => resolve());
          } catch {
            resolve();
          }
        });
        if (gone()) return;
        break;
      default:
    }
    const { head, pieces } = h2Reply(reply, method);
    const body = Buffer.concat(pieces.map((piece) => piece.data));
    const bodiless = pieces.length === 0;
    if (fault === 'stall-body' || fault === 'cut-body' || fault === 'reset-body') {
      // waitForTrailers: node:http2 would otherwise flush END_STREAM before a reset.
      stream.respond(head, { waitForTrailers: true });
      const cut = Math.min(
        reply.cutAt ?? Math.floor(body.length / 2),
        Math.max(0, body.length - 1),
      );
      const part = body.subarray(0, cut);
      await new Promise<void>((resolve) => {
        if (part.length === 0) resolve();
        else stream.write(part, () => resolve());
      });
      if (fault === 'cut-body') state.socket.destroy();
      else if (fault === 'reset-body' && !gone()) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    stream.respond(head, { endStream: bodiless });
    if (fault === 'drip') {
      const step = reply.dripBytes ?? 1;
      for (let at = 0; at < body.length; at += step) {
        if (gone()) return;
        stream.write(body.subarray(at, at + step));
        await wait(reply.dripDelay ?? 0);
      }
    } else {
      for (const piece of pieces) {
        if (piece.delay > 0) await wait(piece.delay);
        if (gone()) return;
        stream.write(piece.data);
      }
    }
    if (!bodiless && !gone()) stream.end();
    const afterAnswer = () => {
      if (session.destroyed) return;
      if (fault === 'connection-close' || reply.connectionClose === true) {
        // The graceful close: this stream was the last one processed.
        session.goaway(constants.NGHTTP2_NO_ERROR, stream.id ?? 0);
        session.close();
      } else if (fault === 'idle-close') {
        void wait(reply.after ?? after).then(() => {
          if (!session.destroyed) session.close();
        });
      } else if (fault === 'idle-reset') {
        void wait(reply.after ?? after).then(() => state.socket.resetAndDestroy());
      }
    };
    if (stream.closed || stream.destroyed) afterAnswer();
    else stream.once('close', afterAnswer);
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }
}

const toBytes = (data: string | Uint8Array): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);

/** The response head and body pieces of `reply` over HTTP/2. */
export function h2Reply(
  reply: Reply,
  method: string,
): { head: OutgoingHttpHeaders; pieces: Array<{ data: Buffer; delay: number }> } {
  const status = reply.status ?? 200;
  const head: OutgoingHttpHeaders = { ':status': status };
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    if (CONNECTION_FIELDS.has(key)) return;
    const existing = head[key];
    if (existing === undefined) head[key] = value;
    else head[key] = [...(Array.isArray(existing) ? existing : [String(existing)]), value];
  };
  const headers = reply.headers;
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as Array<readonly [string, string]>) add(name, value);
  } else if (headers !== undefined) {
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const item of value) add(name, String(item));
      else add(name, String(value));
    }
  }
  let body = reply.body;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    if (head['content-type'] === undefined) head['content-type'] = 'application/json';
  }
  const list: readonly ReplyChunk[] =
    body === undefined
      ? []
      : typeof body === 'string' || body instanceof Uint8Array
        ? [body]
        : body;
  const bodiless = method === 'HEAD' || status === 204 || status === 304;
  const pieces = bodiless
    ? []
    : list
        .map((chunk) =>
          typeof chunk === 'string' || chunk instanceof Uint8Array
            ? { data: toBytes(chunk), delay: 0 }
            : { data: toBytes(chunk.data), delay: chunk.delay },
        )
        .filter((piece) => piece.data.length > 0);
  const framing = reply.framing ?? (Array.isArray(body) ? 'chunked' : 'length');
  if (framing === 'length' && head['content-length'] === undefined && !bodiless) {
    head['content-length'] = pieces.reduce((sum, piece) => sum + piece.data.length, 0);
  }
  return { head, pieces };
}
