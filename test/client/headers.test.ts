import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConnectionPool, ResponseHeaders } from '../../src/index.js';
import { startRawServer, type TestServer } from '../helpers/servers.js';

describe('response headers read like Fetch', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  const head =
    'HTTP/1.1 200 OK\r\n' +
    'X-Multi: one\r\n' +
    'Content-Type: text/plain\r\n' +
    'Set-Cookie: a=1; Path=/\r\n' +
    'x-multi: two\r\n' +
    'SET-COOKIE: b=2, c=3\r\n' +
    'Content-Length: 2\r\n' +
    '\r\nok';

  async function fetchHeaders(): Promise<ResponseHeaders> {
    const server = await startRawServer((socket) => socket.write(head));
    servers.push(server);
    await using pool = new ConnectionPool(server.origin);
    const res = await pool.request({});
    await res.dump();
    return res.headers;
  }

  test('get joins repeated fields, getSetCookie keeps cookies apart, has is case-insensitive', async () => {
    const headers = await fetchHeaders();
    assert.equal(headers.get('x-multi'), 'one, two');
    assert.equal(headers.get('X-MULTI'), 'one, two');
    assert.equal(headers.get('set-cookie'), 'a=1; Path=/, b=2, c=3');
    assert.deepEqual(headers.getSetCookie(), ['a=1; Path=/', 'b=2, c=3']);
    assert.equal(headers.get('missing'), null);
    assert.ok(headers.has('Content-Type'));
    assert.ok(!headers.has('content-encoding'));
  });

  test('entries, keys, values, forEach and for...of: sorted lower-case names, cookies one by one', async () => {
    const headers = await fetchHeaders();
    const expected: Array<[string, string]> = [
      ['content-length', '2'],
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2, c=3'],
      ['x-multi', 'one, two'],
    ];
    assert.deepEqual([...headers], expected);
    assert.deepEqual([...headers.entries()], expected);
    assert.deepEqual(
      [...headers.keys()],
      expected.map(([name]) => name),
    );
    assert.deepEqual(
      [...headers.values()],
      expected.map(([, value]) => value),
    );
    const seen: Array<[string, string]> = [];
    const self = { tag: 'this' };
    headers.forEach(function (this: unknown, value, name, parent) {
      assert.equal(this, self);
      assert.equal(parent, headers);
      seen.push([name, value]);
    }, self);
    assert.deepEqual(seen, expected);
    // The same as the WHATWG Headers built from the same fields.
    const whatwg = new Headers();
    for (let i = 0; i < headers.raw.length; i += 2) {
      whatwg.append(headers.raw[i]!, headers.raw[i + 1]!);
    }
    assert.deepEqual([...headers], [...whatwg]);
  });

  test('toJSON agrees with iteration and get; raw keeps the wire order and case', async () => {
    const headers = await fetchHeaders();
    const json = headers.toJSON();
    assert.deepEqual(Object.keys(json), [...new Set(headers.keys())]);
    for (const name of headers.keys()) assert.equal(json[name], headers.get(name));
    assert.equal(JSON.stringify(headers), JSON.stringify(json));
    assert.deepEqual(headers.raw, [
      'X-Multi',
      'one',
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1; Path=/',
      'x-multi',
      'two',
      'SET-COOKIE',
      'b=2, c=3',
      'Content-Length',
      '2',
    ]);
    assert.equal(headers.size, 6);
  });

  test('a field named __proto__ is an own property of toJSON', () => {
    const headers = new ResponseHeaders(['__proto__', 'x', 'a', 'b']);
    const json = headers.toJSON();
    assert.deepEqual(Object.keys(json), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(json), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(json, '__proto__')?.value, 'x');
  });
});
