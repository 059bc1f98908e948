// Runs the llhttp / http-parser response corpus (test/fixtures/conformance/README.md) through
// ResponseParser, whole and split at seeded random points, in strict mode: lenient cases are errors,
// http-parser cases that disagree with llhttp follow llhttp, and a few httpool policies (below) turn
// accepted inputs into errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { ResponseError, ResponseLimitError } from '../../src/errors.js';
import { type ResponseHead, ResponseParser } from '../../src/http1/parser.js';
import { prng } from '../helpers/random.js';

interface ExpectedMessage {
  status?: number;
  reason?: string;
  version?: string;
  protocol?: string;
  headers?: [string, string][];
  trailers?: [string, string][];
  body?: string;
  headersComplete?: boolean;
  complete?: boolean;
  completeOnEof?: boolean;
  keepAlive?: boolean;
  contentLength?: number | null;
  flags?: string[];
  upgrade?: boolean;
  upgradeData?: string;
}

interface Expectation extends ExpectedMessage {
  ok: boolean;
  error?: string;
  messages?: ExpectedMessage[];
  messageCount?: number;
}

interface Case {
  id: string;
  source: string;
  raw?: string;
  rawBase64?: string;
  requestMethod: string;
  lenient: string | null;
  sourceName?: string;
  sourceChecks?: 'full' | 'errno';
  strictCounterpart?: string;
  divergesFrom?: string[];
  expect: Expectation;
}

/**
 * Inputs the sources accept but httpool rejects on purpose. Each is counted and reported.
 */
const policy: Record<string, string> = {
  'llhttp-sample-rtsp-response': 'HTTP-only client: RTSP/ status lines are rejected',
  'llhttp-sample-ice-response': 'HTTP-only client: ICE/ status lines are rejected',
  'llhttp-sample-http-version-0-9': 'only HTTP/1.0 and HTTP/1.1 status lines are accepted',
  'http-parser-http-version-0-9': 'only HTTP/1.0 and HTTP/1.1 status lines are accepted',
  'http-parser-content-length-2-64-div-10-minus-1-ok':
    'Content-Length above 2^53 - 1 is rejected (no precision loss)',
  'http-parser-chunk-size-2-64-div-16-minus-1-ok':
    'chunk sizes above 2^53 - 1 are rejected (no precision loss)',
};

function load(file: string): Case[] {
  const url = new URL(`../../../test/fixtures/conformance/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Case[];
}

const cases = [...load('llhttp-responses.json'), ...load('http-parser-responses.json')];
const byId = new Map(cases.map((c) => [c.id, c]));

type Plan =
  | { kind: 'error'; why: string; before: ExpectedMessage[] }
  | { kind: 'accept'; expect: Expectation; errnoOnly: boolean };

/** What a strict client must do with a case, following the README's "Lenient cases" rules. */
function planFor(c: Case): Plan {
  const errnoOnly = c.sourceChecks === 'errno';
  if (c.lenient !== null) {
    const twin = c.strictCounterpart === undefined ? undefined : byId.get(c.strictCounterpart);
    if (twin !== undefined) {
      assert.equal(twin.expect.ok, false, `${c.id}: strict twin should be an error`);
      return { kind: 'error', why: `lenient (${c.lenient})`, before: twin.expect.messages ?? [] };
    }
    return { kind: 'error', why: `lenient (${c.lenient})`, before: [] };
  }
  const why = policy[c.id];
  if (why !== undefined) return { kind: 'error', why, before: [] };
  if (c.id.startsWith('http-parser-') && c.divergesFrom !== undefined) {
    const other = c.divergesFrom
      .map((id) => byId.get(id))
      .find((o) => o?.source.startsWith('llhttp'));
    if (other !== undefined) return planFor(other);
  }
  // http-parser's test_scan triples concatenate responses[] entries. When one of them is an entry
  // that strict llhttp rejects, the strict result is: the entries before it, then an error.
  const parts = /^test_scan\((.*)\)$/.exec(c.sourceName ?? '')?.[1]?.split(', ');
  if (parts !== undefined) {
    for (const [k, part] of parts.entries()) {
      const entry = cases.find((e) => `&${e.sourceName}` === part);
      assert.ok(entry !== undefined, `${c.id}: component ${part}`);
      const sub = planFor(entry);
      if (sub.kind === 'error') {
        return {
          kind: 'error',
          why: `component ${entry.id}: ${sub.why}`,
          before: (c.expect.messages ?? []).slice(0, k),
        };
      }
    }
  }
  if (!c.expect.ok) return { kind: 'error', why: 'source error', before: c.expect.messages ?? [] };
  return { kind: 'accept', expect: c.expect, errnoOnly };
}

interface Got {
  head: ResponseHead;
  informational: boolean;
  body: Buffer[];
  trailers: string[];
  complete: boolean;
}

interface Outcome {
  messages: Got[];
  error: unknown;
  upgradeData: Buffer | null;
  parser: ResponseParser;
}

function feed(bytes: Buffer, method: string, cuts: number[]): Outcome {
  const messages: Got[] = [];
  let current: Got | null = null;
  const parser = new ResponseParser({
    onInformational(head) {
      messages.push({ head, informational: true, body: [], trailers: [], complete: true });
    },
    onHead(head) {
      // A 101 (upgrade) has no onComplete: its head ends the HTTP message.
      current = { head, informational: false, body: [], trailers: [], complete: head.upgrade };
      messages.push(current);
    },
    onData(chunk) {
      assert.ok(current !== null && !current.complete, 'onData outside a body');
      assert.ok(chunk.length > 0, 'empty onData');
      current.body.push(Buffer.from(chunk));
    },
    onComplete(trailers) {
      assert.ok(current !== null && !current.complete, 'onComplete twice');
      current.trailers = trailers;
      current.complete = true;
    },
  });
  parser.expect(method);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(at, cut));
    at = cut;
  }
  let error: unknown = null;
  let upgradeData: Buffer | null = null;
  try {
    outer: for (let p = 0; p < pieces.length; p++) {
      let piece = pieces[p]!;
      while (piece.length > 0) {
        if (!parser.busy) {
          const last = messages.at(-1);
          if (last?.head.upgrade === true) {
            upgradeData = Buffer.concat([piece, ...pieces.slice(p + 1)]);
            break outer;
          }
          // After a response that ended the connection, feed without expect(): must throw.
          if (last?.head.keepAlive === true) parser.expect(method);
        }
        const used = parser.execute(piece);
        assert.ok(used > 0 || !parser.busy, 'execute made no progress');
        piece = piece.subarray(used);
      }
    }
  } catch (e) {
    error = e;
  }
  if (error === null && upgradeData === null && messages.at(-1)?.head.upgrade === true) {
    upgradeData = Buffer.alloc(0);
  }
  return { messages, error, upgradeData, parser };
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const stripTrailing = (s: string) => s.replace(/[ \t]+$/, '');

function checkMessage(id: string, got: Got, want: ExpectedMessage): void {
  const where = `${id} message ${got.head.status}`;
  if (want.status !== undefined) assert.equal(got.head.status, want.status, where);
  if (want.reason !== undefined) {
    assert.deepEqual(latin1(got.head.statusText), utf8(want.reason), `${where}: reason`);
  }
  if (want.version !== undefined) {
    assert.equal(`${got.head.versionMajor}.${got.head.versionMinor}`, want.version, where);
  }
  if (want.headers !== undefined) {
    const flat = want.headers.flatMap(([n, v]) => [n, stripTrailing(v)]);
    assert.deepEqual(
      got.head.rawHeaders.map((s) => latin1(s).toString('utf8')),
      flat,
      `${where}: headers`,
    );
  }
  if (want.trailers !== undefined) {
    assert.deepEqual(
      got.trailers,
      want.trailers.flatMap(([n, v]) => [n, stripTrailing(v)]),
      `${where}: trailers`,
    );
  }
  if (want.body !== undefined) {
    assert.deepEqual(Buffer.concat(got.body), utf8(want.body), `${where}: body`);
  }
  if (want.complete !== undefined) assert.equal(got.complete, want.complete, `${where}: complete`);
  if (want.keepAlive !== undefined && got.complete) {
    assert.equal(got.head.keepAlive, want.keepAlive, `${where}: keepAlive`);
  }
  if (want.contentLength !== undefined) {
    // llhttp reports 0 when the header is absent; its F_CONTENT_LENGTH flag says whether it was there.
    const present = want.flags === undefined || want.flags.includes('F_CONTENT_LENGTH');
    const expected =
      want.flags === undefined ? want.contentLength : present ? want.contentLength : null;
    assert.equal(got.head.contentLength, expected, `${where}: contentLength`);
  }
  if (want.upgrade !== undefined) assert.equal(got.head.upgrade, want.upgrade, `${where}: upgrade`);
}

function checkAccepted(c: Case, expect: Expectation, out: Outcome): void {
  const wanted = (expect.messages ?? [expect]).filter((m) => m.headersComplete !== false);
  assert.equal(out.messages.length, wanted.length, `${c.id}: number of heads`);
  wanted.forEach((want, k) => {
    checkMessage(c.id, out.messages[k]!, want);
  });
  const last = wanted.at(-1);
  if (last?.upgrade === true && last.upgradeData !== undefined) {
    assert.deepEqual(out.upgradeData, utf8(last.upgradeData), `${c.id}: upgrade data`);
  }
  // Step 5: only a message the source says EOF completes is completed by finish().
  const lastGot = out.messages.at(-1);
  if (last?.completeOnEof === true && lastGot !== undefined && !lastGot.complete) {
    out.parser.finish();
    assert.equal(lastGot.complete, true, `${c.id}: finish() completes the body`);
  }
}

function seedOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

function splitsFor(c: Case, length: number): number[][] {
  const rnd = prng(seedOf(c.id));
  const all: number[][] = [[]];
  for (let s = 0; s < 8 && length > 1; s++) {
    const n = 1 + Math.floor(rnd() * 4);
    const cuts = new Set<number>();
    for (let k = 0; k < n; k++) cuts.add(1 + Math.floor(rnd() * (length - 1)));
    all.push([...cuts].sort((x, y) => x - y));
  }
  if (length <= 4096) all.push(Array.from({ length: length - 1 }, (_, k) => k + 1));
  return all;
}

const counts = { ran: 0, errors: 0, lenient: 0, policy: 0, diverging: 0, source: 0, feeds: 0 };

describe('conformance corpus (strict)', () => {
  for (const c of cases) {
    it(c.id, () => {
      const bytes = c.raw !== undefined ? utf8(c.raw) : Buffer.from(c.rawBase64!, 'base64');
      const plan = planFor(c);
      counts.ran++;
      if (plan.kind === 'error') {
        counts.errors++;
        if (c.lenient !== null) counts.lenient++;
        else if (policy[c.id] !== undefined) counts.policy++;
        else if (!c.expect.ok) counts.source++;
        else counts.diverging++;
      }
      for (const cuts of splitsFor(c, bytes.length)) {
        counts.feeds++;
        const out = feed(bytes, c.requestMethod, cuts);
        const how = `${c.id} split at [${cuts.length > 20 ? 'every byte' : cuts.join(',')}]`;
        if (plan.kind === 'error') {
          assert.ok(
            out.error instanceof ResponseError || out.error instanceof ResponseLimitError,
            `${how}: expected a ResponseError (${plan.why}), got ${String(out.error)}`,
          );
          const done = out.messages.filter((m) => m.complete);
          assert.equal(done.length, plan.before.length, `${how}: messages before the error`);
          plan.before.forEach((want, k) => {
            checkMessage(c.id, done[k]!, want);
          });
          // A dead parser keeps failing with the same error.
          assert.throws(
            () => out.parser.execute(Buffer.from('x')),
            (e) => e === out.error,
          );
        } else {
          assert.equal(out.error, null, `${how}: unexpected error ${String(out.error)}`);
          if (!plan.errnoOnly) checkAccepted(c, plan.expect, out);
        }
      }
    });
  }

  after(() => {
    const line =
      `conformance: ${counts.ran} cases ran (${counts.feeds} feeds), ${counts.errors} expected errors ` +
      `(${counts.source} source errors, ${counts.lenient} lenient, ${counts.diverging} following llhttp ` +
      `over http-parser, ${counts.policy} httpool policy)`;
    console.log(line);
  });
});
