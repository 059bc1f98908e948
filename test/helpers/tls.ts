/**
 * TLS material for tests, made at test time with the `openssl` CLI in a temporary directory:
 * a throwaway CA and a server certificate it signed for `localhost` and `127.0.0.1`. Also a
 * `node:tls` server that answers every request with a fixed response and records what each
 * connection looked like (SNI name, session resumption).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

/** A CA certificate and a server key pair it signed. PEM strings. */
export interface TestCertificates {
  /** The CA certificate to trust (`tls: { ca }`). */
  ca: string;
  /** The server's certificate (subjectAltName DNS:localhost, IP:127.0.0.1). */
  cert: string;
  /** The server's private key. */
  key: string;
}

let cached: TestCertificates | undefined;

/** Makes (once per process) a CA and a server certificate for localhost and 127.0.0.1. */
export function makeCertificates(): TestCertificates {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'httpool-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=httpool test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    openssl(
      'req',
      '-new',
      ...ec,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(
      file('server.ext'),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '',
      ].join('\n'),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.crt'),
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
    );
    cached = {
      ca: readFileSync(file('ca.crt'), 'utf8'),
      cert: readFileSync(file('server.crt'), 'utf8'),
      key: readFileSync(file('server.key'), 'utf8'),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the TLS server saw of one connection. */
export interface TlsConnectionInfo {
  /** The SNI name the client sent, or `false` when it sent none. */
  servername: string | false;
  /** True when the handshake resumed an earlier session. */
  resumed: boolean;
  /** The negotiated protocol version, e.g. `TLSv1.3`. */
  protocol: string | null;
}

/** A running TLS test server. */
export interface TlsTestServer {
  readonly port: number;
  /** One entry per completed handshake, in order. */
  readonly handshakes: TlsConnectionInfo[];
  /** Requests answered. */
  requests: number;
  /** Sockets open right now. */
  readonly open: Set<Socket>;
  close(): Promise<void>;
}

/**
 * A `node:tls` server on 127.0.0.1 that answers every request head with `200 OK` and the
 * request path as the body, keeping the connection alive.
 */
export async function startTlsServer(
  certs: TestCertificates,
  options: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<TlsTestServer> {
  const state: TlsTestServer = {
    port: 0,
    handshakes: [],
    requests: 0,
    open: new Set<Socket>(),
    close: async () => {
      for (const socket of state.open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createTlsServer(
    { key: certs.key, cert: certs.cert, maxVersion: options.maxVersion ?? 'TLSv1.3' },
    (socket: TLSSocket) => {
      state.handshakes.push({
        servername: (socket as TLSSocket & { servername: string | false }).servername,
        resumed: socket.isSessionReused(),
        protocol: socket.getProtocol(),
      });
      let buffered = '';
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffered.slice(0, end);
          buffered = buffered.slice(end + 4);
          state.requests++;
          const body = head.split(' ')[1] ?? '';
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }
      });
    },
  );
  server.on('connection', (socket: Socket) => {
    state.open.add(socket);
    socket.on('close', () => state.open.delete(socket));
  });
  // A client that gives up mid-handshake is not the server's problem.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(state, { port: (server.address() as AddressInfo).port });
  return state;
}
