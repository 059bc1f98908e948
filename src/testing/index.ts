/**
 * httpool/testing: tools for testing code that uses httpool. {@link MockAgent} answers
 * requests from scripts over in-memory connections, through the real pool; {@link FaultServer}
 * is a real loopback server that misbehaves on purpose; {@link FakeClock} drives the pool's
 * timers by hand. Nothing here is loaded by the main entry.
 */

export { FakeClock } from '../clock.js';
export { MockNotMatchedError, MockPendingError } from '../errors.js';
export type { TestCertificate } from './certificate.js';
export {
  FAILING_FATES,
  type FaultFate,
  type FaultRecord,
  type FaultReply,
  type FaultRequest,
  FaultServer,
  type FaultServerOptions,
  type FaultServerProtocol,
  type ServerFault,
} from './fault-server.js';
export type { H2Fault } from './fault-server-h2.js';
export {
  type BodyMatcher,
  type HeaderMatcher,
  type InterceptOptions,
  MockAgent,
  type MockAgentOptions,
  type MockBody,
  type MockCall,
  MockInterceptor,
  type PathMatcher,
  type ReplyFunction,
} from './mock-agent.js';
export type { Fault, Reply, ReplyChunk, ReplyHeaders } from './wire.js';
