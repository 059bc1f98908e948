/**
 * canReplay as a table: it reads the request and the error the connection classified, and
 * nothing else. A row says what kind of failure, which request, and the answer.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { canReplay } from '../../src/client/replay.js';
import {
  BodyTimeoutError,
  HeadersTimeoutError,
  RequestTimeoutError,
  ResponseError,
  SocketError,
} from '../../src/errors.js';
import type { ExchangeOptions } from '../../src/http/options.js';

/** A socket failure before any answer: a kept-alive connection the server had closed. */
const unanswered = () =>
  new SocketError('the server closed the connection before the response ended', {
    requestSent: 'all',
    responseStarted: false,
  });
/** Nothing written: the connection was found closed. */
const unwritten = () =>
  new SocketError('the connection is no longer open', {
    requestSent: 'none',
    responseStarted: false,
  });
/** An answer had begun: the server acted on the request. */
const answered = () =>
  new SocketError('the server closed the connection before the response ended', {
    requestSent: 'all',
    responseStarted: true,
  });
/** Part of an upload, then a reset, no answer. */
const midUpload = () =>
  new SocketError('read ECONNRESET', { requestSent: 'partial', responseStarted: false });
/** A socket error that says nothing of a request (a connect, a tunnel). */
const unclassified = () => new SocketError('connect ECONNREFUSED');

async function* stream() {
  yield 'x';
}

const GET: ExchangeOptions = {};
const rows: ReadonlyArray<
  readonly [what: string, options: ExchangeOptions, error: () => unknown, replay: boolean]
> = [
  ['GET, no answer', GET, unanswered, true],
  ['GET, nothing written', GET, unwritten, true],
  ['GET, mid-upload reset, no answer', GET, midUpload, true],
  ['GET, an answer had begun', GET, answered, false],
  ['GET, a socket error that does not say', GET, unclassified, false],
  ['lower-case get, no answer', { method: 'get' }, unanswered, true],
  ['HEAD, no answer', { method: 'HEAD' }, unanswered, true],
  ['PUT with a string body, no answer', { method: 'PUT', body: 'x' }, unanswered, true],
  ['DELETE with bytes, no answer', { method: 'DELETE', body: new Uint8Array(3) }, unanswered, true],
  ['OPTIONS, no answer', { method: 'OPTIONS' }, unanswered, true],
  ['TRACE, no answer', { method: 'TRACE' }, unanswered, true],
  ['POST, no answer', { method: 'POST', body: 'x' }, unanswered, false],
  ['POST, nothing written', { method: 'POST', body: 'x' }, unwritten, false],
  ['PATCH, no answer', { method: 'PATCH', body: 'x' }, unanswered, false],
  [
    'POST with Idempotency-Key, no answer',
    { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'k1' } },
    unanswered,
    true,
  ],
  [
    'POST with X-Idempotency-Key (pairs), no answer',
    { method: 'POST', body: 'x', headers: [['x-idempotency-key', 'k2']] },
    unanswered,
    true,
  ],
  [
    'POST with Idempotency-Key, an answer had begun',
    { method: 'POST', body: 'x', headers: { 'idempotency-key': 'k3' } },
    answered,
    false,
  ],
  ['PUT with an async iterable body', { method: 'PUT', body: stream() }, unanswered, false],
  ['PUT with a Node stream body', { method: 'PUT', body: Readable.from(['x']) }, unanswered, false],
  ['GET, null body', { body: null }, unanswered, true],
  ['GET, headers timeout', GET, () => new HeadersTimeoutError(10), false],
  ['GET, body timeout', GET, () => new BodyTimeoutError(10), false],
  [
    'GET, request timeout',
    GET,
    () => new RequestTimeoutError({ timeout: 10, phase: 'headers' }),
    false,
  ],
  ['GET, bad response', GET, () => new ResponseError('bad status line'), false],
  ['GET, an abort reason', GET, () => new Error('aborted'), false],
  ['GET, not an error', GET, () => 'closed', false],
];

for (const [what, options, error, replay] of rows) {
  test(`canReplay: ${what} → ${replay}`, () => {
    assert.equal(canReplay(options, error()), replay);
  });
}

test('SocketError: the classification adds fields, leaving class, code and message as they were', () => {
  const error = unanswered();
  assert.ok(error instanceof SocketError);
  assert.equal(error.code, 'ERR_SOCKET');
  assert.equal(error.message, 'the server closed the connection before the response ended');
  assert.equal(error.requestSent, 'all');
  assert.equal(error.responseStarted, false);
  const plain = unclassified();
  assert.equal('requestSent' in plain, false, 'no field where nothing is known');
  assert.equal('responseStarted' in plain, false);
});
