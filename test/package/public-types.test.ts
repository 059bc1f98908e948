/**
 * The published declarations as a consumer's compiler sees them: `dist/*.d.ts` (from
 * `npm run build`) resolved through package.json `exports` by the package's name. Internals
 * must not show, every named type that a public declaration mentions (an option's type, a
 * result's field) must be importable from the package root, and the declarations themselves
 * must compile with `skipLibCheck: false`, as a strict consumer compiles them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { after, before, test } from 'node:test';
import ts from 'typescript';

const root = process.cwd();
const dist = resolve(root, 'dist') + sep;

/** Names that are plumbing between modules: no public declaration may carry them. */
const INTERNAL_NAMES = [
  'send',
  'giveBack',
  'throwAway',
  'takeWhole',
  'checkPoolOptions',
  'checkCloseTimeout',
  'withDeadline',
  'closeTimedOut',
  'resolveParserLimits',
  'BodyQueue',
  'Http1Connection',
  'LeaseOwner',
  'PoolInternals',
  'Slot',
  'ResourcePool',
  'Semaphore',
];

/**
 * A consumer of the public API: it must compile without errors. It names each type an option
 * or result of the API uses, so that a type dropped from the root fails here too.
 */
const CONSUMER = `
import {
  Agent, ConnectionPool, HttpoolError, isHttpoolError, defaultParserLimits,
  type AgentOptions, type AgentRequestOptions, type PoolOptions, type RequestOptions,
  type AcquireOptions, type CloseOptions, type PoolStats, type AgentStats, type Clock,
  type Timer, type DurationSummary, type ProxyConfig, type ParserLimits, type RetryOptions,
  type HttpResponse, type HeadersInput, type RequestBody, type OriginOptions, type Http2Mode,
  StreamResetError,
  type DnsOptions, type DnsStats, type DnsResolver, type AddressRecord,
} from 'httpool';

const clock: Clock = {
  now: () => performance.now(),
  schedule(callback: () => void, delayMs: number): Timer {
    const handle = setTimeout(callback, delayMs);
    return {
      cancel: () => clearTimeout(handle),
      refresh: () => { handle.refresh(); return true; },
      suspend: () => clearTimeout(handle),
    };
  },
};
const limits: Partial<ParserLimits> = { maxHeaderSize: defaultParserLimits.maxHeaderSize };
const retry: RetryOptions = { limit: 2, statusCodes: [503] };
const http2: Http2Mode = 'auto';
const poolOptions: PoolOptions = { maxSize: 4, clock, limits, http2, maxConcurrentStreams: 50 };
const perOrigin = (_origin: string): OriginOptions => ({ maxSize: 2 });
const record: AddressRecord = { address: '127.0.0.1', ttl: 60 };
const resolver: DnsResolver = {
  resolve4: async () => [record],
  resolve6: async () => [],
  lookup: async () => [],
};
const dns: DnsOptions = { ttl: 30_000, resolver };
const agentOptions: AgentOptions = { maxSize: 4, retry, perOrigin, dns };

export async function run(proxy: ProxyConfig | undefined): Promise<number> {
  const pool = new ConnectionPool('http://127.0.0.1:8080', { ...poolOptions, proxy });
  const acquire: AcquireOptions = { timeout: 100 };
  const conn = await pool.acquire(acquire);
  const headers: HeadersInput = { accept: 'application/json' };
  const body: RequestBody = 'x';
  const options: RequestOptions = { method: 'POST', path: '/', headers, body };
  const res: HttpResponse = await conn.request(options);
  await res.dump();
  conn.release();
  const stats: PoolStats = pool.stats();
  const wait: DurationSummary = stats.waitTime;
  const closing: CloseOptions = { timeout: 1000 };
  await pool.close(closing);
  await using agent = new Agent(agentOptions);
  const request: AgentRequestOptions = { redirect: 'follow' };
  try {
    await (await agent.request('http://127.0.0.1:8080/', request)).text();
  } catch (error) {
    if (error instanceof StreamResetError) return error.http2Code;
    if (isHttpoolError(error) || error instanceof HttpoolError) return -1;
  }
  const all: AgentStats = agent.stats();
  const dnsStats: DnsStats | undefined = agent.dnsStats();
  return wait.p99 + Object.keys(all).length + (dnsStats?.lookups ?? 0);
}
`;

/** A consumer of httpool/testing: the kit's names, the types its options and results use. */
const TESTING_CONSUMER = `
import { Agent, type HttpResponse } from 'httpool';
import {
  FakeClock, FaultServer, MockAgent, MockInterceptor, MockNotMatchedError, MockPendingError,
  FAILING_FATES, type Fault, type FaultFate, type FaultRecord, type FaultServerOptions,
  type InterceptOptions, type MockAgentOptions, type MockCall, type Reply, type ReplyChunk,
} from 'httpool/testing';

export async function run(): Promise<number> {
  const options: MockAgentOptions = { clock: new FakeClock(), maxSize: 2 };
  const agent: Agent = new MockAgent(options);
  const mock = agent as MockAgent;
  const match: InterceptOptions = { method: 'POST', path: /^\\/items/, body: (b) => b.length > 0 };
  const chunks: ReplyChunk[] = ['a', { data: new Uint8Array([98]), delay: 10 }];
  const interceptor: MockInterceptor = mock.intercept('http://api.test', match).reply(200, chunks).times(2);
  const fault: Fault = 'reset-body';
  const reply: Reply = { status: 500, fault, cutAt: 3 };
  mock.intercept('http://api.test', { path: '/x' }).reply(reply);
  const res: HttpResponse = await mock.request('http://api.test/items', { method: 'POST', body: 'x' });
  const calls: readonly MockCall[] = mock.calls;
  const serverOptions: FaultServerOptions = { rates: { stall: 0.1 }, seed: 1, log: false };
  await using server = await FaultServer.start(serverOptions);
  const records: readonly FaultRecord[] = server.requests;
  const fate: FaultFate | undefined = records[0]?.fate;
  const errors = [MockNotMatchedError, MockPendingError].length;
  return res.status + calls.length + interceptor.calls + errors + (fate && FAILING_FATES.has(fate) ? 1 : 0);
}
`;

let dir = '';
let program: ts.Program;

before(() => {
  // The package as an installed dependency: node_modules/httpool -> this checkout.
  dir = mkdtempSync(join(tmpdir(), 'httpool-types-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'httpool'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
  writeFileSync(join(dir, 'testing-consumer.ts'), TESTING_CONSUMER);
  // Every declaration file the tarball ships (the CLI's are left out of it), not only those
  // the consumer happens to reach.
  const shipped = readdirSync(dist, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.d.ts') && !file.startsWith(`cli${sep}`))
    .map((file) => join(dist, file));
  const inputs = [join(dir, 'consumer.ts'), join(dir, 'testing-consumer.ts'), ...shipped];
  program = ts.createProgram(inputs, {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  });
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Files of the package in the consumer's compilation. */
function packageFiles(): ts.SourceFile[] {
  // The symlink resolves to the real path, so declarations are found under this dist/.
  return program.getSourceFiles().filter((file) => resolve(file.fileName).startsWith(dist));
}

function format(diagnostic: ts.Diagnostic): string {
  const where = diagnostic.file?.fileName ?? '';
  return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
}

test('a consumer resolves httpool to dist/index.d.ts through package.json exports', () => {
  const { resolvedModule } = ts.resolveModuleName(
    'httpool',
    join(dir, 'consumer.ts'),
    program.getCompilerOptions(),
    ts.sys,
  );
  assert.equal(resolvedModule?.resolvedFileName, join(dist, 'index.d.ts'));
});

test('the declarations and a consumer of them compile with skipLibCheck off', () => {
  const consumer = program.getSourceFile(join(dir, 'consumer.ts'));
  const testingConsumer = program.getSourceFile(join(dir, 'testing-consumer.ts'));
  assert.ok(consumer !== undefined && testingConsumer !== undefined);
  const diagnostics = [consumer, testingConsumer, ...packageFiles()].flatMap((file) => [
    ...program.getSyntacticDiagnostics(file),
    ...program.getSemanticDiagnostics(file),
  ]);
  assert.deepEqual(diagnostics.map(format), []);
});

/**
 * Walks everything a consumer can reach from the package root: each export, its members,
 * their parameter and result types, and so on, staying inside the package's declarations.
 */
function publicSurface(entry = 'index.d.ts'): {
  exports: Set<string>;
  types: Map<string, string>;
  members: Map<string, string>;
} {
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(join(dist, entry));
  assert.ok(index !== undefined, `dist/${entry} was not reached`);
  const moduleSymbol = checker.getSymbolAtLocation(index);
  assert.ok(moduleSymbol !== undefined);
  const exported = checker.getExportsOfModule(moduleSymbol);
  const exports = new Set(exported.map((symbol) => symbol.name));
  /** Named types declared by the package, and where each was met. */
  const types = new Map<string, string>();
  /** Members of the package's declarations, and whose. */
  const members = new Map<string, string>();
  const seen = new Set<ts.Type>();
  const inPackage = (symbol: ts.Symbol | undefined): boolean =>
    symbol?.declarations?.some((d) => resolve(d.getSourceFile().fileName).startsWith(dist)) ===
    true;
  const NAMED = ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias;

  const visitSignature = (signature: ts.Signature, where: string): void => {
    for (const parameter of signature.getParameters()) {
      visit(checker.getTypeOfSymbol(parameter), `${where}(${parameter.name})`);
    }
    visit(signature.getReturnType(), `${where}()`);
  };

  const visit = (type: ts.Type, where: string): void => {
    if (seen.has(type)) return;
    seen.add(type);
    for (const argument of type.aliasTypeArguments ?? []) visit(argument, where);
    if (type.isUnionOrIntersection()) {
      for (const part of type.types) visit(part, where);
      return;
    }
    if (
      type.flags & ts.TypeFlags.Object &&
      (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference
    ) {
      for (const argument of checker.getTypeArguments(type as ts.TypeReference))
        visit(argument, where);
    }
    const named = [type.aliasSymbol, type.getSymbol()].filter(
      (symbol): symbol is ts.Symbol => symbol !== undefined && (symbol.flags & NAMED) !== 0,
    );
    for (const symbol of named) {
      if (inPackage(symbol) && !types.has(symbol.name)) types.set(symbol.name, where);
    }
    const symbol = type.getSymbol();
    // Only the package's own declarations (and anonymous object or function types written in
    // them) are walked into; Promise, Error, node's types stand for themselves.
    if (
      !inPackage(symbol) &&
      !(symbol === undefined || symbol.flags & ts.SymbolFlags.TypeLiteral)
    ) {
      return;
    }
    const owner = symbol?.name ?? where;
    for (const property of checker.getPropertiesOfType(type)) {
      if (!inPackage(property)) continue;
      members.set(property.name, owner);
      visit(checker.getTypeOfSymbol(property), `${owner}.${property.name}`);
    }
    for (const signature of type.getCallSignatures()) visitSignature(signature, owner);
    for (const signature of type.getConstructSignatures())
      visitSignature(signature, `new ${owner}`);
    for (const info of checker.getIndexInfosOfType(type)) visit(info.type, `${owner}[]`);
  };

  for (const symbol of exported) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    if (target.flags & ts.SymbolFlags.Value) visit(checker.getTypeOfSymbol(target), symbol.name);
    if (target.flags & NAMED) visit(checker.getDeclaredTypeOfSymbol(target), symbol.name);
  }
  return { exports, types, members };
}

test('internals are not in the published types', () => {
  const { exports, members } = publicSurface();
  assert.ok(members.has('acquire') && members.has('request'), 'the walk found no members');
  const leaked = INTERNAL_NAMES.filter((name) => exports.has(name) || members.has(name)).map(
    (name) => `${name} (${members.get(name) ?? 'exported'})`,
  );
  assert.deepEqual(leaked, []);
});

test('every named type a public declaration uses is exported from the package root', () => {
  const { exports, types } = publicSurface();
  assert.ok(types.has('PoolOptions') && types.has('HttpResponse'), 'the walk found no types');
  const missing = [...types]
    .filter(([name]) => !exports.has(name))
    .map(([name, where]) => `${name} (in ${where})`);
  assert.deepEqual(missing, []);
});

test('httpool/testing resolves to dist/testing/index.d.ts; its types are exported from it or the root', () => {
  const { resolvedModule } = ts.resolveModuleName(
    'httpool/testing',
    join(dir, 'testing-consumer.ts'),
    program.getCompilerOptions(),
    ts.sys,
  );
  assert.equal(resolvedModule?.resolvedFileName, join(dist, 'testing', 'index.d.ts'));
  const root = publicSurface();
  const kit = publicSurface(join('testing', 'index.d.ts'));
  assert.ok(kit.types.has('MockAgent') && kit.types.has('Reply'), 'the walk found no types');
  const missing = [...kit.types]
    .filter(([name]) => !kit.exports.has(name) && !root.exports.has(name))
    .map(([name, where]) => `${name} (in ${where})`);
  assert.deepEqual(missing, []);
  // The interceptor's plumbing between it and the agent stays out of sight.
  const leaked = [
    'matches',
    'use',
    'live',
    'pending',
    'checkReply',
    'playReply',
    'RequestReader',
  ].filter((name) => kit.exports.has(name) || kit.members.get(name) === 'MockInterceptor');
  assert.deepEqual(leaked, []);
});
