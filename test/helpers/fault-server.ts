/**
 * A seeded, fault-injecting HTTP/1.1 server on loopback, for tests that check a client keeps
 * its promises when the server misbehaves. Each request names itself with an `x-id` header;
 * the server answers with that id in the body (so a misdelivered response is caught) and
 * records what it did to each request, so a test can tell an allowed failure from a bug.
 *
 * Faults, each drawn per request with the given probabilities:
 * - `idleClose`: after answering, close the connection a random few ms later, while idle;
 * - `resetAfter`: after answering, reset the connection (RST) a few ms later;
 * - `connectionClose`: answer with `Connection: close` and close;
 * - `stall`: never answer (the client's headersTimeout must fire);
 * - `cutBody`: send the head and part of the body, then close;
 * - `unsolicited`: after answering, write stray bytes on the idle connection, then close.
 * A request that arrives on a connection the server already decided to close is dropped
 * without a response (the keep-alive close race), recorded as `dropped`; on a connection
 * that got stray bytes it is recorded as `poisoned`: HTTP/1.1 has no request ids, so no
 * client can tell stray bytes that race a request from its answer. The stray bytes are not
 * valid HTTP, so such a request fails loudly instead of being answered wrongly.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { prng } from './random.js';
import { onRequests } from './servers.js';

/** Probabilities (0..1) of each fault per request. */
export interface FaultRates {
  idleClose: number;
  resetAfter: number;
  connectionClose: number;
  stall: number;
  cutBody: number;
  unsolicited: number;
}

/** What the server did with one request attempt. */
export type Fate =
  | 'ok'
  | 'idle-close'
  | 'reset-after'
  | 'connection-close'
  | 'stall'
  | 'cut-body'
  | 'unsolicited'
  | 'dropped'
  | 'poisoned';

/** Fates after which the client could not have received a complete response. */
export const FAILING_FATES: ReadonlySet<Fate> = new Set([
  'stall',
  'cut-body',
  'reset-after',
  'poisoned',
]);

/** A running fault server. */
export interface FaultServer {
  readonly origin: string;
  /** Every attempt at each id, in arrival order: method and fate. */
  readonly seen: Map<string, Array<{ method: string; fate: Fate }>>;
  /** Connections accepted. */
  connections: number;
  close(): Promise<void>;
}

const FAULT_ORDER: Array<[keyof FaultRates, Fate]> = [
  ['stall', 'stall'],
  ['cutBody', 'cut-body'],
  ['connectionClose', 'connection-close'],
  ['resetAfter', 'reset-after'],
  ['idleClose', 'idle-close'],
  ['unsolicited', 'unsolicited'],
];

/** Starts the server on 127.0.0.1 with the given seed and fault rates. */
export async function startFaultServer(seed: number, rates: FaultRates): Promise<FaultServer> {
  const random = prng(seed);
  const sockets = new Set<Socket>();
  const state: FaultServer = {
    origin: '',
    seen: new Map(),
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const record = (id: string, method: string, fate: Fate) => {
    const attempts = state.seen.get(id) ?? [];
    if (attempts.length === 0) state.seen.set(id, attempts);
    attempts.push({ method, fate });
  };

  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let closing = false;
    let poisoned = false;
    const later = (fn: () => void) => setTimeout(fn, 1 + Math.floor(random() * 10));
    onRequests(socket, (head) => {
      const method = head.slice(0, head.indexOf(' '));
      const id = /\r\nx-id:\s*(\S+)/i.exec(head)?.[1] ?? '?';
      if (closing || socket.destroyed) {
        record(id, method, poisoned ? 'poisoned' : 'dropped');
        return;
      }
      let fate: Fate = 'ok';
      const roll = random();
      let threshold = 0;
      for (const [key, name] of FAULT_ORDER) {
        threshold += rates[key];
        if (roll < threshold) {
          fate = name;
          break;
        }
      }
      record(id, method, fate);
      const body = `id:${id}:${'x'.repeat(Math.floor(random() * 2000))}`;
      const response = (extra: string) =>
        `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nx-id: ${id}\r\n${extra}\r\n${body}`;
      switch (fate) {
        case 'stall':
          closing = true;
          return;
        case 'cut-body': {
          closing = true;
          const full = response('');
          socket.end(full.slice(0, full.length - 1 - Math.floor(random() * body.length)));
          return;
        }
        case 'connection-close':
          closing = true;
          socket.end(response('connection: close\r\n'));
          return;
        case 'reset-after':
          closing = true;
          socket.write(response(''), () => later(() => socket.resetAndDestroy()));
          return;
        case 'idle-close':
          closing = true;
          socket.write(response(''), () => later(() => socket.end()));
          return;
        case 'unsolicited':
          closing = true;
          poisoned = true;
          socket.write(response(''), () => later(() => socket.end('\x00stray bytes\r\n')));
          return;
        default:
          socket.write(response(''));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(state, { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return state;
}
