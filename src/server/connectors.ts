import { READ_CACHE_DEFAULTS, type Config, type SourceConfig } from '../config/schema';
import type { CatalogStore } from '../connectors/catalog';
import { ReadCache, type ReadCacheMetrics } from '../connectors/readCache';
import { createConnector, profileOf } from '../connectors/registry';
import type { Connector, ConnectorDeps, SourcePolicy } from '../connectors/types';
import type { LiveEngine } from '../live/engine';
import { conversationTopic, isConversationMessage } from '../live/protocol';
import type { PubSubTransport } from '../live/pubsub';
import type { RedisHealth } from './redisHealth';

/** A source's resilience settings: its config, else the defaults of its kind (its vendor's profile.ts). */
export function sourcePolicy(s: SourceConfig): SourcePolicy {
  const d = profileOf(s.kind).limits;
  return {
    timeoutMs: s.timeoutMs,
    retries: s.retries,
    rateLimitPerMinute: s.rateLimitPerMinute === undefined ? d.rateLimitPerMinute : s.rateLimitPerMinute,
    maxConcurrency: s.maxConcurrency ?? d.maxConcurrency,
    keyReserve: s.keyReserve,
    circuitThreshold: s.circuitBreaker?.failures,
    circuitHalfOpenAfterMs: s.circuitBreaker?.halfOpenAfterMs,
  };
}

/**
 * What the connector of source `s` is given: the shared services and the source's own limits, passed explicitly,
 * so that every HTTP client the connector builds, at start-up or later, gets them.
 */
export function connectorDeps(s: SourceConfig, shared: { catalogStore: CatalogStore }): ConnectorDeps {
  return { ...shared, policy: sourcePolicy(s) };
}

/**
 * One connector per configured source, in config order, each with its source's limits; with a read cache
 * (config `cache.enabled`), each one's reads go through it ({@link ReadCacheWiring}).
 */
export function buildConnectors(
  sources: readonly SourceConfig[],
  shared: { catalogStore: CatalogStore },
  readCache?: ReadCacheWiring | null,
): Connector[] {
  return sources.map((s) => {
    const connector = createConnector(s, connectorDeps(s, shared));
    return readCache ? readCache.wrap(connector, s) : connector;
  });
}

/** docs/live.md "Topics" (read cache): a gateway instance wrote to a source; payload `{ sourceId, conversationNativeId | null }`. */
export const readCacheTopic = (sourceId: string) => `readcache:${sourceId}`;

/** A webhook source whose config lets its webhook in (a secret or a URL token): its vendor tells the gateway of changes. */
export function webhookConfigured(s: SourceConfig): boolean {
  if (profileOf(s.kind).capabilities.realtime !== 'WEBHOOK') return false;
  const c = s as { webhookSecret?: string; webhookToken?: string };
  return !!(c.webhookSecret || c.webhookToken);
}

/**
 * The read cache of one gateway instance (connectors/readCache/, README "Read cache"), as the composition root
 * wires it:
 *
 * - **wrap** (while the connectors are built): each source's connector reads through the cache; its answers are
 *   served at most the source's catalog age (`catalogMaxAgeMs` or the vendor profile's) while a trusted change
 *   signal covers them, else at most `cache.ttlMs`;
 * - **trusted change signal**: a webhook source with its webhook configured, or a source this instance polls
 *   (LiveEngine.pollingSince: a POLLING source while somebody here subscribes to it), in both cases only while
 *   this instance hears every instance's changes (its pub/sub subscriptions are live, and Redis is up when the
 *   transport is Redis);
 * - **attach** (once the live engine and pub/sub exist): every change the engine hears of here
 *   (LiveEngine.onChange) and every one announced by any instance (`conversation:<source>`, and
 *   `readcache:<source>` for the writes of cached sessions and changes that name no conversation) drops what it
 *   names.
 */
export class ReadCacheWiring {
  readonly cache: ReadCache;
  private readonly now: () => number;
  private live: LiveEngine | null = null;
  /** Since when this instance hears every instance's changes (its subscriptions live, Redis up); null: not now. */
  private linkedSince: number | null = null;
  private metrics: ReadCacheMetrics | undefined;
  private readonly sourceIds: string[] = [];
  /** Per polled source: the engine's `pollingSince` and when (the cache's clock) this instance first saw it. */
  private readonly pollingSeen = new Map<string, { since: number; at: number }>();
  private attached: Promise<Array<() => Promise<void>>> | null = null;
  private stops: Array<() => void> = [];
  private closed = false;

  constructor(config: Config, opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
    const c = config.cache;
    this.cache = new ReadCache({
      ttlMs: c?.ttlMs ?? READ_CACHE_DEFAULTS.ttlMs,
      maxBytes: c?.maxBytes ?? READ_CACHE_DEFAULTS.maxBytes,
      now: this.now,
      metrics: {
        hit: (s) => this.metrics?.hit?.(s),
        miss: (s) => this.metrics?.miss?.(s),
        invalidation: (s) => this.metrics?.invalidation?.(s),
      },
    });
  }

  /** The cache when `config.cache.enabled`, else null. */
  static fromConfig(config: Config, opts: { now?: () => number } = {}): ReadCacheWiring | null {
    return (config.cache?.enabled ?? READ_CACHE_DEFAULTS.enabled) ? new ReadCacheWiring(config, opts) : null;
  }

  wrap(connector: Connector, s: SourceConfig): Connector {
    this.sourceIds.push(connector.id);
    const webhook = webhookConfigured(s);
    return this.cache.wrap(connector, {
      trustedMaxAgeMs: s.catalogMaxAgeMs ?? profileOf(s.kind).catalog.maxAgeMs,
      trustedSince: () => {
        const linked = this.linkedSince;
        if (linked === null) return null;
        if (webhook) return linked;
        const polled = this.live?.pollingSince(connector.id) ?? null;
        if (polled === null) {
          this.pollingSeen.delete(connector.id);
          return null;
        }
        // The engine's time is the process's own; the cache's clock may be another (tests): the poller counts
        // from when the cache first saw it polling, which is never earlier than the truth.
        let seen = this.pollingSeen.get(connector.id);
        if (seen?.since !== polled) {
          seen = { since: polled, at: this.now() };
          this.pollingSeen.set(connector.id, seen);
        }
        return Math.max(seen.at, linked);
      },
    });
  }

  /** The counters and size gauges on /metrics (server/metrics.ts). */
  useMetrics(metrics: ReadCacheMetrics & { track?(size: () => ReturnType<ReadCache['size']>): void }): void {
    this.metrics = metrics;
    metrics.track?.(() => this.cache.size());
  }

  /** Starts listening for changes (see the class comment); resolves once the subscriptions are live. */
  attach(deps: {
    live: LiveEngine;
    pubsub: PubSubTransport;
    health?: RedisHealth | null;
    onError?: (error: unknown, sourceId: string) => void;
  }): Promise<void> {
    const { live, pubsub, health } = deps;
    this.live = live;
    this.stops.push(live.onChange((s, c) => this.cache.invalidate(s, c)));
    this.cache.setPublish((s, c) =>
      pubsub.publish(readCacheTopic(s), { sourceId: s, conversationNativeId: c } satisfies ReadCacheMessage),
    );
    const drop = (sourceId: string, p: unknown) => {
      if (isConversationMessage(p) && p.sourceId === sourceId) this.cache.invalidate(sourceId, p.conversationNativeId);
      else if (isReadCacheMessage(p) && p.sourceId === sourceId)
        this.cache.invalidate(sourceId, p.conversationNativeId);
    };
    // One after the other: a transport still connecting holds one waiter per pending subscription.
    this.attached = (async () => {
      const subscriptions: Array<() => Promise<void>> = [];
      try {
        for (const s of this.sourceIds)
          for (const topic of [conversationTopic(s), readCacheTopic(s)])
            subscriptions.push(await pubsub.subscribe(topic, (p) => drop(s, p)));
      } catch (e) {
        await Promise.allSettled(subscriptions.map((u) => u()));
        throw e;
      }
      return subscriptions;
    })();
    return this.attached.then(
      () => {
        if (this.closed) return;
        // Changes missed while Redis was away may be cached: nothing read before it came back is trusted.
        if (health)
          this.stops.push(
            health.onChange((up) => {
              this.linkedSince = up ? this.now() : null;
            }),
          );
        this.linkedSince = !health || !health.isDown() ? this.now() : null;
      },
      (e: unknown) => {
        // Without the subscriptions, every source keeps to the short TTL.
        for (const s of this.sourceIds) deps.onError?.(e, s);
      },
    );
  }

  /** Stops listening and forgets every answer. */
  async close(): Promise<void> {
    this.closed = true;
    this.linkedSince = null;
    for (const stop of this.stops.splice(0)) stop();
    const subscriptions = (await this.attached?.catch(() => [])) ?? [];
    await Promise.allSettled(subscriptions.map((u) => u()));
    this.cache.close();
  }
}

/** The payload of `readcache:<source>`. */
export interface ReadCacheMessage {
  sourceId: string;
  conversationNativeId: string | null;
}

function isReadCacheMessage(p: unknown): p is ReadCacheMessage {
  const o = p as Partial<ReadCacheMessage> | null;
  return (
    !!o &&
    typeof o.sourceId === 'string' &&
    (o.conversationNativeId === null || typeof o.conversationNativeId === 'string')
  );
}
