import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { getOperationAST, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Connector, SourceHealthStatus, UpstreamCall } from '../connectors/types';
import type { LiveEngineMetrics, ThreadEventMetrics } from '../live/engine';
import { RecentlyReported, skippedRowKey } from '../connectors/decode';
import type { GatewayError } from '../errors';
import type { Logger } from './logger';

/**
 * # Metrics
 *
 * One prom-client {@link Registry} per gateway (never the global one, so several gateways in one process do
 * not collide), served as Prometheus text on `GET /metrics`. Every name starts with `switchboard_`; the
 * process and Node.js runtime metrics of prom-client come beside them (`process_*`, `nodejs_*`).
 *
 * Labels stay bounded: `source` is a configured source id, `endpoint` is the upstream route template, every
 * id's place `:id` whatever the id looks like ({@link endpointTemplate}, at most {@link MAX_ENDPOINTS_PER_SOURCE} per source, then
 * `other`), `status` an HTTP status or an error code, `code` an error code. No label ever carries a
 * credential, a query string, a body or a native id.
 */

/** Past this many distinct endpoint templates per source, further ones are counted as `other`. */
export const MAX_ENDPOINTS_PER_SOURCE = 64;

const WORD = /^[a-z]+(?:[_-][a-z]+)*$/;
const VERSION = /^v\d{1,2}$/;

/**
 * Collection-level routes that stand where an id would (`/conversations/filter`, Pixieset's
 * `/conversation_message_attachments/upload_url`): the only words an id's place keeps.
 */
const COLLECTION_ROUTES = new Set(['filter', 'meta', 'search', 'unread', 'unread_counts', 'upload_url']);

/**
 * The route template of an upstream call, from the route's own words only, never from an id (issue 12 item 10).
 * Every vendor path the connectors build is `/<collection>/<id>/<sub-collection or action>/<id>…` after an
 * optional `api`/version prefix: the 1st, 3rd… segments are route words written in the connectors' code, the
 * 2nd, 4th… are ids. So an id's place is always `:id` (even when the id looks like a word: `conv_hello`,
 * `alpha`), unless it is one of the few {@link COLLECTION_ROUTES}; a route word's place keeps only a plain
 * lowercase word (letters joined by `_` or `-`, at most 32 characters). The query string is dropped.
 * `/conversations/conv_9f2/messages/17` → `/conversations/:id/messages/:id`.
 */
export function endpointTemplate(path: string): string {
  const bare = path.split('?')[0] ?? '';
  const segs = bare.split('/');
  let start = 1;
  while (start < segs.length && (segs[start] === 'api' || VERSION.test(segs[start] ?? ''))) start++;
  return segs
    .map((seg, i) => {
      if (seg === '' || i < start) return seg;
      const word = seg.length <= 32 && WORD.test(seg);
      const idPlace = (i - start) % 2 === 1;
      if (idPlace) return COLLECTION_ROUTES.has(seg) ? seg : ':id';
      return word ? seg : ':id';
    })
    .join('/');
}

const CIRCUIT_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;
const HEALTH_STATUSES: readonly SourceHealthStatus[] = ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'];

export type WebhookOutcome = 'accepted' | 'rejected' | 'failed' | 'unknown_source';

/** What `src/server/webhooks.ts` reports. */
export interface WebhookMetrics {
  /** One delivery and how it ended. `source` is `_unknown` for ids that are not configured. */
  webhook(source: string, outcome: WebhookOutcome): void;
  /** The events of an accepted delivery: new ones, and repeats the live engine dropped. */
  webhookEvents(source: string, fresh: number, duplicate: number): void;
}

export interface GatewayMetrics extends WebhookMetrics {
  readonly registry: Registry;
  /** Every upstream call: counters, latency histogram, and a debug log line with the request id. */
  recordUpstream(call: UpstreamCall, requestId: string): void;
  /** An error sent to a client (GraphQL `errors`, 401s, body-parser failures, WebSocket 4403). */
  countError(code: string, source?: string): void;
  /** Apollo's formatError: counts the formatted error by code and source and returns it unchanged. */
  countFormattedError(formatted: GraphQLFormattedError): GraphQLFormattedError;
  /**
   * An API key's own limit refused an operation (server/keyLimits.ts): `switchboard_key_limit_refusals_total{key,limit}`,
   * `key` being the key's configured name (a bounded set), `limit` the limit's name (`operationsPerMinute`, ...).
   */
  keyLimitRefused(key: string, limit: string): void;
  /**
   * One finished GraphQL operation over HTTP (server/plugins/operationMetrics.ts): by type and outcome, with
   * its duration. (graphql-ws operations are counted through {@link GatewayMetrics.ws}.)
   */
  httpOperation(type: string, outcome: 'success' | 'error', seconds: number): void;
  /** graphql-ws hooks for active subscriptions and WebSocket operations. */
  ws: {
    onOperation(
      connection: object,
      id: string,
      document: DocumentNode,
      operationName: string | null | undefined,
      result: unknown,
    ): void;
    onComplete(connection: object, id: string): void;
    onClose(connection: object): void;
  };
  /**
   * GraphQL over SSE (server/sse.ts): one operation by type and outcome (`transport="sse"`); a streaming one
   * (a subscription) counts in `switchboard_graphql_subscriptions_active` until {@link GatewayMetrics.sseDone}.
   */
  sseOperation(stream: object, type: string, outcome: 'success' | 'error', streaming: boolean): void;
  /** The SSE stream's operation ended (completed, or the stream closed). */
  sseDone(stream: object): void;
  /**
   * The live engine's hook (polls, published changes, and its own upstream calls); thread events (issue 14):
   * `switchboard_thread_events_published_total{source,kind}`, `switchboard_thread_event_subscribers`,
   * `switchboard_thread_events_replayed_total{source}`, `switchboard_thread_events_resync_required_total{reason}`.
   */
  live: LiveEngineMetrics & ThreadEventMetrics;
  /**
   * A vendor row (or an optional part of an object) a decode left out (connectors/decode.ts), met by an operation
   * or by the live engine's polls, catalog syncs and webhook re-reads: a warn log line `vendor row skipped` with its
   * source, row id and request id, and `switchboard_source_rows_skipped_total{source,what}`, once per source and row
   * within an hour (a bounded set: decode.ts RecentlyReported).
   */
  rowSkipped(error: GatewayError, requestId: string): void;
  /** Gauges read at scrape time from the servers createGateway builds after the metrics. */
  observe(probes: { openWebSockets?: () => number; openSseStreams?: () => number }): void;
  /**
   * An in-memory store's entry count, read at scrape time as `switchboard_memory_store_entries{store}` (issue 12
   * item 18: every such store is bounded by size as well as age). The last registration of a name wins.
   */
  trackStore(store: string, size: () => number): void;
  /**
   * The read cache (connectors/readCache/, config `cache`): `switchboard_read_cache_{hits,misses,invalidations}_total`
   * by source, and its size at scrape time (`track`) as `switchboard_read_cache_entries` and `_bytes` by source.
   */
  readCache: ReadCacheMetricsHook;
  /**
   * The response cache (server/responseCache.ts, config `cache.responses`):
   * `switchboard_response_cache_{hits,misses}_total`, `switchboard_response_cache_invalidations_total` by source,
   * and its size at scrape time (`track`) as `switchboard_response_cache_entries` and `_bytes`.
   */
  responseCache: ResponseCacheMetricsHook;
  /**
   * Redis's state (server/redisHealth.ts; issue 12 item 2), read at scrape time: `switchboard_redis_up` (1 up, 0
   * down or not yet connected), `switchboard_redis_outages_total` and `switchboard_redis_fallbacks_total` (calls
   * served by a local fallback).
   */
  observeRedis(health: { isUp(): boolean; outages(): number; fallbacks(): number }): void;
  /** Prometheus text of this gateway's registry. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** What the read cache reports (server/connectors.ts ReadCacheWiring). */
export interface ReadCacheMetricsHook {
  hit(sourceId: string): void;
  miss(sourceId: string): void;
  /** An invalidation that dropped at least one cached answer. */
  invalidation(sourceId: string): void;
  /** Entries and estimated bytes per source, read at scrape time. */
  track(size: () => Array<{ sourceId: string; entries: number; bytes: number }>): void;
}

/** What the response cache reports (server/responseCache.ts). */
export interface ResponseCacheMetricsHook {
  hit(): void;
  miss(): void;
  /** A change that made stored answers unservable. */
  invalidation(sourceId: string): void;
  /** Entries and estimated bytes, read at scrape time. */
  track(size: () => { entries: number; bytes: number }): void;
}

export interface GatewayMetricsOptions {
  connectors: Connector[];
  logger: Logger;
  /** prom-client's process and Node.js metrics. @default true */
  defaultMetrics?: boolean;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(opts: GatewayMetricsOptions): GatewayMetrics {
  const { connectors, logger } = opts;
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Every metric is registered on this gateway's registry alone, in one of these shapes (see # Metrics above).
  const counter = <L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Counter<L>) => void,
  ) => new Counter<L>({ name, help, labelNames, registers, ...(collect ? { collect } : {}) });
  const gauge = <L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Gauge<L>) => void,
  ) => new Gauge<L>({ name, help, labelNames, registers, ...(collect ? { collect } : {}) });
  const latency = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Histogram<L>({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers });

  const upstreamRequests = counter(
    'switchboard_upstream_requests_total',
    'Upstream HTTP requests (every attempt, retries included) by source, method, endpoint template and status (HTTP status, or the error code when no response arrived).',
    ['source', 'method', 'endpoint', 'status'],
  );
  const upstreamDuration = latency(
    'switchboard_upstream_request_duration_seconds',
    'Upstream HTTP request latency by source, method, endpoint template and status.',
    ['source', 'method', 'endpoint', 'status'],
  );
  const upstreamErrors = counter(
    'switchboard_upstream_errors_total',
    'Failed upstream requests by source and error code.',
    ['source', 'code'],
  );
  const operations = counter(
    'switchboard_graphql_operations_total',
    'GraphQL operations by type (query, mutation, subscription, unknown when it did not parse or validate), transport (http, ws, sse) and outcome (success, error: at least one error in the response).',
    ['operation', 'transport', 'outcome'],
  );
  const operationDuration = latency(
    'switchboard_graphql_operation_duration_seconds',
    'Duration of GraphQL operations over HTTP, by type.',
    ['operation'],
  );
  const errors = counter(
    'switchboard_errors_total',
    'Errors sent to clients by code, and by source for errors about one backend ("" otherwise).',
    ['code', 'source'],
  );
  gauge(
    'switchboard_source_circuit_state',
    "Each source's circuit breaker: 0 closed, 1 half-open, 2 open.",
    ['source'],
    function () {
      this.reset();
      for (const c of connectors) {
        const circuit = safeHealth(c)?.circuit;
        if (circuit) this.set({ source: c.id }, CIRCUIT_VALUE[circuit]);
      }
    },
  );
  gauge(
    'switchboard_source_health',
    "Each source's health as seen from recent calls: 1 for its current status (UP, DEGRADED, DOWN, UNKNOWN), 0 for the others.",
    ['source', 'status'],
    function () {
      this.reset();
      for (const c of connectors) {
        const status = safeHealth(c)?.status ?? 'UNKNOWN';
        for (const s of HEALTH_STATUSES) this.set({ source: c.id, status: s }, s === status ? 1 : 0);
      }
    },
  );
  gauge(
    'switchboard_source_last_success_timestamp_seconds',
    'Unix time of the last successful upstream call per source (absent before the first one).',
    ['source'],
    function () {
      this.reset();
      for (const c of connectors) {
        const at = safeHealth(c)?.lastSuccessAt;
        if (at) this.set({ source: c.id }, at.getTime() / 1000);
      }
    },
  );
  const probes: { openWebSockets?: () => number; openSseStreams?: () => number } = {};
  gauge('switchboard_websocket_connections', 'Open WebSocket connections on /graphql.', [], function () {
    this.set(probes.openWebSockets?.() ?? 0);
  });
  gauge('switchboard_sse_streams', 'Open Server-Sent Events streams on /graphql (GraphQL over SSE).', [], function () {
    this.set(probes.openSseStreams?.() ?? 0);
  });
  const stores = new Map<string, () => number>();
  gauge(
    'switchboard_memory_store_entries',
    'Entries held by each in-memory store of this process (idempotency keys, webhook event ids and delivery keys, persisted queries), each bounded by count and age.',
    ['store'],
    function () {
      this.reset();
      for (const [store, size] of stores) this.set({ store }, size());
    },
  );
  /** Active subscriptions per WebSocket connection (graphql-ws context object → operation ids). */
  const active = new Map<object, Set<string>>();
  gauge(
    'switchboard_graphql_subscriptions_active',
    'GraphQL subscriptions currently streaming over WebSocket or Server-Sent Events.',
    [],
    function () {
      let n = 0;
      for (const ids of active.values()) n += ids.size;
      this.set(n);
    },
  );
  const polls = counter(
    'switchboard_live_polls_total',
    'Poll ticks of POLLING sources (only while somebody subscribes), by outcome (ok, error).',
    ['source', 'outcome'],
  );
  const unreadChanges = counter(
    'switchboard_live_unread_changes_total',
    'New unread totals the live engine published per source (from polls, webhooks and mutations).',
    ['source'],
  );
  const webhooks = counter(
    'switchboard_webhooks_received_total',
    'Webhook deliveries by source and outcome (accepted, rejected: bad signature, token or body; failed: unexpected error; unknown_source).',
    ['source', 'outcome'],
  );
  const rowsSkipped = counter(
    'switchboard_source_rows_skipped_total',
    'Vendor rows (or optional parts of an object) left out because they could not be decoded, by source and what was read; each row once an hour, however often it is read.',
    ['source', 'what'],
  );
  const skippedSeen = new RecentlyReported();
  stores.set('skipped_rows', () => skippedSeen.size);
  const rowSkipped = (e: GatewayError, requestId: string) => {
    if (!skippedSeen.firstTime(skippedRowKey(e))) return;
    const what = typeof e.extensions.what === 'string' ? e.extensions.what : 'row';
    rowsSkipped.inc({ source: e.sourceId ?? '', what });
    logger.warn(
      {
        requestId,
        source: e.sourceId,
        rowId: e.extensions.rowId,
        what,
        ...(e.extensions.part ? { part: e.extensions.part } : {}),
        reason: e.message,
      },
      'vendor row skipped',
    );
  };
  const threadEventsPublished = counter(
    'switchboard_thread_events_published_total',
    'Thread events (conversationEvents) this instance published, by source and kind: its own writes and the webhook or poll events it claimed first (an echo of its own write is not published again).',
    ['source', 'kind'],
  );
  const threadEventSubscribers = gauge(
    'switchboard_thread_event_subscribers',
    'conversationEvents subscriptions on this instance (over WebSocket or Server-Sent Events).',
  );
  const threadEventsReplayed = counter(
    'switchboard_thread_events_replayed_total',
    'Thread events replayed from the event log to subscribers that resumed with `after:`, by source.',
    ['source'],
  );
  const threadEventsResync = counter(
    'switchboard_thread_events_resync_required_total',
    'ResyncRequired notices sent to subscribers whose cursor could not be resumed, by reason (TRIMMED, UNKNOWN_CURSOR, INVALID_CURSOR).',
    ['reason'],
  );
  const webhookEvents = counter(
    'switchboard_webhook_events_total',
    'Events in accepted webhook deliveries by source and outcome (new, duplicate: a repeated event id).',
    ['source', 'outcome'],
  );

  const endpoints = new Map<string, Set<string>>();
  const endpointLabel = (sourceId: string, path: string): string => {
    const t = endpointTemplate(path);
    let seen = endpoints.get(sourceId);
    if (!seen) endpoints.set(sourceId, (seen = new Set()));
    if (seen.has(t)) return t;
    if (seen.size >= MAX_ENDPOINTS_PER_SOURCE) return 'other';
    seen.add(t);
    return t;
  };

  const countError = (code: string, source?: string) => errors.inc({ code, source: source ?? '' });
  const keyLimitRefusals = counter(
    'switchboard_key_limit_refusals_total',
    "Operations refused by an API key's own limits (server.keyLimits, apiKeys[].limits), by key name and limit.",
    ['key', 'limit'],
  );

  const recordUpstream = (call: UpstreamCall, requestId: string) => {
    const endpoint = endpointLabel(call.sourceId, call.path);
    const labels = {
      source: call.sourceId,
      method: call.method,
      endpoint,
      status: call.status !== null ? String(call.status) : (call.error ?? 'NO_RESPONSE'),
    };
    upstreamRequests.inc(labels);
    upstreamDuration.observe(labels, call.ms / 1000);
    if (call.error) upstreamErrors.inc({ source: call.sourceId, code: call.error });
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        {
          requestId,
          source: call.sourceId,
          method: call.method,
          endpoint,
          status: call.status,
          ...(call.error ? { code: call.error } : {}),
          ms: Math.round(call.ms * 10) / 10,
        },
        'upstream call',
      );
    }
  };

  const readCacheCounter = (name: string, help: string) => {
    const sourceCounter = counter(name, help, ['source']);
    // One child per source, made once: a hit costs an increment, not a label lookup.
    const children = new Map<string, { inc(): void }>();
    return (source: string) => {
      let child = children.get(source);
      if (!child) {
        child = sourceCounter.labels({ source });
        children.set(source, child);
      }
      child.inc();
    };
  };
  let readCacheSize: (() => Array<{ sourceId: string; entries: number; bytes: number }>) | null = null;
  const readCacheGauge = (name: string, help: string, field: 'entries' | 'bytes') =>
    gauge(name, help, ['source'], function () {
      this.reset();
      for (const s of readCacheSize?.() ?? []) this.set({ source: s.sourceId }, s[field]);
    });
  readCacheGauge('switchboard_read_cache_entries', 'Answers held by the read cache, by source.', 'entries');
  readCacheGauge(
    'switchboard_read_cache_bytes',
    'Estimated memory of the answers held by the read cache (from their JSON size), by source.',
    'bytes',
  );
  const readCache: ReadCacheMetricsHook = {
    hit: readCacheCounter('switchboard_read_cache_hits_total', 'Reads answered by the read cache, by source.'),
    miss: readCacheCounter(
      'switchboard_read_cache_misses_total',
      'Reads of cached kinds that went upstream (not cached, expired or dropped), by source.',
    ),
    invalidation: readCacheCounter(
      'switchboard_read_cache_invalidations_total',
      'Changes (webhooks, polls, writes, from any instance) that dropped cached answers, by source.',
    ),
    track(size) {
      readCacheSize = size;
    },
  };

  const responseHits = counter(
    'switchboard_response_cache_hits_total',
    'GraphQL queries over HTTP answered by the response cache.',
  );
  const responseMisses = counter(
    'switchboard_response_cache_misses_total',
    'Cacheable GraphQL queries over HTTP that were executed (not stored, expired or dropped by a change).',
  );
  let responseCacheSize: (() => { entries: number; bytes: number }) | null = null;
  for (const [name, help, field] of [
    ['switchboard_response_cache_entries', 'Answers held by the response cache.', 'entries'],
    ['switchboard_response_cache_bytes', 'Estimated memory of the answers held by the response cache.', 'bytes'],
  ] as const)
    gauge(name, help, [], function () {
      this.set(responseCacheSize?.()[field] ?? 0);
    });
  const responseCache: ResponseCacheMetricsHook = {
    hit: () => responseHits.inc(),
    miss: () => responseMisses.inc(),
    invalidation: readCacheCounter(
      'switchboard_response_cache_invalidations_total',
      'Changes (webhooks, polls, writes) that dropped answers of the response cache, by source.',
    ),
    track(size) {
      responseCacheSize = size;
    },
  };

  return {
    registry,
    recordUpstream,
    readCache,
    responseCache,
    countError,
    keyLimitRefused: (key, limit) => keyLimitRefusals.inc({ key, limit }),
    countFormattedError(formatted) {
      const code = formatted.extensions?.code;
      const source = formatted.extensions?.source;
      countError(typeof code === 'string' ? code : 'UNKNOWN', typeof source === 'string' ? source : undefined);
      return formatted;
    },
    httpOperation(type, outcome, seconds) {
      operations.inc({ operation: type, transport: 'http', outcome });
      operationDuration.observe({ operation: type }, seconds);
    },
    ws: {
      onOperation(connection, id, document, operationName, result) {
        const type = getOperationAST(document, operationName)?.operation ?? 'unknown';
        const streaming = typeof result === 'object' && result !== null && Symbol.asyncIterator in result;
        const failed =
          !streaming &&
          typeof result === 'object' &&
          result !== null &&
          'errors' in result &&
          Array.isArray(result.errors) &&
          result.errors.length > 0;
        operations.inc({ operation: type, transport: 'ws', outcome: failed ? 'error' : 'success' });
        if (!streaming) return;
        let ids = active.get(connection);
        if (!ids) active.set(connection, (ids = new Set()));
        ids.add(id);
      },
      onComplete(connection, id) {
        const ids = active.get(connection);
        if (!ids) return;
        ids.delete(id);
        if (ids.size === 0) active.delete(connection);
      },
      onClose(connection) {
        active.delete(connection);
      },
    },
    sseOperation(stream, type, outcome, streaming) {
      operations.inc({ operation: type, transport: 'sse', outcome });
      if (streaming) active.set(stream, new Set(['sse']));
    },
    sseDone(stream) {
      active.delete(stream);
    },
    live: {
      upstream: recordUpstream,
      poll: (sourceId, outcome) => polls.inc({ source: sourceId, outcome }),
      unreadChanged: (sourceId) => unreadChanges.inc({ source: sourceId }),
      rowSkipped,
      threadEventPublished: (source, kind) => threadEventsPublished.inc({ source, kind }),
      threadEventWatchers: (delta) => (delta > 0 ? threadEventSubscribers.inc() : threadEventSubscribers.dec()),
      threadEventReplayed: (source) => threadEventsReplayed.inc({ source }),
      threadEventResync: (reason) => threadEventsResync.inc({ reason }),
    },
    webhook: (source, outcome) => webhooks.inc({ source, outcome }),
    webhookEvents(source, fresh, duplicate) {
      if (fresh > 0) webhookEvents.inc({ source, outcome: 'new' }, fresh);
      if (duplicate > 0) webhookEvents.inc({ source, outcome: 'duplicate' }, duplicate);
    },
    observe(p) {
      Object.assign(probes, p);
    },
    rowSkipped,
    trackStore(store, size) {
      stores.set(store, size);
    },
    observeRedis(health) {
      gauge(
        'switchboard_redis_up',
        'Whether Redis is reachable: 1 up, 0 down (or not connected yet). Absent without Redis.',
        [],
        function () {
          this.set(health.isUp() ? 1 : 0);
        },
      );
      // Counters that follow the health object's own counts at scrape time.
      const following = (name: string, help: string, count: () => number) => {
        let counted = 0;
        counter(name, help, [], function () {
          const n = count();
          if (n > counted) this.inc(n - counted);
          counted = n;
        });
      };
      following(
        'switchboard_redis_outages_total',
        'Redis outages since start (each logged once: "redis unavailable").',
        () => health.outages(),
      );
      following(
        'switchboard_redis_fallbacks_total',
        'Calls to Redis served by a local fallback instead (Redis down, failing, or lost during the call).',
        () => health.fallbacks(),
      );
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function safeHealth(c: Connector) {
  try {
    return c.health();
  } catch {
    return null;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics`: Prometheus text. With a token configured, only `Authorization: Bearer <token>` gets it
 * (compared in constant time); anything else gets 401.
 */
export function metricsRoute(metrics: GatewayMetrics, opts: { token?: string }): RequestHandler {
  const expected = opts.token ? sha256(opts.token) : null;
  return async (req: Request, res: Response, next: NextFunction) => {
    if (expected) {
      const m = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
      if (!m?.[1] || !timingSafeEqual(sha256(m[1].trim()), expected)) {
        res
          .status(401)
          .set('www-authenticate', 'Bearer realm="metrics"')
          .type('text/plain')
          .send('A valid metrics token is required.\n');
        return;
      }
    }
    try {
      const { contentType, body } = await metrics.render();
      res.set('content-type', contentType).set('cache-control', 'no-store').send(body);
    } catch (e) {
      next(e);
    }
  };
}

/** Routes whose access-log lines go at debug level (probes and scrapes, polled every few seconds). */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** The route of a request for logs: known routes as they are, ids in other paths as `:id`, never the query. */
function routeOf(path: string): string {
  if (path === '/graphql' || QUIET_ROUTES.has(path) || path.startsWith('/graphiql/')) return path;
  if (path.startsWith('/webhooks/')) return path.length <= 48 ? path : '/webhooks/:id';
  if (path.startsWith('/uploads/')) return '/uploads/:id';
  return endpointTemplate(path);
}

/**
 * One structured log line per HTTP request when it ends: request id, method, route (never the query string,
 * which may carry a webhook token), status, duration, the API key's name once authenticated, and whether the
 * client went away first. Never headers.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // The route now: mounted routers rewrite req.url later.
    logAccess(logger, req.method, routeOf(req.path), res, res.locals);
    next();
  };
}

/**
 * The access log line of one request, written when its response closes: {@link accessLog} for Express, and
 * server/sseFrontDoor.ts for the event streams it answers before Express. `who` holds the request id and the viewer
 * once known (Express's `res.locals`).
 */
export function logAccess(
  logger: Logger,
  method: string,
  route: string,
  res: ServerResponse,
  who: { requestId?: unknown; viewer?: unknown },
): void {
  const started = performance.now();
  res.once('close', () => {
    const line = {
      requestId: who.requestId as string | undefined,
      method,
      route,
      status: res.statusCode,
      ms: Math.round((performance.now() - started) * 10) / 10,
      // The API key's configured name (never the key): set once the request is authenticated.
      ...(typeof (who.viewer as { keyName?: unknown } | undefined)?.keyName === 'string'
        ? { keyName: (who.viewer as { keyName: string }).keyName }
        : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
    else logger.info(line, 'request');
  });
}
