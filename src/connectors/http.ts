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
import { request as undiciRequest } from 'undici';
import { ErrorCode, GatewayError } from '../errors';
import { AdmissionRefused, FairShare, tenantOf, type Refusal } from './fairShare';
import type { RequestScope, SourceHealthModel, SourcePolicy } from './types';

export type { SourcePolicy };

/** Options for one source's HTTP client. */
export interface HttpClientOptions {
  sourceId: string;
  /** Base URL; request paths are appended to it (keep a trailing path such as `/api/v1`). */
  baseUrl: string;
  /** Sent with every request (authentication). Never logged. */
  headers?: Record<string, string>;
  /**
   * The source's limits, as the composition root passed them to the connector (`ConnectorDeps.policy`). The
   * options below that the caller sets itself win over them.
   */
  policy?: SourcePolicy;
  /** Per-attempt timeout. @default 5000 */
  timeoutMs?: number;
  /** Extra attempts for idempotent requests on transient failures. @default 2 */
  retries?: number;
  /** Consecutive failures that open the circuit. @default 5 */
  circuitThreshold?: number;
  /** How long the circuit stays open before a half-open probe. @default 10000 */
  circuitHalfOpenAfterMs?: number;
  /**
   * Requests sent at most in any 60 s (a sliding minute, so a vendor's fixed or sliding window is never
   * exceeded). A request waits for a free slot up to `timeoutMs`, then fails with SOURCE_RATE_LIMITED.
   * null or absent: no cap.
   */
  rateLimitPerMinute?: number | null;
  /** Requests in flight at once; more wait in a queue (up to `timeoutMs`, then SOURCE_RATE_LIMITED). @default 8 */
  maxConcurrency?: number;
  /**
   * Fraction of `rateLimitPerMinute` kept for tenants (API keys, the background) that have used little of the
   * window, so that one key cannot take another's last slots (connectors/fairShare.ts). 0: none.
   * @default 0.25 (DEFAULT_KEY_RESERVE in connectors/fairShare.ts)
   */
  keyReserve?: number;
  /** How long a request may wait for a concurrency or rate slot. @default timeoutMs */
  queueTimeoutMs?: number;
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
  /**
   * FormData goes out as multipart/form-data; URLSearchParams as application/x-www-form-urlencoded (fetch sets
   * either content type).
   */
  form?: FormData | URLSearchParams;
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

/** Vendors count requests on arrival; a little slack keeps a request sent at the window's edge inside it. */
const RATE_WINDOW_MS = 60_000 + 500;
/** Longest Retry-After the gateway honours by refusing calls (a vendor's typo must not block a source for days). */
const MAX_RETRY_AFTER_S = 600;
/** Requests that may wait for a slot at once; beyond, SOURCE_RATE_LIMITED at once. */
const MAX_QUEUED = 1000;

/**
 * The one way connectors talk HTTP: timeout per attempt, jittered retries for idempotent requests only,
 * a circuit breaker per source, vendor errors turned into coded GatewayErrors naming the source, and every
 * attempt recorded in the operation's scope. Credentials travel in headers and never appear in errors.
 */
export class HttpClient {
  readonly sourceId: string;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly queueTimeoutMs: number;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly readPolicy: IPolicy;
  /** Concurrency and rate admission, fair between API keys (connectors/fairShare.ts). */
  private readonly admission: FairShare;
  private readonly opts: HttpClientOptions;
  /** Calls given up because the operation ended (deadline, client gone): not the source's fault. */
  private readonly cancelled = new WeakSet<GatewayError>();
  private lastSuccessAt: Date | null = null;
  private lastFailureAt: Date | null = null;
  private lastErrorCode: string | null = null;
  private recentFailures = 0;
  /** The source said "wait" (429 Retry-After): no call goes out before this time. */
  private blockedUntil = 0;
  /** The gateway's own rate cap refused calls until about this time (for health). */
  private throttledUntil = 0;

  constructor(options: HttpClientOptions) {
    const { policy, ...own } = options;
    const defined = <T extends object>(o: T) =>
      Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    const opts = { ...defined(policy ?? {}), ...defined(own) } as HttpClientOptions;
    this.opts = opts;
    this.sourceId = opts.sourceId;
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.queueTimeoutMs = opts.queueTimeoutMs ?? this.timeoutMs;
    this.breaker = circuitBreaker(
      handleWhen(
        (e) =>
          e instanceof GatewayError &&
          e.isSourceFailure &&
          e.code !== ErrorCode.SOURCE_RATE_LIMITED &&
          !this.cancelled.has(e),
      ),
      {
        halfOpenAfter: opts.circuitHalfOpenAfterMs ?? 10_000,
        breaker: new ConsecutiveBreaker(opts.circuitThreshold ?? 5),
      },
    );
    this.admission = new FairShare({
      maxConcurrency: opts.maxConcurrency ?? 8,
      rate: opts.rateLimitPerMinute ? { limit: opts.rateLimitPerMinute, windowMs: RATE_WINDOW_MS } : null,
      keyReserve: opts.keyReserve,
      maxQueued: MAX_QUEUED,
    });
    const retries = opts.retries ?? 2;
    this.readPolicy =
      retries > 0
        ? retry(
            handleWhen((e) => e instanceof GatewayError && TRANSIENT.has(e.code)),
            { maxAttempts: retries, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }) },
          )
        : retry(
            handleWhen(() => false),
            { maxAttempts: 0 },
          );
  }

  /** The source's health as seen from recent calls, for `Source.health` and `/readyz`. */
  health(): SourceHealthModel {
    const circuit =
      this.breaker.state === CircuitState.Open || this.breaker.state === CircuitState.Isolated
        ? 'OPEN'
        : this.breaker.state === CircuitState.HalfOpen
          ? 'HALF_OPEN'
          : 'CLOSED';
    const now = Date.now();
    let status: SourceHealthModel['status'] = 'UNKNOWN';
    if (circuit === 'OPEN') status = 'DOWN';
    else if (this.recentFailures >= 3 && this.blockedUntil <= now) status = 'DOWN';
    else if (this.recentFailures > 0 || this.blockedUntil > now || this.throttledUntil > now) status = 'DEGRADED';
    else if (this.lastSuccessAt) status = 'UP';
    return {
      status,
      circuit,
      lastSuccessAt: this.lastSuccessAt,
      lastFailureAt: this.lastFailureAt,
      lastErrorCode: this.lastErrorCode,
    };
  }

  /**
   * One logical request. In order: refused at once while the source's Retry-After runs; retried with jittered
   * exponential backoff when idempotent and transient; through the circuit breaker (CIRCUIT_OPEN without a call
   * while open, one probe when half-open); admitted by the concurrency cap and the rate cap (waiting up to
   * `timeoutMs`); then one HTTP attempt with its own timeout, aborted with the operation's signal.
   */
  async request(scope: RequestScope, req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const attempt = () => {
      this.refuseWhileBlocked();
      return this.breaker.execute(() => this.admitted(scope, () => this.once(scope, req)));
    };
    try {
      return await (idempotent ? this.readPolicy.execute(attempt, scope.signal) : attempt());
    } catch (e) {
      if (e instanceof BrokenCircuitError) {
        throw writeOutcome(
          req,
          new GatewayError(
            ErrorCode.CIRCUIT_OPEN,
            `Source "${this.sourceId}" is failing; its circuit breaker is open, so no call was made.`,
            { source: this.sourceId },
          ),
          false,
        );
      }
      // Not marked by once(): refused before sending (Retry-After running, rate cap, queue, cancelled while queued).
      if (e instanceof GatewayError && e.ambiguous === undefined) writeOutcome(req, e, false);
      throw e;
    }
  }

  /** While a Retry-After the source sent is running, fail fast: calling again would only prolong it. */
  private refuseWhileBlocked() {
    const wait = this.blockedUntil - Date.now();
    if (wait > 0) {
      throw new GatewayError(
        ErrorCode.SOURCE_RATE_LIMITED,
        `Source "${this.sourceId}" asked the gateway to wait (Retry-After); no call was made.`,
        { source: this.sourceId, retryAfter: Math.ceil(wait / 1000) },
      );
    }
  }

  /** The error for a call given up because the operation ended; it does not count against the source. */
  private cancelledError(scope: RequestScope): GatewayError {
    const reason: unknown = scope.signal?.reason;
    const deadline = reason instanceof GatewayError && reason.code === ErrorCode.LIMIT_EXCEEDED;
    const err = new GatewayError(
      ErrorCode.SOURCE_TIMEOUT,
      deadline
        ? `The operation's deadline passed while waiting for source "${this.sourceId}".`
        : `The operation was cancelled while waiting for source "${this.sourceId}".`,
      { source: this.sourceId },
    );
    this.cancelled.add(err);
    return err;
  }

  /** `degrades`: the source shows DEGRADED meanwhile (not for one key's share: the source serves the others). */
  private rateLimited(message: string, retryAfterMs?: number, degrades = true): GatewayError {
    if (retryAfterMs !== undefined && degrades) {
      this.throttledUntil = Math.max(this.throttledUntil, Date.now() + retryAfterMs);
    }
    return new GatewayError(ErrorCode.SOURCE_RATE_LIMITED, message, {
      source: this.sourceId,
      retryAfter: retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    });
  }

  /**
   * Runs `call` once a concurrency slot and a rate slot are free, admitted fairly between API keys
   * (connectors/fairShare.ts: per-key queues served in turn, the window's last slots kept for light keys); the key
   * is the scope's `tenant`, background work without one. The wait is bounded by `queueTimeoutMs` (default
   * `timeoutMs`) and by the operation's signal; past it the call never starts.
   */
  private async admitted<T>(scope: RequestScope, call: () => Promise<T>): Promise<T> {
    if (scope.signal?.aborted) throw this.cancelledError(scope);
    let release: () => void;
    try {
      release = await this.admission.acquire(tenantOf(scope), this.queueTimeoutMs, scope.signal);
    } catch (e) {
      if (e instanceof AdmissionRefused) throw this.refused(e.refusal);
      if (scope.signal?.aborted) throw this.cancelledError(scope);
      throw e;
    }
    try {
      if (scope.signal?.aborted) throw this.cancelledError(scope);
      return await call();
    } finally {
      release();
    }
  }

  /** SOURCE_RATE_LIMITED for a call the admission refused, naming which of the source's limits refused it. */
  private refused(r: Refusal): GatewayError {
    const source = `Source "${this.sourceId}"`;
    const rate = this.admission.rate;
    switch (r.kind) {
      case 'queue':
        return this.rateLimited(`${source} has ${MAX_QUEUED} requests waiting in the gateway; no call was made.`, 1000);
      case 'concurrency':
        return this.rateLimited(
          `${source} is at its concurrency limit (${this.admission.maxConcurrency} requests in flight); waited ${this.queueTimeoutMs} ms.`,
          r.retryAfterMs,
        );
      case 'rate':
        return this.rateLimited(
          `${source} allows ${rate?.limit} requests a minute and the gateway has used them; no call was made.`,
          r.retryAfterMs,
        );
      case 'share':
        return this.rateLimited(
          `${source} allows ${rate?.limit} requests a minute; ${r.used} of them went to the same API key, and the last ${this.admission.reserve} are kept for other keys; no call was made.`,
          r.retryAfterMs,
          false,
        );
    }
  }

  /** Convenience: GET and return the parsed body. */
  async get(scope: RequestScope, path: string, query?: HttpRequest['query']): Promise<unknown> {
    return (await this.request(scope, { method: 'GET', path, query })).body;
  }

  /** `?a=1&b[]=2`, or the empty string. */
  private search(query?: HttpRequest['query']): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const item of v) qs.append(`${k}[]`, String(item));
      else qs.append(k, String(v));
    }
    const s = qs.toString();
    return s ? `?${s}` : '';
  }

  private async once(scope: RequestScope, req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    // One controller per call, aborted by its own timer or by the operation's signal (the client gone, the
    // deadline), both let go once the answer is read. Not AbortSignal.timeout + AbortSignal.any: a timer left
    // running for the whole timeout and two signals tied by weak references per upstream call, about 30 us of CPU
    // and GC each on Node 20 against 10-20 (issue 13 target 3).
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, this.timeoutMs);
    timer.unref();
    const outer = scope.signal;
    const onAbort = () => ctl.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener('abort', onAbort, { once: true });
    const signal = ctl.signal;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-request-id': scope.requestId,
      ...this.opts.headers,
      ...req.headers,
    };
    let body: string | FormData | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form instanceof URLSearchParams) {
      // What fetch sends for URLSearchParams.
      headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
      body = req.form.toString();
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

    let res: { status: number; ok: boolean; headers: Headers };
    let text: string;
    try {
      const search = this.search(req.query);
      if (body instanceof FormData) {
        // Multipart: fetch writes the boundary and the parts.
        const r = await fetch(`${this.base}${req.path}${search}`, { method: req.method, headers, body, signal });
        res = r;
        text = await r.text();
      } else {
        // undici's `request`, not `fetch`: no WHATWG Request, Response and stream objects per call (issue 13
        // target 4 measured about 0.5 ms of CPU less per call). It goes through the process's global dispatcher,
        // the keep-alive pool fetch uses too. Multipart bodies still go through `fetch`.
        const r = await undiciRequest(`${this.base}${req.path}${search}`, {
          method: req.method,
          headers,
          body,
          signal,
        });
        text = await r.body.text();
        res = { status: r.statusCode, ok: r.statusCode >= 200 && r.statusCode < 300, headers: toHeaders(r.headers) };
      }
    } catch (e) {
      if (!timedOut && scope.signal?.aborted) {
        const err = writeOutcome(req, this.cancelledError(scope), true);
        record(null, err.code);
        throw err;
      }
      const err = timedOut
        ? new GatewayError(
            ErrorCode.SOURCE_TIMEOUT,
            `Source "${this.sourceId}" did not answer within ${this.timeoutMs} ms.`,
            {
              source: this.sourceId,
            },
          )
        : new GatewayError(
            ErrorCode.SOURCE_UNAVAILABLE,
            `Source "${this.sourceId}" could not be reached.`,
            {
              source: this.sourceId,
            },
            e,
          );
      // Refused or unresolvable: nothing was sent. A timeout or a reset: it may have arrived.
      writeOutcome(req, err, timedOut || !NOT_SENT.has(causeCode(e) ?? ''));
      record(null, err.code);
      this.fail(err.code);
      throw err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
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
          writeOutcome(req, err, res.status < 400 || res.status >= 500);
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
        writeOutcome(req, err, true);
        record(res.status, err.code);
        this.fail(err.code);
        throw err;
      }
      record(res.status);
      this.succeed();
      return { status: res.status, headers: res.headers, body: parsed };
    }

    const err =
      this.opts.mapError?.({
        status: res.status,
        body: parsed,
        headers: res.headers,
        method: req.method,
        path: req.path,
      }) ?? this.genericError(res.status, res.headers, req);
    // A 4xx says the source did not act; after a 5xx it may have.
    writeOutcome(req, err, res.status >= 500);
    record(res.status, err.code);
    if (err.code === ErrorCode.SOURCE_RATE_LIMITED) {
      const retryAfter = err.extensions.retryAfter;
      if (typeof retryAfter === 'number' && retryAfter > 0) {
        this.blockedUntil = Math.max(this.blockedUntil, Date.now() + Math.min(retryAfter, MAX_RETRY_AFTER_S) * 1000);
      }
    }
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
    if (status === 404)
      return new GatewayError(ErrorCode.NOT_FOUND, `Source "${source}" has no such object.`, { source });
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

/** fetch failures (the `cause` code) where the request never left: no connection, no name. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The failure's code: undici's own errors carry it, fetch's carry it on their `cause`. */
function causeCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof err?.code === 'string') return err.code;
  const cause = err?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** undici's header record as the WHATWG Headers the error mapping reads (`mapError`, Retry-After). */
function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) h.append(k, item);
    else h.append(k, v);
  }
  return h;
}

/**
 * Marks a failed write with whether the source may have carried it out ({@link GatewayError.ambiguous}); reads
 * are left unmarked (a GET carries nothing out).
 */
function writeOutcome(req: HttpRequest, err: GatewayError, ambiguous: boolean): GatewayError {
  if (req.method !== 'GET' && err.ambiguous === undefined) err.ambiguous = ambiguous;
  return err;
}

/** Retry-After in seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}
