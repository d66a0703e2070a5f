import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  Kind,
  type DocumentNode,
  type FormattedExecutionResult,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { READ_CACHE_DEFAULTS, RESPONSE_CACHE_DEFAULTS, type Config } from '../config/schema';
import { profileOf } from '../connectors/registry';
import type { LiveEngine } from '../live/engine';
import { conversationTopic } from '../live/protocol';
import type { PubSubTransport } from '../live/pubsub';
import type { RedisGuard } from '../connectors/catalog-stores/redis';
import type { GatewayContext } from '../schema/context';
import { readCacheTopic, webhookConfigured } from './connectors';

/**
 * # The response cache (README "Response cache", issue 13 target 4)
 *
 * Whole answers of GraphQL queries over HTTP, kept per API key, operation text, operation name, variables and
 * public base URL, and served again without executing while nothing they depend on changed. An answer depends on
 * every source its API key may see.
 *
 * Correctness rules, in this file (the same as the read cache's, connectors/readCache/store.ts):
 * - **Dropped on change.** {@link ResponseCache.invalidate} for a source (any change of any of its conversations,
 *   or of the source as a whole) makes every answer that depends on it unservable at once; the composition root
 *   calls it for every change the gateway hears of (LiveEngine.onChange, and the pub/sub topics when it has them).
 *   Any mutation executed here drops every answer ({@link ResponseCache.clear}): a write that names no source
 *   (people links) changes answers too.
 * - **No stale fill.** An answer whose execution was in flight while one of its sources changed is sent but not
 *   stored (a per-cache change sequence, as the read cache's).
 * - **Bounded age.** An answer is served at most its sources' smallest allowed age: a source's catalog age
 *   (`trustedMaxAgeMs`) while a trusted change signal that began before the execution covers it, else
 *   `min(ttlMs, trustedMaxAgeMs)` (0: not stored). So it is never staler than the catalog or the read cache would be.
 * - **Redis outage.** While Redis is down, other instances' changes cannot reach this cache: no source counts as
 *   trusted then, nor for answers executed before it came back, so those are served at most `ttlMs`
 *   ({@link responseCacheFromConfig}, as the read cache's wiring in server/connectors.ts).
 * - **Only what change events cover.** Queries only (never mutations or subscriptions), answers without errors
 *   (no partial results, no skipped rows, no deadline), and not when the operation selects `health` (a source's
 *   health moves with calls, not with change events).
 */

/** How much a source is trusted (the same notion as the read cache's ReadCacheSource). */
export interface ResponseCacheSource {
  sourceId: string;
  /** The longest an answer may be served while a trusted change signal covers it: the source's catalog max age. */
  trustedMaxAgeMs: number;
  /** Since when (the cache's clock) every change of the source reaches this cache, or null now. */
  trustedSince(): number | null;
}

export interface ResponseCacheMetrics {
  hit(): void;
  miss(): void;
  /** A change that made at least one stored answer unservable. */
  invalidation(sourceId: string): void;
}

export interface ResponseCacheOptions {
  sources: readonly ResponseCacheSource[];
  /** Sources without a trusted change signal: answers at most this old (ms); 0: not stored. */
  ttlMs: number;
  /** Estimated bytes of all stored answers together (least recently used go first). */
  maxBytes: number;
  /** @default Date.now */
  now?: () => number;
  metrics?: ResponseCacheMetrics;
}

interface Entry {
  data: Record<string, unknown>;
  /** `JSON.stringify(data)`: what Apollo would send is `{"data":<json>}` and a newline (its prettyJSONStringify). */
  json: string;
  /** The bytes served by the fast path, made once per variant on its first hit (see {@link ResponseCache.body}). */
  bodies?: [CachedBody | undefined, CachedBody | undefined];
  sourceIds: readonly string[];
  /** The change sequence when its execution started. */
  seq: number;
  /** When its execution started. */
  readAt: number;
  bytes: number;
}

/**
 * A stored answer as the bytes of an HTTP body: exactly what Apollo sends for it (`{"data":…}` and a newline, with
 * `extensions.upstream` when the request asked for upstream stats), and the ETag Express gives those bytes.
 */
export interface CachedBody {
  bytes: Buffer;
  etag: string | undefined;
}

/** The cache key of a query: API key, public base URL, operation name, query text and variables. */
export function responseKey(
  keyId: string,
  publicBaseUrl: string,
  operationName: string | null | undefined,
  query: string,
  variables: Record<string, unknown> | null | undefined,
): string {
  // No name and the name "" are two requests: graphql-js runs the document's only operation for the first and
  // finds none for the second (400 OPERATION_RESOLUTION_FAILURE), so they never share an answer.
  return `${keyId}\u0000${publicBaseUrl}\u0000${JSON.stringify(operationName ?? null)}\u0000${query}\u0000${JSON.stringify(variables ?? {})}`;
}

/** What plugins/upstreamStats.ts adds to a cached answer (no upstream request was made for it). */
const NO_UPSTREAM = JSON.stringify({ upstream: { total: 0, bySource: [] } });

/** A fill in progress: the change sequence and the time its execution started. */
export interface ResponseTicket {
  seq: number;
  readAt: number;
}

export class ResponseCache {
  private readonly sources = new Map<string, ResponseCacheSource>();
  /** The sequence number of each source's last change. */
  private readonly changedAt = new Map<string, number>();
  /** Entries stored per source since its last change (so an invalidation that drops nothing is not counted). */
  private readonly storedSince = new Map<string, number>();
  private seq = 0;
  /** Executions in flight per key: identical queries arriving meanwhile wait for the first one's answer. */
  private readonly inflight = new Map<string, Promise<Record<string, unknown> | undefined>>();
  private readonly lru: LRUCache<string, Entry>;
  private readonly now: () => number;
  /** The JSON of each stored answer's data, by the data object Apollo answers with ({@link stringify}). */
  private readonly jsonOf = new WeakMap<object, string>();

  constructor(private readonly opts: ResponseCacheOptions) {
    this.now = opts.now ?? Date.now;
    for (const s of opts.sources) this.sources.set(s.sourceId, s);
    this.lru = new LRUCache<string, Entry>({ maxSize: opts.maxBytes, sizeCalculation: (e) => e.bytes });
  }

  /** The stored answer under `key` if it may still be served (counts a hit), else undefined (counts nothing). */
  get(key: string): Record<string, unknown> | undefined {
    return this.entry(key)?.data;
  }

  /**
   * The stored answer under `key` as the bytes Apollo would send for it (counts a hit), else undefined (counts
   * nothing): server/middleware/responseCacheHit.ts writes them without Apollo's pipeline. `upstreamStats`: with
   * the `extensions.upstream` of a request sent with `X-Upstream-Stats: 1` (plugins/upstreamStats.ts). `etag`
   * computes the ETag of the bytes once (Express's own `etag fn`, as res.send would for Apollo's string).
   */
  body(key: string, upstreamStats: boolean, etag?: (bytes: Buffer) => string | undefined): CachedBody | undefined {
    const e = this.entry(key);
    if (!e) return undefined;
    const bodies = (e.bodies ??= [undefined, undefined]);
    const i = upstreamStats ? 1 : 0;
    let b = bodies[i];
    if (!b) {
      // orderExecutionResultFields's order (errors, data, extensions) and prettyJSONStringify's newline.
      const text = upstreamStats ? `{"data":${e.json},"extensions":${NO_UPSTREAM}}\n` : `{"data":${e.json}}\n`;
      const bytes = Buffer.from(text, 'utf8');
      b = bodies[i] = { bytes, etag: etag?.(bytes) };
    }
    return b;
  }

  private entry(key: string): Entry | undefined {
    const e = this.lru.get(key);
    if (e && this.servable(e)) {
      this.opts.metrics?.hit();
      return e;
    }
    if (e) this.lru.delete(key);
    return undefined;
  }

  /**
   * A miss. When an identical query is executing, `wait`: its answer once stored (counted a hit), or undefined (the
   * caller executes on its own; counted a miss). Otherwise `settle` (counted a miss): the caller executes, and
   * others wait for it until it calls `settle` with the stored answer (or undefined). Decided synchronously, so two
   * misses of one key never both lead. Single flight keeps a burst of identical queries (an expired inbox page at
   * concurrency 32) from executing 32 times; a waiter gets the first execution's answer only if it was stored, that
   * is, if none of its sources changed from the first one's start to its end, which covers the waiter's own span.
   */
  join(
    key: string,
  ):
    | { wait: Promise<Record<string, unknown> | undefined> }
    | { settle: (stored: Record<string, unknown> | undefined) => void } {
    const pending = this.inflight.get(key);
    if (pending) {
      return {
        wait: pending.then((data) => {
          if (data) this.opts.metrics?.hit();
          else this.opts.metrics?.miss();
          return data;
        }),
      };
    }
    this.opts.metrics?.miss();
    let settle!: (stored: Record<string, unknown> | undefined) => void;
    const mine = new Promise<Record<string, unknown> | undefined>((resolve) => (settle = resolve));
    this.inflight.set(key, mine);
    return {
      settle: (stored) => {
        if (this.inflight.get(key) === mine) this.inflight.delete(key);
        settle(stored);
      },
    };
  }

  /**
   * Apollo's `stringifyResult` (its own is `JSON.stringify(value) + '\n'`, prettyJSONStringify), with the JSON of a
   * stored answer's data made once: a miss that was just stored and every hit through Apollo's pipeline (GET,
   * hash-only persisted queries, the first hit of an Accept value) reuse it. `value` is Apollo's ordered result
   * (`errors`, `data`, `extensions`); anything else, or with errors, is serialized as Apollo would.
   */
  stringify(value: FormattedExecutionResult): string {
    const json = value.errors === undefined && value.data ? this.jsonOf.get(value.data) : undefined;
    if (json === undefined) return `${JSON.stringify(value)}\n`;
    return value.extensions === undefined
      ? `{"data":${json}}\n`
      : `{"data":${json},"extensions":${JSON.stringify(value.extensions)}}\n`;
  }

  /** Call before executing; hand the ticket to {@link set}. */
  ticket(): ResponseTicket {
    return { seq: this.seq, readAt: this.now() };
  }

  /**
   * Stores an answer executed since `ticket`, unless one of its sources changed meanwhile or may not be cached.
   * Whether it was stored.
   */
  set(key: string, sourceIds: readonly string[], data: Record<string, unknown>, ticket: ResponseTicket): boolean {
    for (const s of sourceIds) if ((this.changedAt.get(s) ?? 0) > ticket.seq) return false;
    if (this.maxAge(sourceIds, ticket.readAt) <= 0) return false;
    let json: string;
    try {
      json = JSON.stringify(data);
    } catch {
      return false;
    }
    // Estimated memory: the data's objects (about twice their JSON text) and the bytes of up to two bodies.
    const bytes = 256 + 4 * json.length;
    if (bytes > this.opts.maxBytes) return false;
    this.lru.set(key, { data, json, sourceIds, seq: ticket.seq, readAt: ticket.readAt, bytes });
    if (!this.lru.has(key)) return false;
    this.jsonOf.set(data, json);
    for (const s of sourceIds) this.storedSince.set(s, (this.storedSince.get(s) ?? 0) + 1);
    return true;
  }

  /** A change of a source (of one of its conversations or of all of it): its answers are not served again. */
  invalidate(sourceId: string): void {
    this.changedAt.set(sourceId, ++this.seq);
    if ((this.storedSince.get(sourceId) ?? 0) > 0) {
      this.storedSince.set(sourceId, 0);
      this.opts.metrics?.invalidation(sourceId);
    }
  }

  /** Drops every answer (a mutation ran here). */
  clear(): void {
    this.seq++;
    for (const s of this.sources.keys()) this.changedAt.set(s, this.seq);
    this.storedSince.clear();
    this.lru.clear();
  }

  /** Answers held (some possibly unservable until asked for) and their estimated bytes. */
  size(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }

  private servable(e: Entry): boolean {
    for (const s of e.sourceIds) if ((this.changedAt.get(s) ?? 0) > e.seq) return false;
    return this.now() - e.readAt < this.maxAge(e.sourceIds, e.readAt);
  }

  /** How long an answer executed at `readAt` over these sources may be served now (the smallest of theirs). */
  private maxAge(sourceIds: readonly string[], readAt: number): number {
    let age = Infinity;
    for (const id of sourceIds) {
      const s = this.sources.get(id);
      // A source the cache does not know has no change signal here: not stored.
      if (!s) return 0;
      const since = s.trustedSince();
      // Strictly after: an execution in the very millisecond the signal began may have read before it.
      const own = since !== null && readAt > since ? s.trustedMaxAgeMs : Math.min(this.opts.ttlMs, s.trustedMaxAgeMs);
      if (own < age) age = own;
    }
    return age;
  }
}

/** Field names whose values move without a change event: an operation selecting one is never cached. */
const UNCACHED_FIELDS = new Set(['health']);

/** Whether an operation's selections (fragments followed) avoid every field of {@link UNCACHED_FIELDS}. */
function cacheableSelection(document: DocumentNode, set: SelectionSetNode): boolean {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const walk = (s: SelectionSetNode): boolean => {
    for (const sel of s.selections) {
      if (sel.kind === Kind.FIELD) {
        if (UNCACHED_FIELDS.has(sel.name.value)) return false;
        if (sel.selectionSet && !walk(sel.selectionSet)) return false;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (!walk(sel.selectionSet)) return false;
      } else {
        const name = sel.name.value;
        if (seen.has(name)) continue;
        seen.add(name);
        const f = fragments.get(name);
        if (f && !walk(f.selectionSet)) return false;
      }
    }
    return true;
  };
  return walk(set);
}

/**
 * The Apollo plugin: `responseForOperation` answers a query from the cache (after parsing, validation, the cost
 * limit and the key limits, so every limit and every plugin's bookkeeping still applies; only execution is
 * skipped), and `willSendResponse` stores an answer that may be stored. Mutations drop every answer.
 */
export function responseCachePlugin(cache: ResponseCache): ApolloServerPlugin<GatewayContext> {
  // Per operation, not per document: a document may hold a cacheable operation beside one that selects `health`.
  const cacheable = new WeakMap<OperationDefinitionNode, boolean>();
  return {
    async requestDidStart() {
      let key: string | null = null;
      let ticket: ResponseTicket | null = null;
      let settle: ((stored: Record<string, unknown> | undefined) => void) | null = null;
      const answer = (data: Record<string, unknown>) => ({
        http: { status: undefined, headers: new HeaderMap() },
        body: { kind: 'single' as const, singleResult: { data } },
      });
      return {
        async responseForOperation({ operation, document, request, contextValue, source }) {
          // Apollo asks even when the operation name matches none of the document's operations; it then answers
          // 400 OPERATION_RESOLUTION_FAILURE itself.
          if (!operation) return null;
          if (operation.operation === 'mutation') {
            cache.clear();
            return null;
          }
          if (operation.operation !== 'query') return null;
          let ok = cacheable.get(operation);
          if (ok === undefined) {
            ok = cacheableSelection(document, operation.selectionSet);
            cacheable.set(operation, ok);
          }
          if (!ok) return null;
          const v = contextValue.viewer;
          key = responseKey(v.keyId, contextValue.publicBaseUrl, request.operationName, source, request.variables);
          const cached = cache.get(key);
          if (cached) {
            key = null;
            return answer(cached);
          }
          const joined = cache.join(key);
          if ('wait' in joined) {
            const data = await joined.wait;
            if (data) {
              key = null;
              return answer(data);
            }
          } else {
            settle = joined.settle;
          }
          ticket = cache.ticket();
          return null;
        },
        async willSendResponse({ response, contextValue }) {
          if (key === null || ticket === null) return;
          let stored: Record<string, unknown> | undefined;
          try {
            const r = response.body.kind === 'single' ? response.body.singleResult : null;
            if (r?.data && (r.errors?.length ?? 0) === 0 && contextValue.sourceErrors.length === 0) {
              if (cache.set(key, [...contextValue.viewer.sourceIds], r.data, ticket)) stored = r.data;
            }
          } finally {
            settle?.(stored);
          }
        },
      };
    },
  };
}

/**
 * The response cache of one gateway instance as the composition root wires it (config `cache.responses`), or null
 * when off. A source's change signal is trusted as the read cache's is (server/connectors.ts ReadCacheWiring): a
 * webhook source with its webhook configured, or a source this instance polls (LiveEngine.pollingSince); and only
 * while this cache hears every instance's changes: always for a lone instance (no Redis, no shared transport:
 * LiveEngine.onChange hears every change), else once subscribed to the `conversation:<source>` and
 * `readcache:<source>` topics of the transport handed in (the services' own: Redis when configured), and then only
 * while Redis is not down (`health`): during an outage, and for answers executed before Redis came back, every
 * answer is served at most `cache.ttlMs` (README "Response cache", the read cache's promise).
 */
export function responseCacheFromConfig(
  config: Config,
  deps: {
    live: LiveEngine;
    /** A transport shared with other instances (tests, embedding); absent: the services' own. */
    pubsub?: PubSubTransport;
    /**
     * Redis's health when Redis is configured: while it is down other instances' changes cannot reach this cache,
     * so no source is trusted then, nor for answers executed before it came back (as the read cache's wiring).
     */
    health?: RedisGuard | null;
    now?: () => number;
    metrics?: ResponseCacheMetrics & { track?(size: () => { entries: number; bytes: number }): void };
  },
): { cache: ResponseCache; close(): Promise<void> } | null {
  const c = config.cache?.responses;
  if (!(c?.enabled ?? RESPONSE_CACHE_DEFAULTS.enabled)) return null;
  const now = deps.now ?? Date.now;
  const { live, pubsub, health } = deps;
  /** Since when this cache hears every instance's changes; null: not (yet). */
  let linkedSince: number | null = !config.redis && !pubsub ? now() : null;
  const pollingSeen = new Map<string, { since: number; at: number }>();
  const sources: ResponseCacheSource[] = config.sources.map((s) => {
    const webhook = webhookConfigured(s);
    return {
      sourceId: s.id,
      trustedMaxAgeMs: s.catalogMaxAgeMs ?? profileOf(s.kind).catalog.maxAgeMs,
      trustedSince: () => {
        if (linkedSince === null) return null;
        if (webhook) return linkedSince;
        const polled = live.pollingSince(s.id);
        if (polled === null) {
          pollingSeen.delete(s.id);
          return null;
        }
        // Counted from when this cache first saw the poller (its clock may not be the engine's: tests).
        let seen = pollingSeen.get(s.id);
        if (seen?.since !== polled) {
          seen = { since: polled, at: now() };
          pollingSeen.set(s.id, seen);
        }
        return Math.max(seen.at, linkedSince);
      },
    };
  });
  const cache = new ResponseCache({
    sources,
    ttlMs: config.cache?.ttlMs ?? READ_CACHE_DEFAULTS.ttlMs,
    maxBytes: c?.maxBytes ?? RESPONSE_CACHE_DEFAULTS.maxBytes,
    now,
    metrics: deps.metrics,
  });
  deps.metrics?.track?.(() => cache.size());
  const stopLocal = live.onChange((sourceId) => cache.invalidate(sourceId));
  let closed = false;
  /** The pub/sub subscriptions are live: trust follows Redis's health from then on. */
  let subscribedAll = false;
  // Changes missed while Redis was away may be cached: nothing executed before it came back is trusted.
  const stopHealth = health?.onChange((up) => {
    if (subscribedAll && !closed) linkedSince = up ? now() : null;
  });
  const subscribed = (async () => {
    const stops: Array<() => Promise<void>> = [];
    if (!pubsub) return stops;
    try {
      for (const s of config.sources)
        for (const topic of [conversationTopic(s.id), readCacheTopic(s.id)])
          stops.push(await pubsub.subscribe(topic, () => cache.invalidate(s.id)));
      if (!closed) {
        subscribedAll = true;
        linkedSince = !health || !health.isDown() ? now() : null;
      }
    } catch {
      // Without the subscriptions every answer keeps to the short TTL.
    }
    return stops;
  })();
  return {
    cache,
    async close() {
      closed = true;
      linkedSince = null;
      stopLocal();
      stopHealth?.();
      const stops = await subscribed;
      await Promise.allSettled(stops.map((u) => u()));
      cache.clear();
    },
  };
}
