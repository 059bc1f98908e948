// @ts-check
/**
 * The benchmark server: a minimal canned-response HTTP/1.1 server on `node:net`, run in its
 * own process by bench/run.mjs (pinned to its own core where `taskset` exists).
 *
 * It parses just enough: it counts request heads by their `\r\n\r\n` terminator (the bench
 * clients send GETs without a body) and answers each with a pre-built keep-alive response.
 * It listens on one port per body size and counts the connections it accepts.
 *
 * Its TLS variant is the same server behind `node:tls` (one more port per body size), with a
 * self-signed certificate made at start (bench/tls-cert.mjs). TLS 1.3 session tickets are
 * Node's defaults, so a client that offers its last session resumes it. Without openssl
 * there are no TLS ports and `ca` is null.
 *
 * Usage: node bench/server.mjs 13,16384
 * Prints one JSON line to stdout: {"ports": {"13": 40001, "16384": 40002}, "tlsPorts":
 * {"13": 40003, "16384": 40004}, "ca": PEM | null}. Then, over IPC
 * (when started with an IPC channel), answers {type:'stats'} with {type:'stats', connections,
 * requests, resumed} (resumed: TLS handshakes that resumed a session) and exits on {type:'exit'} or when the parent goes away.
 */
import net from 'node:net';
import tls from 'node:tls';
import { makeCertificate } from './tls-cert.mjs';

const sizes = (process.argv[2] ?? '13,16384').split(',').map(Number);
const TERMINATOR = Buffer.from('\r\n\r\n');

let connections = 0;
let requests = 0;
/** TLS connections whose handshake resumed a session. */
let resumed = 0;

/**
 * @param {number} size body bytes
 * @returns {Buffer} the whole response, head and body
 */
function cannedResponse(size) {
  const body = Buffer.alloc(size, 'x');
  body.write('hello world\r\n'.slice(0, size));
  const head =
    'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/plain\r\n' +
    `Content-Length: ${size}\r\n` +
    'Connection: keep-alive\r\n' +
    'Keep-Alive: timeout=600\r\n' +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/**
 * @param {Buffer} response the canned response
 * @param {{ key: string, cert: string } | undefined} secure TLS key and certificate, for the TLS variant
 * @returns {net.Server} a server answering every request head with it
 */
function makeServer(response, secure) {
  /** @param {net.Socket} socket */
  const onConnection = (socket) => {
    /** Bytes of a terminator possibly split across chunks: the last 3 bytes seen. */
    let tail = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const data = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
      let heads = 0;
      let from = 0;
      for (;;) {
        const at = data.indexOf(TERMINATOR, from);
        if (at === -1) break;
        heads++;
        from = at + 4;
      }
      const keep = Math.min(3, data.length - from);
      tail = keep > 0 ? Buffer.from(data.subarray(data.length - keep)) : Buffer.alloc(0);
      if (heads === 0) return;
      requests += heads;
      if (heads === 1) socket.write(response);
      else {
        const out = Buffer.allocUnsafe(response.length * heads);
        for (let i = 0; i < heads; i++) response.copy(out, i * response.length);
        socket.write(out);
      }
    });
    socket.on('error', () => {});
  };
  if (secure === undefined) {
    const server = net.createServer({ noDelay: true }, onConnection);
    server.on('connection', () => connections++);
    return server;
  }
  const server = tls.createServer({ ...secure, noDelay: true }, onConnection);
  // TCP connections, as the cleartext ports count them (a failed handshake counts too).
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  server.on('secureConnection', (socket) => {
    if (socket.isSessionReused()) resumed++;
  });
  return server;
}

/**
 * @param {net.Server} server
 * @returns {Promise<number>} its port on 127.0.0.1
 */
async function listen(server) {
  await new Promise((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(undefined)),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

const certificate = makeCertificate('server');
/** @type {Record<string, number>} */
const ports = {};
/** @type {Record<string, number>} */
const tlsPorts = {};
for (const size of sizes) {
  ports[String(size)] = await listen(makeServer(cannedResponse(size), undefined));
  if (certificate !== undefined)
    tlsPorts[String(size)] = await listen(makeServer(cannedResponse(size), certificate));
}
process.stdout.write(`${JSON.stringify({ ports, tlsPorts, ca: certificate?.cert ?? null })}\n`);

if (process.send !== undefined) {
  process.on('message', (/** @type {any} */ message) => {
    if (message?.type === 'stats')
      process.send?.({ type: 'stats', connections, requests, resumed });
    else if (message?.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}
// A bound on the server's life, whatever happens to the parent.
setTimeout(
  () => process.exit(0),
  Number(process.env.BENCH_SERVER_LIFETIME_MS ?? 30 * 60_000),
).unref();
