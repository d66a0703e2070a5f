import { randomUUID } from 'node:crypto';
import type { Connector, ConnectorSession, RequestScope, UpstreamCall } from '../connectors/types';
import { type GatewayError, notFound } from '../errors';
import type { LiveEngine } from '../live/engine';
import type { Viewer } from './auth';
import { baselineSession } from './baseline';
import type { IdempotencyStore } from './idempotency';
import type { UploadStaging } from './staging';

/** Long-lived services shared by every operation (built once by createGateway). */
export interface GatewayServices {
  /** Every configured connector, in config order. */
  connectors: Connector[];
  live: LiveEngine;
  staging: UploadStaging;
  idempotency: IdempotencyStore;
  /** From config; otherwise derived from each request's Host. */
  publicUrl: string | null;
  /** Sees every upstream call of every operation with the operation's request id (metrics, debug log). */
  recordUpstream?: (call: UpstreamCall, requestId: string) => void;
  /** The benchmark's naive baseline (server/baseline.ts): a fresh, stripped session per `session()` call. */
  baseline?: boolean;
}

/**
 * Per operation (one per HTTP request, one per WebSocket operation): the viewer, lazily opened connector
 * sessions (each with its own DataLoaders), the upstream calls made, and per-source errors to report beside
 * partial data.
 */
export interface GatewayContext {
  requestId: string;
  viewer: Viewer;
  services: GatewayServices;
  publicBaseUrl: string;
  upstream: UpstreamCall[];
  /** Errors of sources that failed while others answered; appended to the response's `errors`. */
  sourceErrors: GatewayError[];
  /** Sources this viewer may see, in config order. */
  visibleSources(): Connector[];
  /** The connector of a visible source; NOT_FOUND otherwise, so hidden sources leak nothing. */
  connector(sourceId: string): Connector;
  session(sourceId: string): ConnectorSession;
  /** Drops the sessions (and their loader caches): a subscription does this before each event. */
  resetSessions(): void;
  /**
   * Aborts when the operation should stop waiting: its deadline passed (the reason is a LIMIT_EXCEEDED
   * GatewayError) or the client went away. Upstream calls and waits listen to it.
   */
  signal?: AbortSignal;
}

export function createContext(
  services: GatewayServices,
  viewer: Viewer,
  opts: { requestId?: string; publicBaseUrl: string; signal?: AbortSignal },
): GatewayContext {
  const requestId = opts.requestId ?? randomUUID();
  const sessions = new Map<string, ConnectorSession>();
  const upstream: UpstreamCall[] = [];
  const visible = services.connectors.filter((c) => viewer.sourceIds.has(c.id));
  const byId = new Map(visible.map((c) => [c.id, c]));
  const scope: RequestScope = {
    requestId,
    signal: opts.signal,
    recordUpstream: (call) => {
      upstream.push(call);
      services.recordUpstream?.(call, requestId);
    },
  };
  const ctx: GatewayContext = {
    requestId,
    viewer,
    services,
    publicBaseUrl: services.publicUrl ?? opts.publicBaseUrl,
    upstream,
    sourceErrors: [],
    signal: opts.signal,
    visibleSources: () => visible,
    connector(sourceId) {
      const c = byId.get(sourceId);
      if (!c) throw notFound(`Source "${sourceId}"`);
      return c;
    },
    session(sourceId) {
      let s = sessions.get(sourceId);
      if (!s) {
        s = ctx.connector(sourceId).openSession(scope);
        if (services.baseline) return baselineSession(s);
        sessions.set(sourceId, s);
      }
      return s;
    },
    resetSessions() {
      sessions.clear();
    },
  };
  return ctx;
}
