/**
 * Run by continuation-flood.test.ts in a process of its own: a CONTINUATION flood (20,000
 * frames after a HEADERS) against one pool request. Prints one JSON line with what happened,
 * then exits at once: on Node 20 the binding can abort the process later, when the session
 * the flood ended is garbage-collected (a Node bug, not ours; Node 24 does not).
 */
import {
  ConnectionPool,
  isHttpoolError,
  ResponseLimitError,
  SocketError,
} from '../../src/index.js';
import { FrameType, type RawFrame, startH2RawServer } from '../helpers/h2-raw-server.js';

const server = await startH2RawServer({
  onConnection: (conn) => {
    void conn
      .nextFrame((f: RawFrame) => f.type === FrameType.HEADERS && f.streamId !== 0, 10_000)
      .then((frame) => conn.continuationFlood(frame.streamId, 20_000))
      .catch(() => {});
  },
});
const pool = new ConnectionPool(server.origin, { http2: 'prior-knowledge' });
const heap = process.memoryUsage().heapUsed;
const started = performance.now();
let error: unknown;
try {
  await (await pool.request({ path: '/' })).text();
} catch (caught) {
  error = caught;
}
const ms = performance.now() - started;
const heapGrowth = process.memoryUsage().heapUsed - heap;
// The stream's report comes with its close, a tick or two after the error.
for (let waited = 0; pool.stats().leased > 0 && waited < 3000; waited += 10) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const stats = pool.stats();
process.stdout.write(
  `${JSON.stringify({
    typed: isHttpoolError(error),
    kind:
      error instanceof SocketError
        ? 'SocketError'
        : error instanceof ResponseLimitError
          ? 'ResponseLimitError'
          : String(error),
    ms,
    heapGrowth,
    leased: stats.leased,
    streams: stats.streams,
  })}\n`,
  () => process.exit(0),
);
