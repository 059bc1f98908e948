/**
 * httpool: an HTTP/1.1 and HTTP/2 connection pool and client for Node.js.
 *
 * The public contract: pools, their options and results, and the typed errors. Internals
 * (the generic resource pool, the parser, the serializer) are not exported.
 */

export type {
  AgentOptions,
  AgentRequestOptions,
  AgentStats,
  OriginOptions,
} from './client/agent.js';
export { Agent } from './client/agent.js';
export type {
  AcquireOptions,
  CloseOptions,
  Http2Mode,
  PoolOptions,
  PoolStats,
  RequestOptions,
} from './client/connection-pool.js';
export { ConnectionPool } from './client/connection-pool.js';
export type { ConnectHook, ConnectTarget } from './client/connector.js';
export { fetch, getDefaultAgent, request, setDefaultAgent } from './client/default-agent.js';
export type { AddressRecord, DnsOptions, DnsResolver, DnsStats } from './client/dns.js';
export type { FetchInit } from './client/fetch.js';
export type { DurationSummary } from './client/histogram.js';
export type { Origin } from './client/origin.js';
export { PooledConnection } from './client/pooled-connection.js';
export type { ProxyConfig } from './client/proxy.js';
export { ProxyError, parseProxy, proxyForUrl } from './client/proxy.js';
export { RedirectError } from './client/redirect.js';
export type {
  ConnectionRequestOptions,
  QueryInput,
  QueryValue,
  RequestConveniences,
} from './client/request-options.js';
export type { RetryOptions } from './client/retry-policy.js';
export type { Clock, Timer } from './clock.js';
export {
  AbortError,
  AcquireTimeoutError,
  BodyTimeoutError,
  BodyUsedError,
  ConnectTimeoutError,
  EmptyPoolError,
  HeadersTimeoutError,
  HttpoolError,
  type HttpoolErrorOptions,
  InvalidArgumentError,
  InvalidStateError,
  isHttpoolError,
  PoolClosedError,
  QueueFullError,
  RequestBodyError,
  type RequestPhase,
  type RequestTarget,
  RequestTimeoutError,
  type RequestTimeoutErrorOptions,
  ResponseError,
  ResponseLimitError,
  SocketError,
  StreamResetError,
} from './errors.js';
export type { ResponseBody } from './http/body.js';
export { ResponseHeaders } from './http/headers.js';
export type {
  ExchangeOptions,
  HeadersInput,
  HeaderValue,
  RequestBody,
} from './http/options.js';
export { HttpResponse } from './http/response.js';
export type { ParserLimits } from './http1/limits.js';
export { defaultParserLimits } from './http1/limits.js';
