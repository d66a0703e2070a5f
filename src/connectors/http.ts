import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';
import { ErrorCode, GatewayError } from '../errors';
import type { RequestScope, SourceHealthModel } from './types';

/** Options for one source's HTTP client. */
export interface HttpClientOptions {
  sourceId: string;
  /** Base URL; request paths are appended to it (keep a trailing path such as `/api/v1`). */
  baseUrl: string;
  /** Sent with every request (authentication). Never logged. */
  headers?: Record<string, string>;
  /** Per-attempt timeout. @default 5000 */
  timeoutMs?: number;
  /** Extra attempts for idempotent requests on transient failures. @default 2 */
  retries?: number;
  /** Consecutive failures that open the circuit. @default 5 */
  circuitThreshold?: number;
  /** How long the circuit stays open before a half-open probe. @default 10000 */
  circuitHalfOpenAfterMs?: number;
  /**
   * Vendor-specific error mapping for non-2xx answers, tried before the generic one. Return undefined to fall
   * back to the generic mapping (401 → SOURCE_AUTH_FAILED, 404 → NOT_FOUND, 429 → SOURCE_RATE_LIMITED,
   * 5xx → SOURCE_UNAVAILABLE, other 4xx → SOURCE_REJECTED).
   */
  mapError?: (res: HttpErrorResponse) => GatewayError | undefined;
}

export interface HttpErrorResponse {
  status: number;
  /** Parsed JSON when the body was JSON, else the text. */
  body: unknown;
  headers: Headers;
  method: string;
  path: string;
}

export type QueryValue = string | number | boolean | null | undefined | Array<string | number>;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Arrays are sent as `key[]=a&key[]=b` (Rails and Laravel style). */
  query?: Record<string, QueryValue>;
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  /** Whether a retry is safe. @default true for GET */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty body. */
  body: unknown;
}

const TRANSIENT = new Set<string>([ErrorCode.SOURCE_UNAVAILABLE, ErrorCode.SOURCE_TIMEOUT]);

/**
 * The one way connectors talk HTTP: timeout per attempt, jittered retries for idempotent requests only,
 * a circuit breaker per source, vendor errors turned into coded GatewayErrors naming the source, and every
 * attempt recorded in the operation's scope. Credentials travel in headers and never appear in errors.
 */
export class HttpClient {
  readonly sourceId: string;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly readPolicy: IPolicy;
  private lastSuccessAt: Date | null = null;
  private lastFailureAt: Date | null = null;
  private lastErrorCode: string | null = null;
  private recentFailures = 0;

  constructor(private readonly opts: HttpClientOptions) {
    this.sourceId = opts.sourceId;
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.breaker = circuitBreaker(
      handleWhen((e) => e instanceof GatewayError && e.isSourceFailure && e.code !== ErrorCode.SOURCE_RATE_LIMITED),
      {
        halfOpenAfter: opts.circuitHalfOpenAfterMs ?? 10_000,
        breaker: new ConsecutiveBreaker(opts.circuitThreshold ?? 5),
      },
    );
    const retries = opts.retries ?? 2;
    this.readPolicy =
      retries > 0
        ? retry(
            handleWhen((e) => e instanceof GatewayError && TRANSIENT.has(e.code)),
            { maxAttempts: retries, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }) },
          )
        : retry(handleWhen(() => false), { maxAttempts: 0 });
  }

  /** The source's health as seen from recent calls, for `Source.health` and `/readyz`. */
  health(): SourceHealthModel {
    const circuit =
      this.breaker.state === CircuitState.Open || this.breaker.state === CircuitState.Isolated
        ? 'OPEN'
        : this.breaker.state === CircuitState.HalfOpen
          ? 'HALF_OPEN'
          : 'CLOSED';
    let status: SourceHealthModel['status'] = 'UNKNOWN';
    if (circuit === 'OPEN') status = 'DOWN';
    else if (this.recentFailures >= 3) status = 'DOWN';
    else if (this.recentFailures > 0) status = 'DEGRADED';
    else if (this.lastSuccessAt) status = 'UP';
    return {
      status,
      circuit,
      lastSuccessAt: this.lastSuccessAt,
      lastFailureAt: this.lastFailureAt,
      lastErrorCode: this.lastErrorCode,
    };
  }

  async request(scope: RequestScope, req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const attempt = () => this.breaker.execute(() => this.once(scope, req));
    try {
      return await (idempotent ? this.readPolicy.execute(attempt) : attempt());
    } catch (e) {
      if (e instanceof BrokenCircuitError) {
        throw new GatewayError(
          ErrorCode.CIRCUIT_OPEN,
          `Source "${this.sourceId}" is failing; its circuit breaker is open, so no call was made.`,
          { source: this.sourceId },
        );
      }
      throw e;
    }
  }

  /** Convenience: GET and return the parsed body. */
  async get(scope: RequestScope, path: string, query?: HttpRequest['query']): Promise<unknown> {
    return (await this.request(scope, { method: 'GET', path, query })).body;
  }

  private url(path: string, query?: HttpRequest['query']): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const item of v) qs.append(`${k}[]`, String(item));
      else qs.append(k, String(v));
    }
    const s = qs.toString();
    return `${this.base}${path}${s ? `?${s}` : ''}`;
  }

  private async once(scope: RequestScope, req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = scope.signal ? AbortSignal.any([timeout, scope.signal]) : timeout;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-request-id': scope.requestId,
      ...this.opts.headers,
      ...req.headers,
    };
    let body: BodyInit | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      body = req.form;
    }
    const record = (status: number | null, error?: string) =>
      scope.recordUpstream?.({
        sourceId: this.sourceId,
        method: req.method,
        path: req.path,
        status,
        ms: performance.now() - started,
        error,
      });

    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url(req.path, req.query), { method: req.method, headers, body, signal });
      text = await res.text();
    } catch (e) {
      const timedOut = timeout.aborted;
      const err = timedOut
        ? new GatewayError(ErrorCode.SOURCE_TIMEOUT, `Source "${this.sourceId}" did not answer within ${this.timeoutMs} ms.`, {
            source: this.sourceId,
          })
        : scope.signal?.aborted
          ? new GatewayError(ErrorCode.SOURCE_TIMEOUT, `The operation's deadline passed while waiting for source "${this.sourceId}".`, {
              source: this.sourceId,
            })
          : new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, `Source "${this.sourceId}" could not be reached.`, {
              source: this.sourceId,
            }, e);
      record(null, err.code);
      this.fail(err.code);
      throw err;
    }

    let parsed: unknown = null;
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    if (text.length > 0) {
      if (isJson) {
        try {
          parsed = JSON.parse(text);
        } catch {
          const err = new GatewayError(
            ErrorCode.SOURCE_BAD_RESPONSE,
            `Source "${this.sourceId}" answered ${req.method} ${req.path} with a body that is not valid JSON.`,
            { source: this.sourceId },
          );
          record(res.status, err.code);
          this.fail(err.code);
          throw err;
        }
      } else {
        parsed = text;
      }
    }

    if (res.ok) {
      if (text.length > 0 && !isJson) {
        const err = new GatewayError(
          ErrorCode.SOURCE_BAD_RESPONSE,
          `Source "${this.sourceId}" answered ${req.method} ${req.path} with ${res.headers.get('content-type') ?? 'no content type'}, expected JSON.`,
          { source: this.sourceId },
        );
        record(res.status, err.code);
        this.fail(err.code);
        throw err;
      }
      record(res.status);
      this.succeed();
      return { status: res.status, headers: res.headers, body: parsed };
    }

    const err =
      this.opts.mapError?.({ status: res.status, body: parsed, headers: res.headers, method: req.method, path: req.path }) ??
      this.genericError(res.status, res.headers, req);
    record(res.status, err.code);
    if (err.isSourceFailure) this.fail(err.code);
    else this.succeed();
    throw err;
  }

  private genericError(status: number, headers: Headers, req: HttpRequest): GatewayError {
    const source = this.sourceId;
    if (status === 429) {
      const retryAfter = parseRetryAfter(headers.get('retry-after'));
      return new GatewayError(ErrorCode.SOURCE_RATE_LIMITED, `Source "${source}" is rate-limiting the gateway.`, {
        source,
        retryAfter,
      });
    }
    if (status === 401) {
      return new GatewayError(ErrorCode.SOURCE_AUTH_FAILED, `Source "${source}" refused the gateway's credentials.`, {
        source,
      });
    }
    if (status === 403) return new GatewayError(ErrorCode.FORBIDDEN, `Source "${source}" denied access.`, { source });
    if (status === 404) return new GatewayError(ErrorCode.NOT_FOUND, `Source "${source}" has no such object.`, { source });
    if (status >= 500) {
      return new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, `Source "${source}" failed (HTTP ${status}).`, { source });
    }
    return new GatewayError(
      ErrorCode.SOURCE_REJECTED,
      `Source "${source}" rejected ${req.method} ${req.path} (HTTP ${status}).`,
      { source, status },
    );
  }

  private succeed() {
    this.lastSuccessAt = new Date();
    this.recentFailures = 0;
  }
  private fail(code: string) {
    this.lastFailureAt = new Date();
    this.lastErrorCode = code;
    this.recentFailures++;
  }
}

/** Retry-After in seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}
