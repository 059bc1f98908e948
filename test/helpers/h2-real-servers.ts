/**
 * Real HTTP/2 servers for tests: nghttpd (Debian's nghttp2-server) and nginx with `http2`,
 * each over TLS (ALPN h2) and cleartext h2c (prior knowledge), on free loopback ports. A test
 * skips with a NOTICE when the binary is absent, except under CI, where .ci/run installs both.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

/** The servers {@link startOptionalH2} knows, used only when already installed (never under CI). */
export type OptionalH2Name = 'caddy' | 'h2o' | 'apache2';

/** A running real server; a listener not started has port 0 and origin ''. */
export interface RealH2Server {
  readonly name: 'nghttpd' | 'nginx' | OptionalH2Name;
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
  name: RealH2Server['name'],
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

/** Where each optional server's binary is looked for (then on PATH). */
const OPTIONAL_BINARIES: Record<OptionalH2Name, { names: string[]; candidates: string[] }> = {
  caddy: { names: ['caddy'], candidates: ['/usr/bin/caddy', '/usr/local/bin/caddy'] },
  h2o: { names: ['h2o'], candidates: ['/usr/bin/h2o', '/usr/sbin/h2o', '/usr/local/bin/h2o'] },
  apache2: {
    names: ['apache2', 'httpd'],
    candidates: ['/usr/sbin/apache2', '/usr/sbin/httpd', '/usr/local/apache2/bin/httpd'],
  },
};

/** Directories that may hold apache's modules (the one with mod_http2.so is used). */
const APACHE_MODULE_DIRS = [
  '/usr/lib/apache2/modules',
  '/usr/lib64/httpd/modules',
  '/usr/lib/httpd/modules',
  '/usr/local/apache2/modules',
];

/** Path of an optional server's binary, or undefined. */
export function optionalH2Path(name: OptionalH2Name): string | undefined {
  const { names, candidates } = OPTIONAL_BINARIES[name];
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  for (const binary of names) {
    const found = findBinary(binary, []);
    if (found !== undefined) return found;
  }
  return undefined;
}

function apacheModules(): string | undefined {
  return APACHE_MODULE_DIRS.find((dir) => existsSync(join(dir, 'mod_http2.so')));
}

/**
 * The `skip` option for a test of an optional server: false when it is installed (apache2
 * with mod_http2), else a reason, printed once as a NOTICE. CI does not install these, so
 * their absence is a skip there too.
 */
export function skipUnlessOptional(name: OptionalH2Name): false | string {
  const path = optionalH2Path(name);
  const missing =
    path === undefined
      ? `${name} is not on PATH`
      : name === 'apache2' && apacheModules() === undefined
        ? 'apache2 is installed without mod_http2'
        : undefined;
  if (missing === undefined) return false;
  if (!noticed.has(name)) {
    noticed.add(name);
    console.log(`NOTICE: ${missing}: its HTTP/2 tests are skipped`);
  }
  return missing;
}

/**
 * Starts caddy, h2o or apache2 (mod_http2) serving a temporary document root over TLS (ALPN h2)
 * and cleartext h2c (prior knowledge), in the foreground. Run as root, h2o and apache drop to
 * nobody, so the directory is made world-readable.
 */
export async function startOptionalH2(
  name: OptionalH2Name,
  options: Pick<RealH2Options, 'files'> = {},
): Promise<RealH2Server> {
  const binary = optionalH2Path(name);
  if (binary === undefined) throw new Error(`${name} is not installed`);
  const { dir, root, certs } = prepare(`httpool-${name}-`, options.files);
  chmodSync(dir, 0o755);
  chmodSync(root, 0o755);
  const crt = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  chmodSync(key, 0o644);
  const asRoot = process.getuid?.() === 0;
  const command = ([tlsPort, h2cPort]: number[]): { binary: string; args: string[] } => {
    if (name === 'caddy') {
      const site = (address: string, extra: string) =>
        `${address} {\n\tbind 127.0.0.1\n${extra}\troot * ${root}\n\tfile_server\n}\n`;
      writeFileSync(
        join(dir, 'Caddyfile'),
        `{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system ${dir}/data\n` +
          `\tservers {\n\t\tprotocols h1 h2 h2c\n\t}\n}\n` +
          site(`https://127.0.0.1:${tlsPort}`, `\ttls ${crt} ${key}\n`) +
          site(`http://127.0.0.1:${h2cPort}`, ''),
      );
      return {
        binary,
        args: ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'],
      };
    }
    if (name === 'h2o') {
      // h2o reads repeated `listen` keys as one listener each.
      writeFileSync(
        join(dir, 'h2o.conf'),
        `${asRoot ? 'user: nobody\n' : ''}pid-file: ${dir}/h2o.pid\nerror-log: ${dir}/error.log\n` +
          `listen:\n  host: 127.0.0.1\n  port: ${tlsPort}\n  ssl:\n` +
          `    certificate-file: ${crt}\n    key-file: ${key}\n` +
          `listen:\n  host: 127.0.0.1\n  port: ${h2cPort}\n` +
          `hosts:\n  default:\n    paths:\n      /:\n        file.dir: ${root}\n`,
      );
      return { binary, args: ['-c', join(dir, 'h2o.conf')] };
    }
    const modules = apacheModules()!;
    const load = (module: string, file: string) => {
      // Modules some builds compile in (unixd) are loaded only where they are files.
      return existsSync(join(modules, file)) ? `LoadModule ${module} ${modules}/${file}\n` : '';
    };
    const group = readFileSync('/etc/group', 'utf8').includes('\nnogroup:') ? 'nogroup' : 'nobody';
    writeFileSync(
      join(dir, 'httpd.conf'),
      `ServerRoot ${dir}\nServerName 127.0.0.1\nPidFile ${dir}/httpd.pid\n` +
        `ErrorLog ${dir}/error.log\nLogLevel warn\nDefaultRuntimeDir ${dir}\nMutex file:${dir}\n` +
        load('mpm_event_module', 'mod_mpm_event.so') +
        load('unixd_module', 'mod_unixd.so') +
        load('authz_core_module', 'mod_authz_core.so') +
        load('socache_shmcb_module', 'mod_socache_shmcb.so') +
        load('ssl_module', 'mod_ssl.so') +
        load('http2_module', 'mod_http2.so') +
        (asRoot ? `User nobody\nGroup ${group}\n` : '') +
        `Listen 127.0.0.1:${tlsPort} https\nListen 127.0.0.1:${h2cPort} http\n` +
        `Protocols h2c http/1.1\nH2Direct on\nDocumentRoot ${root}\n` +
        `<Directory ${root}>\n  Require all granted\n</Directory>\n` +
        `<VirtualHost 127.0.0.1:${tlsPort}>\n  SSLEngine on\n  SSLCertificateFile ${crt}\n` +
        `  SSLCertificateKeyFile ${key}\n  Protocols h2 http/1.1\n</VirtualHost>\n`,
    );
    return { binary, args: ['-DFOREGROUND', '-f', join(dir, 'httpd.conf')] };
  };
  try {
    const { child, ports } = await spawnOnFreePorts(2, command);
    return server(name, ports[0]!, ports[1]!, certs.ca, async () => {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
