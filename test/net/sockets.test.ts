import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { Http1Connection } from '../../src/http1/connection.js';
import { ConnectionPool } from '../../src/index.js';
import { connectSharedReads } from '../../src/net/sockets.js';
import { eventually, startRawServer } from '../helpers/servers.js';
import { makeCertificates, startTlsServer } from '../helpers/tls.js';

/** A server that writes a greeting to every connection as soon as it is accepted. */
async function greetingServer(greeting: (index: number) => string) {
  let accepted = 0;
  const server = createServer((socket) => {
    socket.on('error', () => {});
    const text = greeting(accepted++);
    if (text !== '') socket.write(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
}

describe('sockets that read into the shared buffer', () => {
  test('bytes read before the takeover are handed over first, as copies', async () => {
    const { server, port } = await greetingServer((index) => `hello, early bird ${index}`);
    after(() => server.close());
    // The second socket's greeting is read into the shared buffer after the first one's.
    const opened = [0, 1].map(() => connectSharedReads({ host: '127.0.0.1', port }));
    await Promise.all(opened.map(({ socket }) => connected(socket)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const received: string[] = [];
    for (const { socket, reads } of opened) {
      reads.deliverTo((bytes) => received.push(bytes.toString('latin1')));
      socket.destroy();
    }
    assert.deepEqual(received.sort(), ['hello, early bird 0', 'hello, early bird 1']);
  });

  test("a socket's reads go to one receiver only", async () => {
    const { server, port } = await greetingServer(() => '');
    after(() => server.close());
    const { socket, reads } = connectSharedReads({ host: '127.0.0.1', port });
    await connected(socket);
    reads.deliverTo(() => {});
    assert.throws(() => reads.deliverTo(() => {}), /taken twice/);
    socket.destroy();
  });

  test('a connection on such a socket refuses bytes that arrived before any request', async () => {
    const { server, port } = await greetingServer(
      () => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n',
    );
    after(() => server.close());
    const { socket, reads } = connectSharedReads({ host: '127.0.0.1', port });
    await connected(socket);
    await new Promise((resolve) => setTimeout(resolve, 50));
    let closeError: Error | undefined;
    const connection = new Http1Connection(
      socket,
      { host: `127.0.0.1:${port}`, reads },
      { onClose: (error) => (closeError = error) },
    );
    assert.equal(connection.state, 'closed');
    assert.match(String(closeError?.message), /idle/);
  });

  test('a body queued unread keeps its bytes while other connections read theirs', async () => {
    // Two responses of different bytes, each larger than one small read, on two connections.
    const size = 48 * 1024;
    const server = await startRawServer((socket, head) => {
      const fill = head.startsWith('GET /a') ? 'a' : 'b';
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size, fill));
    });
    after(() => server.close());
    const pool = new ConnectionPool(server.origin, { maxSize: 2 });
    after(() => pool.destroy());
    const first = await pool.request({ path: '/a' });
    const streamed = await pool.request({ path: '/a' });
    // Both bodies arrive in full and sit in their queues, unread.
    await eventually(() => first.body.complete && streamed.body.complete, 2000, 'bodies queued');
    for (let i = 0; i < 3; i++) {
      const other = await pool.request({ path: '/b' });
      assert.equal(Buffer.from(await other.arrayBuffer()).toString('latin1'), 'b'.repeat(size));
    }
    const whole = Buffer.from(await first.arrayBuffer());
    assert.equal(whole.length, size);
    assert.equal(whole.toString('latin1'), 'a'.repeat(size));
    let chunks = '';
    for await (const chunk of streamed.body) chunks += Buffer.from(chunk).toString('latin1');
    assert.equal(chunks, 'a'.repeat(size));
  });

  test('over TLS too, a queued body keeps its bytes while other connections read theirs', async () => {
    const tlsServer = await startTlsServer(makeCertificates());
    after(() => tlsServer.close());
    const pool = new ConnectionPool(`https://localhost:${tlsServer.port}`, {
      maxSize: 2,
      tls: { ca: makeCertificates().ca },
    });
    after(() => pool.destroy());
    // The server answers with the request path as the body: 40 KiB of one letter.
    const path = (letter: string) => `/${letter.repeat(40 * 1024)}`;
    const first = await pool.request({ path: path('a') });
    await eventually(() => first.body.complete, 2000, 'the body queued');
    for (let i = 0; i < 3; i++) {
      const other = await pool.request({ path: path('b') });
      assert.equal(Buffer.from(await other.arrayBuffer()).toString('latin1'), path('b'));
    }
    assert.equal(Buffer.from(await first.arrayBuffer()).toString('latin1'), path('a'));
  });

  test('arrayBuffer() gives each response an ArrayBuffer of its own', async () => {
    const server = await startRawServer((socket, _head, index) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nbody${index % 10}`);
    });
    after(() => server.close());
    const pool = new ConnectionPool(server.origin, { maxSize: 1 });
    after(() => pool.destroy());
    const buffers: ArrayBuffer[] = [];
    for (let i = 0; i < 3; i++) buffers.push(await (await pool.request()).arrayBuffer());
    assert.deepEqual(
      buffers.map((b) => Buffer.from(b).toString()),
      ['body0', 'body1', 'body2'],
    );
    assert.deepEqual(
      buffers.map((b) => b.byteLength),
      [5, 5, 5],
    );
    new Uint8Array(buffers[0]!).fill(0x21);
    assert.equal(Buffer.from(buffers[1]!).toString(), 'body1');
  });
});
