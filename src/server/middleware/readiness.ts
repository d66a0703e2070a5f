import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Connector, UpstreamCall } from '../../connectors/types';
import { ErrorCode } from '../../errors';

/** `GET /healthz`: the process answers. */
export function liveness(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}

/** One source's line in `/readyz`. */
export interface SourceReadiness {
  source: string;
  ready: boolean;
  /** Why not, when not ready: the error code of the failed call. */
  code?: string;
}

export interface ReadinessOptions {
  connectors: readonly Connector[];
  /** A source is probed at most once per this interval (server.readinessIntervalMs). */
  intervalMs: number;
  recordUpstream?: (call: UpstreamCall, requestId: string) => void;
}

/**
 * What `/readyz` knows about each source, without costing an upstream request per caller (issue 12 item 3):
 * 1. the source's own recent health (calls of real traffic, server/../connectors/http.ts `health()`): a call that
 *    succeeded within the interval makes it ready; an open circuit or a source DOWN since after the last probe
 *    makes it not ready;
 * 2. else the last probe (a one-row list), while it is younger than the interval;
 * 3. else a new probe: at most one in flight per source, so concurrent callers share it. A caller that has an
 *    older answer gets that answer at once and the probe runs in the background; only the very first callers
 *    wait for it.
 * So a source is probed at most once per interval whatever the number of callers, and a slow source never has
 * more than one probe in its request slots. Probes in flight are aborted on close().
 */
export class ReadinessMonitor {
  private readonly last = new Map<string, { at: number; result: SourceReadiness }>();
  private readonly inflight = new Map<string, Promise<SourceReadiness>>();
  private readonly stopped = new AbortController();

  constructor(private readonly opts: ReadinessOptions) {}

  /** Every source's readiness, in the configured order. `requestId` names the probes this call starts. */
  report(requestId: string = randomUUID()): Promise<SourceReadiness[]> {
    return Promise.all(this.opts.connectors.map((c) => this.source(c, requestId)));
  }

  close(): void {
    this.stopped.abort();
  }

  private source(c: Connector, requestId: string): SourceReadiness | Promise<SourceReadiness> {
    const now = Date.now();
    const interval = this.opts.intervalMs;
    const h = c.health();
    const last = this.last.get(c.id);
    const lastFailure = h.lastFailureAt?.getTime() ?? 0;
    if (
      h.circuit === 'OPEN' ||
      (h.status === 'DOWN' && now - lastFailure < interval && lastFailure > (last?.at ?? 0))
    ) {
      return {
        source: c.id,
        ready: false,
        code: h.circuit === 'OPEN' ? ErrorCode.CIRCUIT_OPEN : (h.lastErrorCode ?? ErrorCode.SOURCE_UNAVAILABLE),
      };
    }
    if (h.status === 'UP' && h.lastSuccessAt && now - h.lastSuccessAt.getTime() < interval) {
      return { source: c.id, ready: true };
    }
    if (last && now - last.at < interval) return last.result;
    const probe = this.probe(c, requestId);
    return last ? last.result : probe;
  }

  /** The source's probe in flight, or a new one. */
  private probe(c: Connector, requestId: string): Promise<SourceReadiness> {
    const running = this.inflight.get(c.id);
    if (running) return running;
    const p = (async (): Promise<SourceReadiness> => {
      let result: SourceReadiness;
      try {
        const s = c.openSession({
          requestId,
          signal: this.stopped.signal,
          recordUpstream: (call) => this.opts.recordUpstream?.(call, requestId),
        });
        await s.listConversations({ offset: 0, limit: 1, filter: {} });
        result = { source: c.id, ready: true };
      } catch (e) {
        result = {
          source: c.id,
          ready: false,
          code: (e as { code?: string }).code ?? ErrorCode.INTERNAL_SERVER_ERROR,
        };
      }
      this.last.set(c.id, { at: Date.now(), result });
      this.inflight.delete(c.id);
      return result;
    })();
    this.inflight.set(c.id, p);
    return p;
  }
}

/** Redis's line in `/readyz` (present when Redis is configured). */
export interface RedisReadiness {
  /** `up`; `down` (the gateway runs on local fallbacks); `connecting` before the first connection. */
  status: 'up' | 'down' | 'connecting';
  /** When the outage began (ISO time), while down. */
  since?: string;
  /** The last connection error (`ECONNREFUSED`, a message), while down. */
  error?: string;
  code?: typeof ErrorCode.REDIS_UNAVAILABLE;
}

/** What `/readyz` reads of Redis (server/redisHealth.ts). */
export interface RedisReadinessSource {
  state(): 'up' | 'down' | 'connecting';
  downSince(): number | null;
  lastError(): string | null;
}

/**
 * `GET /readyz`: 200 `ready` when every source is, else 503 `degraded`; either way one entry per source with
 * `ready` and, when not, its error code. Answered by the {@link ReadinessMonitor}: no upstream call per request.
 *
 * With Redis configured, `redis` says whether it is up (issue 12 item 2). A Redis outage does not make the
 * instance unready (the status code stays the sources'): every instance shares the one Redis, so a 503 would
 * take them all out of the load balancer and turn an outage of the shared cache into an outage of the gateway,
 * while each instance still answers from the sources (README "Redis outage"). Alert on `redis.status` or on
 * `switchboard_redis_up` instead.
 */
export function readiness(
  monitor: ReadinessMonitor,
  opts: { redis?: RedisReadinessSource | null } = {},
): RequestHandler {
  return async (_req, res) => {
    const results = await monitor.report(res.locals.requestId as string);
    const ready = results.every((r) => r.ready);
    const redis = opts.redis ? redisLine(opts.redis) : undefined;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'degraded', sources: results, ...(redis ? { redis } : {}) });
  };
}

function redisLine(r: RedisReadinessSource): RedisReadiness {
  const status = r.state();
  if (status !== 'down') return { status };
  const since = r.downSince();
  const error = r.lastError();
  return {
    status,
    code: ErrorCode.REDIS_UNAVAILABLE,
    ...(since !== null ? { since: new Date(since).toISOString() } : {}),
    ...(error ? { error } : {}),
  };
}
