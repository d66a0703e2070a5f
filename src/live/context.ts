import type { Connector, RequestScope, UpstreamCall } from '../connectors/types';
import type { GatewayError } from '../errors';
import type { LiveCoordination } from './coordination';
import type { PubSubTransport } from './pubsub';

// The functions in this file are not part of the live engine's API: they are what its parts share.

/** What the engine reports to metrics, when asked to. */
export interface LiveEngineMetrics {
  /** Each upstream call of the engine's own sessions (refreshes and polls), with the session's request id. */
  upstream?(call: UpstreamCall, requestId: string): void;
  /** One poll tick of a POLLING source ended. */
  poll?(sourceId: string, outcome: 'ok' | 'error'): void;
  /** A new unread total of a source was published. */
  unreadChanged?(sourceId: string): void;
  /**
   * A vendor row the engine's own reads left out (connectors/decode.ts `rowsOf`: polls, catalog syncs, webhook
   * re-reads), with the scope's request id; the server logs and counts each row once (server/metrics.ts).
   */
  rowSkipped?(error: GatewayError, requestId: string): void;
}

/** What every part of the engine (unread totals, ingest, conversation feed, pollers) works with. */
export interface LiveContext {
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly pubsub: PubSubTransport;
  readonly coordination: LiveCoordination;
  readonly metrics: LiveEngineMetrics | undefined;
  /** Reports a background failure of a source (the server logs it). */
  report(error: unknown, sourceId: string): void;
  /** A scope of the engine's own for one upstream conversation: `live-<source>-<n>` (docs/live.md "Sessions"). */
  scope(sourceId: string): RequestScope;
  /** Subscriptions (of either kind) on this instance per source: while one exists, the source is watched. */
  readonly watchers: Watchers;
  /** True once the engine is closing: no new timer, retry or read starts. */
  closed(): boolean;
}

export interface Watchers {
  add(sourceId: string): void;
  remove(sourceId: string): void;
  count(sourceId: string): number;
}

export function createLiveContext(opts: {
  connectors: Connector[];
  pubsub: PubSubTransport;
  coordination: LiveCoordination;
  metrics?: LiveEngineMetrics;
  onError?: (error: unknown, sourceId: string) => void;
}): LiveContext & { close(): void } {
  let seq = 0;
  let closed = false;
  const watched = new Map<string, number>();
  const m = opts.metrics;
  return {
    connectors: new Map(opts.connectors.map((c) => [c.id, c])),
    pubsub: opts.pubsub,
    coordination: opts.coordination,
    metrics: m,
    report: (error, sourceId) => opts.onError?.(error, sourceId),
    scope(sourceId) {
      const requestId = `live-${sourceId}-${++seq}`;
      return {
        requestId,
        recordUpstream: m?.upstream && ((call) => m.upstream?.(call, requestId)),
        report: m?.rowSkipped && ((e) => m.rowSkipped?.(e, requestId)),
      };
    },
    watchers: {
      add: (s) => watched.set(s, (watched.get(s) ?? 0) + 1),
      remove(s) {
        const w = (watched.get(s) ?? 1) - 1;
        if (w <= 0) watched.delete(s);
        else watched.set(s, w);
      },
      count: (s) => watched.get(s) ?? 0,
    },
    closed: () => closed,
    close() {
      closed = true;
    },
  };
}

export const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });
