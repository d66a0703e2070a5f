/**
 * Every error code Switchboard puts in `errors[].extensions.code`.
 *
 * This enum is the contract: README's error-code table lists the same codes, and a test checks the two agree.
 * Codes that concern one backend also carry `extensions.source` (the Source id).
 */
export const ErrorCode = {
  /** A GraphQL argument or input is invalid (page size above 100, malformed cursor, wrong id kind). HTTP 200 / 400. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** No valid API key (HTTP 401; WebSocket close 4403). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The key is valid but may not do this (or the backend denied access). */
  FORBIDDEN: 'FORBIDDEN',
  /** The object does not exist, or its source is hidden from this key. */
  NOT_FOUND: 'NOT_FOUND',
  /** The source cannot do this operation; see Source.capabilities. Carries `source`. */
  UNSUPPORTED_OPERATION: 'UNSUPPORTED_OPERATION',
  /** An attachment is larger than its source accepts. Carries `source` and `maxSize` (bytes). */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** The backend rejected the input (a vendor validation error). Carries `source`. */
  SOURCE_REJECTED: 'SOURCE_REJECTED',
  /** The backend refused the gateway's own credentials. Carries `source`. */
  SOURCE_AUTH_FAILED: 'SOURCE_AUTH_FAILED',
  /** The backend could not be reached or answered 5xx. Carries `source`. */
  SOURCE_UNAVAILABLE: 'SOURCE_UNAVAILABLE',
  /** The backend did not answer in time. Carries `source`. */
  SOURCE_TIMEOUT: 'SOURCE_TIMEOUT',
  /** The backend rate-limited the gateway. Carries `source` and `retryAfter` (seconds) when known. */
  SOURCE_RATE_LIMITED: 'SOURCE_RATE_LIMITED',
  /** The backend answered with a body that does not match its contract. Carries `source`. */
  SOURCE_BAD_RESPONSE: 'SOURCE_BAD_RESPONSE',
  /**
   * A warning beside complete data: Redis (the gateway's shared cache and coordination) was unreachable during the
   * operation, so it was answered from the sources and this instance's own copies. Carries `degraded: true`.
   */
  REDIS_UNAVAILABLE: 'REDIS_UNAVAILABLE',
  /** The source's circuit breaker is open after repeated failures; no call was made. Carries `source`. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /**
   * An idempotencyKey could not be checked because the shared store (Redis) is unreachable; nothing was sent.
   * Carries `retryable: true` and `retryAfter` (seconds): retry with the same key, or send without one.
   */
  IDEMPOTENCY_UNAVAILABLE: 'IDEMPOTENCY_UNAVAILABLE',
  /** A request or operation exceeded a limit (depth, cost, aliases, body size, deadline). */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** An unexpected error; its message is masked in production. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
