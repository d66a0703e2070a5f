import { GraphQLError } from 'graphql';
import { ErrorCode } from './codes';

/** Extra fields a coded error may carry in `extensions`, beside `code`. */
export interface GatewayErrorExtensions {
  /** The Source id, for errors that concern one backend. */
  source?: string;
  /** Seconds to wait before retrying (SOURCE_RATE_LIMITED). */
  retryAfter?: number;
  /** Largest accepted size in bytes (FILE_TOO_LARGE). */
  maxSize?: number;
  /** Which field or argument was wrong (BAD_USER_INPUT). */
  field?: string;
  [key: string]: unknown;
}

/**
 * The one base class for every error Switchboard raises on purpose. Its message is safe to show to clients;
 * anything that is not a GatewayError is unexpected and is masked in production (see server/maskError.ts).
 */
export class GatewayError extends GraphQLError {
  readonly code: ErrorCode;
  readonly sourceId?: string;
  /**
   * For a failed upstream write (set by connectors/http.ts): true when the source may have carried it out, because
   * it was sent and its outcome is unknown (a 5xx, a timeout, a connection reset after sending, an unreadable
   * answer); false when it certainly did not (never sent: connection refused, circuit open, the gateway's own rate
   * cap or queue; or refused by the source: a 4xx). Undefined for reads and for errors not about one request.
   * Internal: never sent to clients (idempotent mutations decide from it whether to hold their key).
   */
  ambiguous?: boolean;

  constructor(code: ErrorCode, message: string, extensions: GatewayErrorExtensions = {}, cause?: unknown) {
    const clean: Record<string, unknown> = { code };
    for (const [k, v] of Object.entries(extensions)) if (v !== undefined) clean[k] = v;
    super(message, { extensions: clean, originalError: cause instanceof Error ? cause : undefined });
    this.name = 'GatewayError';
    this.code = code;
    this.sourceId = extensions.source;
  }

  /** True when the error is about a backend failing rather than about the request. */
  get isSourceFailure(): boolean {
    return (
      this.code === ErrorCode.SOURCE_UNAVAILABLE ||
      this.code === ErrorCode.SOURCE_TIMEOUT ||
      this.code === ErrorCode.SOURCE_RATE_LIMITED ||
      this.code === ErrorCode.SOURCE_BAD_RESPONSE ||
      this.code === ErrorCode.SOURCE_AUTH_FAILED ||
      this.code === ErrorCode.CIRCUIT_OPEN
    );
  }
}

export const badInput = (message: string, field?: string) =>
  new GatewayError(ErrorCode.BAD_USER_INPUT, message, { field });

export const notFound = (what: string) => new GatewayError(ErrorCode.NOT_FOUND, `${what} was not found.`);

export const unsupported = (source: string, operation: string) =>
  new GatewayError(
    ErrorCode.UNSUPPORTED_OPERATION,
    `Source "${source}" does not support ${operation}; see Source.capabilities.`,
    { source, operation },
  );

export const fileTooLarge = (source: string, size: number, maxSize: number) =>
  new GatewayError(
    ErrorCode.FILE_TOO_LARGE,
    `The file is ${size} bytes; source "${source}" accepts at most ${maxSize} bytes.`,
    { source, maxSize },
  );
