/**
 * A fault-injecting HTTP/2 server (`node:http2`) in a child process, for tests that check an
 * h2 client keeps its promises when the server misbehaves. Two listeners: TLS with ALPN `h2`
 * (plus `http/1.1` with `allowHTTP1`) and cleartext h2c (prior knowledge). Each sits behind a
 * small TCP relay in the child, so a session can go silent or lose its socket without a GOAWAY,
 * which node:http2 alone cannot do.
 *
 * A request chooses its fault by path; query parameters tune it:
 * - any other path: `200`, body `ok <request id>`; `delay=ms` before the headers, `size=N`
 *   body bytes (`x` repeated) instead, `status=N`;
 * - `/echo`: `200`, JSON `{ method, path, headers, body }` once the request body ended;
 * - `/stall-headers`: never answers; `/stall-body?bytes=N`: headers and N bytes, then nothing;
 * - `/drip?chunks=N&every=ms`: N one-byte DATA frames, `every` ms apart;
 * - `/rst?bytes=N&code=C`: headers and N bytes, then RST_STREAM(C, default INTERNAL_ERROR 2);
 *   `headers=0` resets before the headers;
 * - `/refuse?times=K`: RST_STREAM(REFUSED_STREAM) for the first K attempts of this request id
 *   (all of them without `times`), then answers like `/`;
 * - `/goaway?last=L&code=C&streams=K&delay=ms`: once K streams are open on the session (default
 *   1, at most 2 s) and `delay` passed, sends GOAWAY(C, default 0; last-stream-id L, default this
 *   stream's id). Streams above L are closed by nghttp2 and count as not processed. node:http2
 *   clamps L to the highest stream it received and cannot send 0 (the raw server can);
 * - `/settings?mcs=N`: sends SETTINGS_MAX_CONCURRENT_STREAMS N (0 allowed) and answers once
 *   the client acked it;
 * - `/destroy?mode=M&delay=ms`: ends the session with streams in flight. `close` (default):
 *   FIN on the TCP socket, no GOAWAY; `reset`: TCP RST, no GOAWAY; `goaway`: `session.destroy()`,
 *   which sends GOAWAY(NO_ERROR) naming every stream it received;
 * - `/silent`: the session goes silent both ways (PINGs unanswered, nothing sent), socket open;
 * - `/trailers`: body, then trailers `x-trailer: yes`; `/early-hints`: a 103 then `/`;
 * - `/__counts`: the JSON of `counts()` (not itself counted).
 * Every response carries `x-request-id`, `x-session` (1, 2, ... in accept order) and
 * `x-stream-id`. Each request names itself with `x-request-id`; the server records every
 * attempt and its fate, so a test can assert that no request was processed twice.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type Settings as Http2Settings,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { makeCertificates, type TestCertificates } from './tls.js';

/** Options of {@link startH2FaultServer}. */
export interface H2FaultServerOptions {
  /** SETTINGS every session starts with, e.g. `{ maxConcurrentStreams: 1 }`. */
  settings?: Http2Settings;
  /** The TLS listener also offers ALPN `http/1.1` (answers `/` and `/echo` over HTTP/1.1). */
  allowHTTP1?: boolean;
  /** Server certificate and key; default {@link makeCertificates}. */
  certs?: TestCertificates;
}

/**
 * What became of one request attempt: `pending` (still open), `ok` (answered in full),
 * `refused` (REFUSED_STREAM by the server), `goaway` (closed by nghttp2 for being above a
 * GOAWAY's last-stream-id), `reset` (the server reset it mid-response), `aborted` (the client
 * reset it or the session ended first), `http1` (answered over HTTP/1.1).
 */
export type H2Fate = 'pending' | 'ok' | 'refused' | 'goaway' | 'reset' | 'aborted' | 'http1';

/** One request attempt as the server saw it. */
export interface H2Attempt {
  /** The `x-request-id` header, or `?` without one. */
  requestId: string;
  method: string;
  path: string;
  /** The session's number (1, 2, ... in accept order). */
  session: number;
  /** The stream id (0 over HTTP/1.1). */
  streamId: number;
  fate: H2Fate;
}

/** Per request id: attempts that reached the server, and those it may have processed. */
export interface H2Count {
  received: number;
  /** Attempts whose fate is neither `refused` nor `goaway` (the protocol's "not processed"). */
  processed: number;
}

/** What the server saw of sessions and streams. */
export interface H2FaultStats {
  /** Sessions accepted so far (HTTP/1.1 connections not included). */
  sessions: number;
  /** Sessions open now. */
  openSessions: number;
  /** h2 streams open now, over all sessions. */
  openStreams: number;
  /** The most h2 streams ever open at once on one session. */
  maxStreamsPerSession: number;
  /** TCP connections accepted by the relays, both listeners, HTTP/1.1 included. */
  connections: number;
}

/** A running fault server in a child process. */
export interface H2FaultServer {
  readonly tlsPort: number;
  readonly h2cPort: number;
  /** `https://127.0.0.1:PORT` (the certificate names 127.0.0.1). */
  readonly tlsOrigin: string;
  /** `http://127.0.0.1:PORT`, HTTP/2 with prior knowledge. */
  readonly h2cOrigin: string;
  /** The CA that signed the server certificate (`tls: { ca }`). */
  readonly ca: string;
  readonly child: ChildProcess;
  /** Every attempt since the start (or the last {@link reset}), in arrival order. */
  attempts(): Promise<H2Attempt[]>;
  /** Attempts per request id. */
  counts(): Promise<Record<string, H2Count>>;
  stats(): Promise<H2FaultStats>;
  /** Resolves once `n` h2 streams are open at once over all sessions; rejects after `timeoutMs`. */
  waitForStreams(n: number, timeoutMs?: number): Promise<void>;
  /** GOAWAY(`code`, `lastStreamId`) on every open session, or on session `session` only. */
  goaway(options?: { code?: number; lastStreamId?: number; session?: number }): Promise<void>;
  /** New SETTINGS on every open session (or one); resolves once each client acked them. */
  settings(settings: Http2Settings, session?: number): Promise<void>;
  /** Ends every open session (or one) as `/destroy?mode=` does. */
  destroySessions(mode: 'close' | 'reset' | 'goaway', session?: number): Promise<void>;
  /** Silences every open session (or one) as `/silent` does. */
  silence(session?: number): Promise<void>;
  /** Forgets the attempts recorded so far. */
  reset(): Promise<void>;
  /** Ends the child and waits for it to exit. */
  close(): Promise<void>;
}

const CHILD_FLAG = 'HTTPOOL_H2_FAULT_CHILD';
const OPTIONS_ENV = 'HTTPOOL_H2_FAULT_OPTIONS';

interface Reply {
  seq: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Starts the server in a new Node process and resolves once both listeners are up. */
export async function startH2FaultServer(
  options: H2FaultServerOptions = {},
): Promise<H2FaultServer> {
  const certs = options.certs ?? makeCertificates();
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: {
      ...process.env,
      [CHILD_FLAG]: '1',
      [OPTIONS_ENV]: JSON.stringify({
        settings: options.settings ?? {},
        allowHTTP1: options.allowHTTP1 ?? false,
        key: certs.key,
        cert: certs.cert,
      }),
    },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // A test that fails before close() must not keep its file running: only pending calls
  // (each with its own timer) hold the event loop.
  child.unref();
  child.channel?.unref();
  const ports = await new Promise<{ tlsPort: number; h2cPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('h2 fault server did not start in 10 s'));
    }, 10_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as { tlsPort: number; h2cPort: number });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`h2 fault server exited with ${code} before it listened`));
    });
  });

  let seq = 0;
  const pending = new Map<number, (reply: Reply) => void>();
  child.on('message', (message) => {
    const reply = message as Reply;
    pending.get(reply.seq)?.(reply);
  });
  const call = <T>(op: string, args: unknown = {}, timeoutMs = 5000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`h2 fault server: ${op} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        pending.delete(id);
        if (reply.ok) resolve(reply.value as T);
        else reject(new Error(`h2 fault server: ${op}: ${reply.error}`));
      });
      child.send({ seq: id, op, args });
    });

  return {
    ...ports,
    tlsOrigin: `https://127.0.0.1:${ports.tlsPort}`,
    h2cOrigin: `http://127.0.0.1:${ports.h2cPort}`,
    ca: certs.ca,
    child,
    attempts: () => call('attempts'),
    counts: () => call('counts'),
    stats: () => call('stats'),
    waitForStreams: (n, timeoutMs = 2000) =>
      call('waitForStreams', { n, timeoutMs }, timeoutMs + 1000),
    goaway: (args = {}) => call('goaway', args),
    settings: (settings, session) => call('settings', { settings, session }),
    destroySessions: (mode, session) => call('destroy', { mode, session }),
    silence: (session) => call('silence', { session }),
    reset: () => call('reset'),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      // Unreferenced since the start: the wait for its exit must hold the event loop.
      child.ref();
      child.kill();
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------
// The child: everything below runs in the server process.

/** A TCP relay between a client and the real server, which a fault can silence or cut. */
interface Relay {
  front: Socket;
  back: Socket;
  silent: boolean;
}

interface SessionState {
  index: number;
  relay: () => Relay | undefined;
  open: Set<ServerHttp2Stream>;
  /** The last-stream-id of the GOAWAY this server sent, if any. */
  goawayLast: number | undefined;
  /** The highest stream id received. */
  lastReceived: number;
}

function runChild(): void {
  const config = JSON.parse(process.env[OPTIONS_ENV] ?? '{}') as {
    settings: Http2Settings;
    allowHTTP1: boolean;
    key: string;
    cert: string;
  };
  const attempts: H2Attempt[] = [];
  const sessions = new Map<Http2Session, SessionState>();
  const relaysByBackPort = new Map<number, Relay>();
  const refusals = new Map<string, number>();
  const streamWaiters: Array<{ n: number; resolve: () => void }> = [];
  let sessionCount = 0;
  let connections = 0;
  let maxStreamsPerSession = 0;

  const openStreams = () => {
    let total = 0;
    for (const state of sessions.values()) total += state.open.size;
    return total;
  };
  const wakeStreamWaiters = () => {
    const open = openStreams();
    for (let i = streamWaiters.length - 1; i >= 0; i--) {
      if (open >= streamWaiters[i]!.n) streamWaiters.splice(i, 1)[0]!.resolve();
    }
  };
  const counts = () => {
    const out: Record<string, H2Count> = {};
    for (const attempt of attempts) {
      const count = out[attempt.requestId] ?? { received: 0, processed: 0 };
      count.received++;
      if (attempt.fate !== 'refused' && attempt.fate !== 'goaway') count.processed++;
      out[attempt.requestId] = count;
    }
    return out;
  };
  const selected = (session: number | undefined) =>
    [...sessions.entries()].filter(
      ([s, state]) => !s.destroyed && (session === undefined || state.index === session),
    );

  const sendGoaway = (session: Http2Session, code: number, last: number) => {
    const state = sessions.get(session);
    if (state === undefined || session.destroyed) return;
    // nghttp2 clamps the id to the highest stream received; the record must agree.
    const effective = Math.min(last, state.lastReceived);
    state.goawayLast = Math.min(effective, state.goawayLast ?? effective);
    session.goaway(code, last);
  };
  const destroySession = (session: Http2Session, mode: string) => {
    const relay = sessions.get(session)?.relay();
    if (mode === 'goaway' || relay === undefined) {
      session.destroy();
    } else if (mode === 'reset') {
      relay.front.resetAndDestroy();
      relay.back.destroy();
    } else {
      relay.front.destroySoon();
      relay.back.destroy();
    }
  };
  const silence = (session: Http2Session) => {
    const relay = sessions.get(session)?.relay();
    if (relay !== undefined) relay.silent = true;
  };

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session as ServerHttp2Session;
    const state = sessions.get(session);
    stream.on('error', () => {});
    const url = new URL(String(headers[':path'] ?? '/'), 'http://x');
    const query = (name: string, fallback: number) => {
      const value = url.searchParams.get(name);
      return value === null || value === '' ? fallback : Number(value);
    };
    const requestId = String(headers['x-request-id'] ?? '?');
    const streamId = stream.id ?? 0;
    if (url.pathname === '/__counts') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(counts()));
      return;
    }
    if (state === undefined) {
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const attempt: H2Attempt = {
      requestId,
      method: String(headers[':method']),
      path: String(headers[':path']),
      session: state.index,
      streamId,
      fate: 'pending',
    };
    attempts.push(attempt);
    state.lastReceived = Math.max(state.lastReceived, streamId);
    state.open.add(stream);
    maxStreamsPerSession = Math.max(maxStreamsPerSession, state.open.size);
    wakeStreamWaiters();
    let answered = false;
    stream.on('close', () => {
      state.open.delete(stream);
      if (attempt.fate !== 'pending') return;
      // nghttp2 closes the streams above a GOAWAY's last id it sent with REFUSED_STREAM.
      const aboveGoaway = state.goawayLast !== undefined && streamId > state.goawayLast;
      if (aboveGoaway && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
        attempt.fate = 'goaway';
      } else if (answered && stream.rstCode === constants.NGHTTP2_NO_ERROR) attempt.fate = 'ok';
      else attempt.fate = 'aborted';
    });
    const base = {
      'x-request-id': requestId,
      'x-session': String(state.index),
      'x-stream-id': String(streamId),
    };
    const respond = (status: number, body: string | Buffer, extra: Record<string, string> = {}) => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ':status': status, ...base, ...extra });
      answered = true;
      stream.end(body);
    };
    const answerOk = () => {
      const size = query('size', -1);
      const body = size >= 0 ? 'x'.repeat(size) : `ok ${requestId}`;
      const send = () => respond(query('status', 200), body);
      const delay = query('delay', 0);
      if (delay > 0) setTimeout(send, delay);
      else send();
    };
    const reset = (code: number) => {
      attempt.fate = code === constants.NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset';
      stream.close(code);
    };
    // Bodies are read out (and dropped) unless a fault wants them.
    if (url.pathname !== '/echo') stream.resume();

    switch (url.pathname) {
      case '/echo': {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () =>
          respond(
            200,
            JSON.stringify({
              method: headers[':method'],
              path: headers[':path'],
              headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
            { 'content-type': 'application/json' },
          ),
        );
        return;
      }
      case '/stall-headers':
        return;
      case '/stall-body':
        stream.respond({ ':status': 200, ...base });
        stream.write('x'.repeat(query('bytes', 1)));
        return;
      case '/drip': {
        stream.respond({ ':status': 200, ...base });
        let left = query('chunks', 3);
        const timer = setInterval(
          () => {
            if (stream.destroyed || left <= 0) {
              clearInterval(timer);
              return;
            }
            left--;
            if (left === 0) {
              answered = true;
              stream.end('x');
            } else stream.write('x');
          },
          query('every', 10),
        );
        return;
      }
      case '/rst': {
        const code = query('code', constants.NGHTTP2_INTERNAL_ERROR);
        if (query('headers', 1) === 0) {
          reset(code);
          return;
        }
        // waitForTrailers keeps close() from ending the body first: node:http2 flushes a
        // final DATA with END_STREAM before an RST_STREAM otherwise, and the reset is lost.
        stream.respond({ ':status': 200, ...base }, { waitForTrailers: true });
        const bytes = query('bytes', 0);
        if (bytes > 0) stream.write('x'.repeat(bytes), () => reset(code));
        else reset(code);
        return;
      }
      case '/refuse': {
        const used = refusals.get(requestId) ?? 0;
        if (used < query('times', Number.POSITIVE_INFINITY)) {
          refusals.set(requestId, used + 1);
          reset(constants.NGHTTP2_REFUSED_STREAM);
        } else answerOk();
        return;
      }
      case '/goaway': {
        const wanted = query('streams', 1);
        const deadline = Date.now() + 2000;
        const fire = () => {
          sendGoaway(session, query('code', 0), query('last', streamId));
          // node:http2 leaves this stream open when it is at or below the last id.
          respond(200, `ok ${requestId}`);
        };
        const poll = () => {
          if (state.open.size >= wanted || Date.now() > deadline) {
            setTimeout(fire, query('delay', 0));
          } else setTimeout(poll, 2);
        };
        poll();
        return;
      }
      case '/settings':
        session.settings({ maxConcurrentStreams: query('mcs', 100) }, () =>
          respond(200, `ok ${requestId}`),
        );
        return;
      case '/destroy':
        setTimeout(
          () => destroySession(session, url.searchParams.get('mode') ?? 'close'),
          query('delay', 0),
        );
        return;
      case '/silent':
        silence(session);
        return;
      case '/trailers':
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, ...base }, { waitForTrailers: true });
        stream.on('wantTrailers', () => {
          answered = true;
          stream.sendTrailers({ 'x-trailer': 'yes', 'x-request-id': requestId });
        });
        stream.end(`ok ${requestId}`);
        return;
      case '/early-hints':
        stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
        answerOk();
        return;
      default:
        answerOk();
    }
  };

  const configure = (server: Http2Server | Http2SecureServer) => {
    server.on('session', (session: ServerHttp2Session) => {
      sessionCount++;
      const socket = session.socket;
      const port = socket.remotePort;
      const state: SessionState = {
        index: sessionCount,
        relay: () => (port === undefined ? undefined : relaysByBackPort.get(port)),
        open: new Set(),
        goawayLast: undefined,
        lastReceived: 0,
      };
      sessions.set(session, state);
      session.on('error', () => {});
      session.on('close', () => sessions.delete(session));
    });
    server.on('stream', onStream);
    server.on('sessionError', () => {});
  };

  const h2c = createServer({ settings: config.settings });
  configure(h2c);
  const tls = createSecureServer({
    key: config.key,
    cert: config.cert,
    allowHTTP1: config.allowHTTP1,
    settings: config.settings,
  });
  configure(tls);
  tls.on('tlsClientError', () => {});
  if (config.allowHTTP1) {
    // With a 'request' listener node:http2 also emits h2 streams as requests: those are
    // answered by onStream, so only HTTP/1.1 is handled here.
    tls.on('request', (req, res) => {
      if (req.httpVersionMajor === 2) return;
      const requestId = String(req.headers['x-request-id'] ?? '?');
      attempts.push({
        requestId,
        method: req.method,
        path: req.url,
        session: 0,
        streamId: 0,
        fate: 'http1',
      });
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body =
          req.url === '/echo'
            ? JSON.stringify({
                method: req.method,
                path: req.url,
                headers: req.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              })
            : `ok ${requestId}`;
        res.writeHead(200, { 'x-request-id': requestId, 'x-http-version': req.httpVersion });
        res.end(body);
      });
    });
  }

  /** A relay listener in front of `target`'s port; returns its own port. */
  const front = async (target: number): Promise<number> => {
    const relay = createNetServer((client) => {
      connections++;
      const back = connect(target, '127.0.0.1');
      const entry: Relay = { front: client, back, silent: false };
      back.on('connect', () => relaysByBackPort.set(back.localPort!, entry));
      const pipe = (from: Socket, to: Socket) => {
        from.on('data', (chunk: Buffer) => {
          if (entry.silent || to.destroyed) return;
          if (!to.write(chunk)) {
            from.pause();
            to.once('drain', () => from.resume());
          }
        });
        from.on('end', () => {
          if (!entry.silent) to.end();
        });
        from.on('close', () => {
          // destroySoon: what was already relayed still reaches the other side.
          if (!entry.silent) to.destroySoon();
          else if (from === client) back.destroy();
        });
        from.on('error', () => {});
      };
      pipe(client, back);
      pipe(back, client);
      back.on('close', () => {
        if (back.localPort !== undefined) relaysByBackPort.delete(back.localPort);
      });
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    return (relay.address() as AddressInfo).port;
  };

  process.on('message', (raw) => {
    const message = raw as { seq: number; op: string; args: Record<string, unknown> };
    const reply = (value?: unknown): void => {
      process.send!({ seq: message.seq, ok: true, value });
    };
    const fail = (error: unknown): void => {
      process.send!({ seq: message.seq, ok: false, error: String(error) });
    };
    const { args } = message;
    const session = args['session'] as number | undefined;
    try {
      switch (message.op) {
        case 'attempts':
          return reply(attempts);
        case 'counts':
          return reply(counts());
        case 'stats':
          return reply({
            sessions: sessionCount,
            openSessions: [...sessions.keys()].filter((s) => !s.destroyed).length,
            openStreams: openStreams(),
            maxStreamsPerSession,
            connections,
          } satisfies H2FaultStats);
        case 'waitForStreams': {
          const n = args['n'] as number;
          const waiter = {
            n,
            resolve: () => {
              clearTimeout(timer);
              reply();
            },
          };
          const timer = setTimeout(() => {
            streamWaiters.splice(streamWaiters.indexOf(waiter), 1);
            fail(`fewer than ${n} streams open after ${args['timeoutMs']} ms`);
          }, args['timeoutMs'] as number);
          streamWaiters.push(waiter);
          wakeStreamWaiters();
          return;
        }
        case 'goaway':
          for (const [s] of selected(session)) {
            sendGoaway(
              s,
              (args['code'] as number) ?? 0,
              (args['lastStreamId'] as number) ?? 2 ** 31 - 1,
            );
          }
          return reply();
        case 'settings': {
          const targets = selected(session);
          let left = targets.length;
          if (left === 0) return reply();
          for (const [s] of targets) {
            s.settings(args['settings'] as Http2Settings, () => {
              if (--left === 0) reply();
            });
          }
          return;
        }
        case 'destroy':
          for (const [s] of selected(session)) destroySession(s, args['mode'] as string);
          return reply();
        case 'silence':
          for (const [s] of selected(session)) silence(s);
          return reply();
        case 'reset':
          attempts.length = 0;
          refusals.clear();
          return reply();
        default:
          return fail(`unknown op ${message.op}`);
      }
    } catch (error) {
      fail(error);
    }
  });
  // The parent went away: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));

  void (async () => {
    await new Promise<void>((resolve) => h2c.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const h2cPort = await front((h2c.address() as AddressInfo).port);
    const tlsPort = await front((tls.address() as AddressInfo).port);
    process.send!({ tlsPort, h2cPort });
  })();
}

if (process.env[CHILD_FLAG] === '1' && process.send !== undefined) runChild();
