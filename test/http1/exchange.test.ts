/**
 * The exchange's phase machine as a table: every move the diagram in src/http1/exchange.ts
 * draws is allowed, every other one is refused, and enter() refuses loudly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Exchange, type ExchangePhase, enter, mayEnter } from '../../src/http1/exchange.js';

const PHASES: readonly ExchangePhase[] = [
  'writing',
  'awaiting-continue',
  'awaiting-head',
  'body',
  'draining',
  'complete',
  'flushing',
  'done',
];

/** The moves the diagram draws, failure (any phase but `done` → `done`) aside. */
const MOVES: ReadonlyArray<readonly [ExchangePhase, ExchangePhase]> = [
  ['awaiting-continue', 'writing'], // 100 Continue, or a second of silence
  ['awaiting-continue', 'body'], // a final answer first: the body is never sent
  ['writing', 'awaiting-head'], // the request's last byte is written
  ['writing', 'body'], // an early answer while uploading
  ['awaiting-head', 'body'], // the head
  ['body', 'draining'], // the reader gave the body up
  ['body', 'complete'], // the last byte
  ['draining', 'complete'],
  ['complete', 'flushing'], // whole, but the request's last write has not left yet
  ['complete', 'done'],
  ['flushing', 'done'],
];

test('mayEnter allows exactly the drawn moves, and failure from any live phase', () => {
  for (const from of PHASES) {
    for (const to of PHASES) {
      const drawn = MOVES.some(([a, b]) => a === from && b === to);
      const failure = to === 'done' && from !== 'done';
      assert.equal(mayEnter(from, to), drawn || failure, `${from} -> ${to}`);
    }
  }
});

test('enter() moves a legal step and throws an internal error on any other', () => {
  const exchange = { phase: 'writing' } as Exchange;
  enter(exchange, 'awaiting-head');
  assert.equal(exchange.phase, 'awaiting-head');
  assert.throws(() => enter(exchange, 'draining'), /^Error: internal: .*awaiting-head to draining/);
  assert.equal(exchange.phase, 'awaiting-head', 'a refused move changes nothing');
  enter(exchange, 'done');
  assert.throws(() => enter(exchange, 'done'), /internal:/);
});
