import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  hasIdempotencyKey,
  IDEMPOTENCY_KEY_FIELDS,
  isIdempotentMethod,
  isReplayableBody,
  mayRepeat,
} from '../../src/http/semantics.js';
import { serializeRequestHead } from '../../src/http1/serializer.js';

describe('shared HTTP semantics', () => {
  test('the idempotent methods are those of RFC 9110 §9.2.2', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) {
      assert.equal(isIdempotentMethod(method), true, method);
    }
    for (const method of ['POST', 'PATCH', 'CONNECT', 'get', 'PROPFIND']) {
      assert.equal(isIdempotentMethod(method), false, method);
    }
  });

  test('either idempotency key name, in any case and any headers form, makes a request repeatable', () => {
    for (const name of [
      'Idempotency-Key',
      'idempotency-key',
      'X-Idempotency-Key',
      'x-IDEMPOTENCY-key',
    ]) {
      assert.equal(hasIdempotencyKey({ [name]: 'k1' }), true, name);
      assert.equal(hasIdempotencyKey([[name, 'k1']]), true, name);
      assert.equal(hasIdempotencyKey(new Map([[name, 'k1']])), true, name);
      assert.equal(mayRepeat('POST', { [name]: 'k1' }), true, name);
    }
    assert.equal(hasIdempotencyKey({ 'idempotency-key': undefined }), false);
    assert.equal(hasIdempotencyKey({ 'x-request-id': 'k' }), false);
    assert.equal(mayRepeat('POST', undefined), false);
    assert.equal(mayRepeat('PUT', undefined), true);
  });

  test('the serializer counts exactly the same idempotency key names', () => {
    for (const name of IDEMPOTENCY_KEY_FIELDS) {
      const head = serializeRequestHead({
        method: 'POST',
        path: '/',
        host: 'h',
        headers: { [name]: 'k' },
        framing: { kind: 'none' },
      });
      assert.equal(head.idempotencyKey, true, name);
    }
    const plain = serializeRequestHead({
      method: 'POST',
      path: '/',
      host: 'h',
      headers: { 'x-idempotency': 'k' },
      framing: { kind: 'none' },
    });
    assert.equal(plain.idempotencyKey, false);
  });

  test('only a body that can be sent again is replayable', () => {
    assert.equal(isReplayableBody(undefined), true);
    assert.equal(isReplayableBody(null), true);
    assert.equal(isReplayableBody('text'), true);
    assert.equal(isReplayableBody(new Uint8Array(3)), true);
    assert.equal(isReplayableBody(Buffer.from('x')), true);
    async function* stream() {
      yield 'x';
    }
    assert.equal(isReplayableBody(stream()), false);
  });
});
