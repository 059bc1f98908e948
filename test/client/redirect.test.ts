/**
 * The redirect rules on their own, as tables: where {@link nextHop} goes and what it sends,
 * and which hops {@link checkHop} refuses. `agent.request()` and `fetch()` both run on them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BODY_SPENT,
  checkHop,
  isRedirectStatus,
  nextHop,
  RedirectError,
} from '../../src/client/redirect.js';
import type { HeaderPairs } from '../../src/http/header-pairs.js';

const FROM = new URL('http://a.example/dir/page?x=1');

describe('nextHop', () => {
  const cases: Array<{
    status: number;
    location: string | null;
    method: string;
    url?: string;
    nextMethod?: string;
    keepBody?: boolean;
    none?: true;
  }> = [
    { status: 301, location: '/b', method: 'GET', url: 'http://a.example/b', nextMethod: 'GET' },
    { status: 301, location: '/b', method: 'POST', url: 'http://a.example/b', nextMethod: 'GET' },
    {
      status: 302,
      location: 'b',
      method: 'POST',
      url: 'http://a.example/dir/b',
      nextMethod: 'GET',
    },
    { status: 302, location: '/b', method: 'PUT', url: 'http://a.example/b', nextMethod: 'PUT' },
    { status: 303, location: '/b', method: 'PUT', url: 'http://a.example/b', nextMethod: 'GET' },
    { status: 303, location: '/b', method: 'HEAD', url: 'http://a.example/b', nextMethod: 'HEAD' },
    { status: 307, location: '/b', method: 'POST', url: 'http://a.example/b', nextMethod: 'POST' },
    {
      status: 308,
      location: '/b',
      method: 'DELETE',
      url: 'http://a.example/b',
      nextMethod: 'DELETE',
    },
    // The fragment is dropped; a query comes from the Location alone.
    { status: 308, location: '/b?y=2#frag', method: 'GET', url: 'http://a.example/b?y=2' },
    {
      status: 301,
      location: 'https://b.example:8443/',
      method: 'GET',
      url: 'https://b.example:8443/',
    },
    { status: 301, location: '//c.example/x', method: 'GET', url: 'http://c.example/x' },
    // Not a redirect, or no Location: the response is the answer.
    { status: 300, location: '/b', method: 'GET', none: true },
    { status: 304, location: '/b', method: 'GET', none: true },
    { status: 200, location: '/b', method: 'GET', none: true },
    { status: 302, location: null, method: 'GET', none: true },
  ];
  for (const c of cases) {
    test(`${c.status} ${c.method} to ${c.location}`, () => {
      const hop = nextHop(c.status, c.location, FROM, c.method, []);
      if (c.none) {
        assert.equal(hop, undefined);
        return;
      }
      assert.ok(hop !== undefined);
      assert.equal(hop.url.href, c.url);
      const method = c.nextMethod ?? c.method;
      assert.equal(hop.method, method);
      assert.equal(hop.keepBody, method === c.method);
    });
  }

  const refused: Array<[string, string, RegExp]> = [
    ['not a URL', 'http://[::1', /not a valid URL/],
    ['another scheme', 'ftp://a.example/f', /redirect to ftp:/],
    ['javascript:', 'javascript:alert(1)', /redirect to javascript:/],
    ['credentials', 'http://user:pw@a.example/', /with credentials/],
    ['a user alone', 'http://user@a.example/', /with credentials/],
  ];
  for (const [name, location, message] of refused) {
    test(`a Location with ${name} is a RedirectError with the status`, () => {
      assert.throws(
        () => nextHop(307, location, FROM, 'GET', []),
        (error: unknown) =>
          error instanceof RedirectError && error.status === 307 && message.test(error.message),
      );
    });
  }

  const headers: HeaderPairs = [
    ['Host', 'a.example'],
    ['Authorization', 'Bearer t'],
    ['Cookie', 'k=v'],
    ['Proxy-Authorization', 'Basic x'],
    ['Content-Type', 'text/plain'],
    ['Content-Length', '4'],
    ['Content-Encoding', 'gzip'],
    ['Content-Language', 'en'],
    ['Content-Location', '/c'],
    ['Transfer-Encoding', 'chunked'],
    ['Accept', '*/*'],
    ['X-Custom', '1'],
  ];
  const names = (pairs: HeaderPairs) => pairs.map(([name]) => name.toLowerCase());
  const fieldCases: Array<{
    name: string;
    status: number;
    method: string;
    to: string;
    sent: string[];
  }> = [
    {
      name: 'same origin, body kept: only Host goes',
      status: 307,
      method: 'POST',
      to: '/b',
      sent: names(headers).filter((n) => n !== 'host'),
    },
    {
      name: 'same origin, body dropped: its fields go too',
      status: 303,
      method: 'POST',
      to: '/b',
      sent: ['authorization', 'cookie', 'proxy-authorization', 'accept', 'x-custom'],
    },
    {
      name: 'another origin: credentials go',
      status: 307,
      method: 'POST',
      to: 'http://b.example/',
      sent: [
        'content-type',
        'content-length',
        'content-encoding',
        'content-language',
        'content-location',
        'transfer-encoding',
        'accept',
        'x-custom',
      ],
    },
    {
      name: 'another port is another origin',
      status: 302,
      method: 'GET',
      to: 'http://a.example:8080/',
      sent: [
        'content-type',
        'content-length',
        'content-encoding',
        'content-language',
        'content-location',
        'transfer-encoding',
        'accept',
        'x-custom',
      ],
    },
    {
      name: 'another scheme is another origin, and a 301 POST drops the body',
      status: 301,
      method: 'POST',
      to: 'https://a.example/',
      sent: ['accept', 'x-custom'],
    },
  ];
  for (const c of fieldCases) {
    test(`header fields: ${c.name}`, () => {
      const hop = nextHop(c.status, c.to, FROM, c.method, headers);
      assert.ok(hop !== undefined);
      assert.deepEqual(names(hop.headers), c.sent);
    });
  }

  test('the caller’s pairs are left as they were', () => {
    const own: HeaderPairs = [
      ['Host', 'x'],
      ['Cookie', 'k'],
    ];
    nextHop(302, 'http://b.example/', FROM, 'GET', own);
    assert.deepEqual(own, [
      ['Host', 'x'],
      ['Cookie', 'k'],
    ]);
  });

  test('isRedirectStatus is 301, 302, 303, 307 and 308 only', () => {
    const statuses = Array.from({ length: 500 }, (_, i) => i + 100).filter(isRedirectStatus);
    assert.deepEqual(statuses, [301, 302, 303, 307, 308]);
  });
});

describe('checkHop', () => {
  const keeps = nextHop(307, '/b', FROM, 'POST', [])!;
  const drops = nextHop(303, '/b', FROM, 'POST', [])!;
  const cases: Array<{
    name: string;
    hop: typeof keeps;
    mode: 'follow' | 'error';
    redirects: number;
    max: number;
    spent: boolean;
    want: undefined | typeof BODY_SPENT | RegExp;
  }> = [
    {
      name: 'followed',
      hop: keeps,
      mode: 'follow',
      redirects: 0,
      max: 20,
      spent: false,
      want: undefined,
    },
    {
      name: 'the last one allowed',
      hop: keeps,
      mode: 'follow',
      redirects: 19,
      max: 20,
      spent: false,
      want: undefined,
    },
    {
      name: 'one too many',
      hop: keeps,
      mode: 'follow',
      redirects: 20,
      max: 20,
      spent: false,
      want: /more than 20 redirects/,
    },
    {
      name: 'none allowed',
      hop: keeps,
      mode: 'follow',
      redirects: 0,
      max: 0,
      spent: false,
      want: /more than 0 redirects/,
    },
    {
      name: "redirect: 'error'",
      hop: keeps,
      mode: 'error',
      redirects: 0,
      max: 20,
      spent: false,
      want: /redirect is "error"/,
    },
    // The mode is checked first, then the count, then the body.
    {
      name: "'error' before the count",
      hop: keeps,
      mode: 'error',
      redirects: 20,
      max: 20,
      spent: true,
      want: /redirect is "error"/,
    },
    {
      name: 'the count before the body',
      hop: keeps,
      mode: 'follow',
      redirects: 20,
      max: 20,
      spent: true,
      want: /more than 20/,
    },
    {
      name: 'a spent body the hop would send',
      hop: keeps,
      mode: 'follow',
      redirects: 0,
      max: 20,
      spent: true,
      want: BODY_SPENT,
    },
    {
      name: 'a spent body the hop drops',
      hop: drops,
      mode: 'follow',
      redirects: 0,
      max: 20,
      spent: true,
      want: undefined,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = checkHop(c.hop, 307, c.mode, c.redirects, c.max, c.spent);
      if (c.want instanceof RegExp) {
        assert.ok(got instanceof RedirectError, `got ${String(got)}`);
        assert.equal(got.status, 307);
        assert.match(got.message, c.want);
      } else {
        assert.equal(got, c.want);
      }
    });
  }
});
