/**
 * Real HTTP/2 servers for tests: nghttpd (Debian's nghttp2-server) and nginx with `http2`,
 * each over TLS (ALPN h2) and cleartext h2c (prior knowledge), on free loopback ports. A test
 * skips with a NOTICE when the binary is absent, except under CI, where .ci/run installs both.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './tls.js';

/** Options of both starters. */
export interface RealH2Options {
  /** Start the TLS listener (ALPN h2). Default true. */
  tls?: boolean;
  /** Start the cleartext h2c listener. Default true. */
  h2c?: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS the server announces (its default when omitted). */
  maxConcurrentStreams?: number;
  /** Files to serve, path (from the root, no leading slash) to content. `hello.txt` is always there. */
  files?: Record<string, string>;
}

/** Extra nghttpd knobs. */
export interface NghttpdOptions extends RealH2Options {
  /** `--echo-upload`: a POST or PUT is answered with its own body. */
  echoUpload?: boolean;
}

/** Extra nginx knobs; each goes into the `http {}` block. */
export interface NginxH2Options extends RealH2Options {
  /** e.g. `3`: nginx sends GOAWAY after that many requests on a session. */
  keepaliveRequests?: number;
  /** e.g. `'1s'`: nginx closes an idle session (with GOAWAY) after it. */
  keepaliveTimeout?: string;
  /** Raw directives appended to the `server {}` blocks. */
  serverConfig?: string;
}

/** A running real server; a listener not started has port 0 and origin ''. */
export interface RealH2Server {
  readonly name: 'nghttpd' | 'nginx';
  readonly tlsPort: number;
  readonly h2cPort: number;
  /** `https://127.0.0.1:PORT` */
  readonly tlsOrigin: string;
  /** `http://127.0.0.1:PORT` */
  readonly h2cOrigin: string;
  /** The CA that signed the certificate (`tls: { ca }`). */
  readonly ca: string;
  /** The body of `/hello.txt`. */
  readonly hello: string;
  close(): Promise<void>;
}

/** The body every server serves at `/hello.txt`. */
export const HELLO = 'hello over h2\n';

function findBinary(name: string, candidates: string[]): string | undefined {
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

/** Path of nghttpd, or undefined when it is not installed. */
export const nghttpdPath = findBinary('nghttpd', ['/usr/sbin/nghttpd', '/usr/bin/nghttpd']);
/** Path of nginx, or undefined when it is not installed. */
export const nginxPath = findBinary('nginx', [
  '/usr/sbin/nginx',
  '/usr/local/sbin/nginx',
  '/usr/bin/nginx',
]);

const noticed = new Set<string>();

// Servers a test forgot to close must not outlive the test process.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * The `skip` option for a test needing `binary`: false when it is installed or under CI (where
 * its absence must fail the test), else a reason, printed once as a NOTICE.
 */
export function skipUnless(binary: 'nghttpd' | 'nginx'): false | string {
  const path = binary === 'nghttpd' ? nghttpdPath : nginxPath;
  if (path !== undefined || process.env['CI'] !== undefined) return false;
  const install = binary === 'nghttpd' ? 'nghttp2-server' : 'nginx-light';
  const reason = `${binary} is not installed (apt-get install ${install})`;
  if (!noticed.has(binary)) {
    noticed.add(binary);
    console.log(`NOTICE: ${reason}: its HTTP/2 tests are skipped`);
  }
  return reason;
}

/** A loopback port nothing listens on right now (another process may take it before us). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` accepts connections; rejects after `timeoutMs` or if `child` exits. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `server exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

/**
 * Spawns `command(ports)` on fresh free ports until every port listens: a port taken between
 * the probe and the server's bind makes the server exit, and a new pair is tried (3 times).
 */
async function spawnOnFreePorts(
  count: number,
  command: (ports: number[]) => { binary: string; args: string[] },
): Promise<{ child: ChildProcess; ports: number[] }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const { binary, args } = command(ports);
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderr += text;
    });
    try {
      for (const port of ports) await waitForPort(port, child, 5000);
      return { child, ports };
    } catch (error) {
      lastError = new Error(`${String(error)}: ${stderr.trim()}`);
      await stop(child);
    }
  }
  throw lastError;
}

/** A temporary directory holding the certificate, the key and the document root. */
function prepare(prefix: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const certs = makeCertificates();
  writeFileSync(join(dir, 'server.crt'), certs.cert);
  writeFileSync(join(dir, 'server.key'), certs.key);
  const root = join(dir, 'htdocs');
  mkdirSync(root);
  for (const [name, content] of Object.entries({ 'hello.txt': HELLO, ...files })) {
    writeFileSync(join(root, name), content);
  }
  return { dir, root, certs };
}

/**
 * Starts nghttpd serving a temporary document root: one process per listener (`--no-tls` for
 * h2c). `nghttpd -m` sets MCS; `echoUpload` adds `--echo-upload`.
 */
export async function startNghttpd(options: NghttpdOptions = {}): Promise<RealH2Server> {
  if (nghttpdPath === undefined) throw new Error('nghttpd is not installed');
  const { dir, root, certs } = prepare('httpool-nghttpd-', options.files);
  const children: ChildProcess[] = [];
  const start = async (tls: boolean) => {
    const { child, ports } = await spawnOnFreePorts(1, ([port]) => ({
      binary: nghttpdPath,
      args: [
        '-a',
        '127.0.0.1',
        '-d',
        root,
        ...(options.maxConcurrentStreams === undefined
          ? []
          : ['-m', String(options.maxConcurrentStreams)]),
        ...(options.echoUpload === true ? ['--echo-upload'] : []),
        ...(tls
          ? [String(port), join(dir, 'server.key'), join(dir, 'server.crt')]
          : ['--no-tls', String(port)]),
      ],
    }));
    children.push(child);
    return ports[0]!;
  };
  try {
    const tlsPort = options.tls === false ? 0 : await start(true);
    const h2cPort = options.h2c === false ? 0 : await start(false);
    return server('nghttpd', tlsPort, h2cPort, certs.ca, async () => {
      await Promise.all(children.map(stop));
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (error) {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Starts nginx (1.22 syntax: `listen … ssl http2` and a cleartext `listen … http2`) serving a
 * temporary document root, in one foreground process with no master.
 */
export async function startNginxH2(options: NginxH2Options = {}): Promise<RealH2Server> {
  if (nginxPath === undefined) throw new Error('nginx is not installed');
  const { dir, root, certs } = prepare('httpool-nginx-h2-', options.files);
  const wantTls = options.tls !== false;
  const wantH2c = options.h2c !== false;
  const count = (wantTls ? 1 : 0) + (wantH2c ? 1 : 0);
  const http = [
    options.maxConcurrentStreams === undefined
      ? ''
      : `http2_max_concurrent_streams ${options.maxConcurrentStreams};`,
    options.keepaliveRequests === undefined
      ? ''
      : `keepalive_requests ${options.keepaliveRequests};`,
    options.keepaliveTimeout === undefined ? '' : `keepalive_timeout ${options.keepaliveTimeout};`,
  ].join('\n  ');
  const serverBlock = (listen: string) => `
  server {
    ${listen}
    root ${root};
    location = / { return 200 "ok from nginx\\n"; }
    ${options.serverConfig ?? ''}
  }`;
  try {
    const { child, ports } = await spawnOnFreePorts(count, (ports) => {
      const tlsPort = wantTls ? ports[0]! : 0;
      const h2cPort = wantH2c ? ports[wantTls ? 1 : 0]! : 0;
      writeFileSync(
        join(dir, 'nginx.conf'),
        `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${http}
  ${
    wantTls
      ? serverBlock(`listen 127.0.0.1:${tlsPort} ssl http2;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;`)
      : ''
  }
  ${wantH2c ? serverBlock(`listen 127.0.0.1:${h2cPort} http2;`) : ''}
}
`,
      );
      return { binary: nginxPath, args: ['-p', dir, '-c', join(dir, 'nginx.conf')] };
    });
    const tlsPort = wantTls ? ports[0]! : 0;
    const h2cPort = wantH2c ? ports[wantTls ? 1 : 0]! : 0;
    return server('nginx', tlsPort, h2cPort, certs.ca, async () => {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function server(
  name: 'nghttpd' | 'nginx',
  tlsPort: number,
  h2cPort: number,
  ca: string,
  close: () => Promise<void>,
): RealH2Server {
  return {
    name,
    tlsPort,
    h2cPort,
    tlsOrigin: tlsPort === 0 ? '' : `https://127.0.0.1:${tlsPort}`,
    h2cOrigin: h2cPort === 0 ? '' : `http://127.0.0.1:${h2cPort}`,
    ca,
    hello: HELLO,
    close,
  };
}
