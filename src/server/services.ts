import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { Redis } from 'ioredis';
import { PERSISTED_QUERY_DEFAULTS, REDIS_DEFAULTS, type Config } from '../config/schema';
import type { CatalogStore } from '../connectors/catalog';
import { createMemoryCatalogStore } from '../connectors/catalog-stores/memory';
import { createRedisCatalogStore } from '../connectors/catalog-stores/redis';
import type { Connector } from '../connectors/types';
import { ErrorCode } from '../errors';
import { createMemoryCoordination, createRedisCoordination } from '../live/coordination';
import { LiveEngine } from '../live/engine';
import type { PubSubTransport } from '../live/pubsub';
import { createInMemoryPubSub } from '../live/transports/inMemory';
import { createRedisPubSub } from '../live/transports/redis';
import { conversationTopic, isConversationMessage } from '../live/protocol';
import { createFileLinkStore, createMemoryLinkStore, createRedisLinkStore } from '../people/links';
import { LivePeopleIndex } from '../people/peopleIndex';
import type { GatewayServices } from '../schema/context';
import { toPersonId } from '../schema/ids';
import { buildConnectors, ReadCacheWiring } from './connectors';
import { createMemoryIdempotencyStore, createRedisIdempotencyStore } from './idempotency';
import type { Logger } from './logger';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { createMemoryPersistedQueryCache, RedisKeyValueCache, RegistrationCounter } from './persisted';
import { createRedisHealth, type RedisHealth } from './redisHealth';
import { UploadStaging } from './staging';

/**
 * The one set of Redis connections a gateway opens, when `config.redis` is set: `commands` serves catalogs,
 * idempotency keys, live leases and event ids, persisted queries and pub/sub publishing; `subscriber` is given
 * over to pub/sub subscriptions (a connection in subscriber mode runs no other command). Every key and channel
 * starts with `prefix`. `health` watches both (server/redisHealth.ts): it is their error listener, logs one line
 * per outage, and is what every Redis-backed store reads to fall back while Redis is down (issue 12 item 2).
 */
export interface RedisConnections {
  commands: Redis;
  /** Null when the gateway was handed its own pub/sub transport. */
  subscriber: Redis | null;
  prefix: string;
  health: RedisHealth;
  quit(): Promise<void>;
}

export function openRedisConnections(
  redis: NonNullable<Config['redis']>,
  opts: { subscriber: boolean; logger: Logger },
): RedisConnections {
  const prefix = redis.keyPrefix ?? 'switchboard:';
  // Named `<prefix>commands` and `<prefix>subscriber` in Redis's CLIENT LIST, so operators can tell them apart
  // (Redis accepts only printable ASCII without spaces in a name).
  const open = (role: string) =>
    new Redis(redis.url, {
      maxRetriesPerRequest: 3,
      // A command Redis does not answer fails (and its call falls back) instead of waiting: server/redisHealth.ts.
      commandTimeout: redis.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
      connectionName: `${prefix}${role}`.replace(/[^!-~]/g, '_'),
    });
  const commands = open('commands');
  const subscriber = opts.subscriber ? open('subscriber') : null;
  const health = createRedisHealth({ logger: opts.logger });
  health.watch(commands, 'commands');
  if (subscriber) health.watch(subscriber, 'subscriber');
  return {
    commands,
    subscriber,
    prefix,
    health,
    async quit() {
      health.close();
      // quit() waits for Redis's answer, which never comes while it is down: disconnect() ends at once.
      await Promise.all(
        [commands, subscriber].map(
          (c) => c && (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect()),
        ),
      );
    },
  };
}

export interface ServicesOptions {
  config: Config;
  logger: Logger;
  /** Override the pub/sub transport (the caller closes it). Default: Redis when configured, else in memory. */
  pubsub?: PubSubTransport;
  /** Use these connectors instead of building them from config (tests). */
  connectors?: Connector[];
  /** The clock of the expiries the gateway enforces itself (staged uploads); tests pass a fake one. @default Date.now */
  clock?: () => number;
}

/** Everything long-lived a gateway runs on, built in dependency order and disposed in reverse. */
export interface Services {
  /** What operations reach through their context (resolvers). */
  services: GatewayServices;
  /** The upload staging itself (the upload route stores files into it). */
  staging: UploadStaging;
  metrics: GatewayMetrics;
  /** Apollo's persisted-query cache: shared through Redis when configured, else in memory (an LRU bounded by count and ~30 MiB). */
  persistedQueryCache: KeyValueCache<string>;
  /** Automatic persisted-query registrations per API key (shared through Redis when configured). */
  persistedQueryRegistrations: RegistrationCounter;
  /**
   * Whether Redis is reachable (null without Redis): `/readyz` and the REDIS_UNAVAILABLE warning read it, and
   * every Redis-backed store falls back through it (server/redisHealth.ts).
   */
  redisHealth: RedisHealth | null;
  /**
   * The pub/sub transport the live engine publishes on (the one given, Redis when configured, else in memory):
   * what else follows other instances' changes (the response cache) subscribes to it.
   */
  pubsub: PubSubTransport;
  /** Stops the live engine, closes connectors, stores and pub/sub, then the Redis connections. */
  dispose(): Promise<void>;
}

/**
 * The service builder: one Redis connection set (when configured) shared by pub/sub, catalogs, idempotency,
 * live coordination and persisted queries; then the connectors, metrics, live engine and per-process stores.
 */
/**
 * The live engine's failed refresh (a poll, a webhook's re-read, a repair attempt): `live refresh failed` at warn.
 * While a source's circuit breaker is open the engine's repair attempts are refused without a call (CIRCUIT_OPEN);
 * those are at debug: the failures that opened the breaker were warned already, readiness and the metrics say it is
 * open, and an outage no longer adds 10-15 warnings per source every 10 s of it.
 */
export function logRefreshFailure(logger: Logger, err: unknown, sourceId: string): void {
  const code = (err as { code?: string }).code;
  const line = { sourceId, code, err: String(err) };
  if (code === ErrorCode.CIRCUIT_OPEN) logger.debug(line, 'live refresh failed');
  else logger.warn(line, 'live refresh failed');
}

export function buildServices(opts: ServicesOptions): Services {
  const { config, logger } = opts;
  const redis = config.redis ? openRedisConnections(config.redis, { subscriber: !opts.pubsub, logger }) : null;
  const health = redis?.health ?? null;

  // With Redis, each store falls back to this process while Redis is down (issue 12 item 2).
  const catalogStore: CatalogStore = redis
    ? createRedisCatalogStore(redis.commands, redis.prefix, { health: redis.health })
    : createMemoryCatalogStore();
  // The read cache (config `cache`, off by default) wraps the connectors built from config.
  const readCache = ReadCacheWiring.fromConfig(config, { now: opts.clock });
  const connectors = opts.connectors ?? buildConnectors(config.sources, { catalogStore }, readCache);
  const metrics = createGatewayMetrics({ connectors, logger });
  readCache?.useMetrics(metrics.readCache);
  if (health) metrics.observeRedis(health);
  const pubsub =
    opts.pubsub ??
    (redis?.subscriber
      ? createRedisPubSub({ publisher: redis.commands, subscriber: redis.subscriber }, redis.prefix, {
          health: redis.health,
        })
      : createInMemoryPubSub());

  const pollInterval = new Map(config.sources.map((s) => [s.id, s.pollIntervalMs]));
  const live = new LiveEngine({
    connectors,
    pubsub,
    pollIntervalMs: (id) => pollInterval.get(id) ?? 5000,
    // Poll leases, webhook event ids and the last published totals: shared through Redis when configured.
    coordination: redis
      ? createRedisCoordination(redis.commands, redis.prefix, {
          health: redis.health,
          maxSeenKeys: config.server.memoryStores?.webhookEventKeys,
          trackSize: metrics.trackStore,
        })
      : createMemoryCoordination({
          maxSeenKeys: config.server.memoryStores?.webhookEventKeys,
          trackSize: metrics.trackStore,
        }),
    leaseMs: (id) => config.server.liveLeaseMs ?? Math.max(3 * (pollInterval.get(id) ?? 5000), 5000),
    eventLog: { ...config.server.liveEvents, trackSize: metrics.trackStore },
    // Thread events in Redis streams when Redis is configured: a cursor resumes on any instance (docs/live.md "Event log").
    ...(redis ? { eventLogRedis: { redis: redis.commands, prefix: redis.prefix, health: redis.health } } : {}),
    onError: (err, sourceId) => logRefreshFailure(logger, err, sourceId),
    metrics: metrics.live,
  });
  void readCache?.attach({
    live,
    pubsub,
    health,
    onError: (err, sourceId) => logger.warn({ sourceId, err: String(err) }, 'read cache: no change subscription'),
  });

  // People (README "People"): one index per gateway, following the changes this instance hears (issue 15).
  const peopleIndex = new LivePeopleIndex({
    connectors,
    defaultCountry: config.people.defaultCountry,
    personId: (p) => toPersonId(p.anchor.sourceId, p.anchor.nativeId),
    recordUpstream: metrics.recordUpstream,
    onError: (err, sourceId) => logger.warn({ sourceId, err: String(err) }, 'people index: re-read failed'),
  });
  // Its size: participants held over every source (grows with the sources' own data, not with traffic).
  metrics.trackStore('people_index', () => peopleIndex.size());
  const stopPeopleIndex = live.onChange((sourceId, conversationNativeId) => {
    void peopleIndex.changed(sourceId, conversationNativeId);
  });
  // What other instances heard: their announcements on `conversation:<source>` (this instance's own are skipped).
  const peopleSubscriptions = (async () => {
    const stops: Array<() => Promise<void>> = [];
    for (const c of connectors)
      stops.push(
        await pubsub.subscribe(conversationTopic(c.id), (p) => {
          if (isConversationMessage(p) && p.sourceId === c.id) void peopleIndex.announced(c.id, p.conversationNativeId);
        }),
      );
    return stops;
  })().catch((err: unknown) => {
    logger.warn(
      { err: String(err) },
      'people index: no conversation subscription (other instances reach it at its re-reads)',
    );
    return [];
  });

  const staging = new UploadStaging({ ...config.server.uploads, now: opts.clock });
  if (staging.leftoversRemoved > 0)
    logger.info({ files: staging.leftoversRemoved }, 'removed staged uploads left by a stopped gateway');
  metrics.trackStore('staged_uploads', () => staging.uploadsStaged());
  const services: GatewayServices = {
    connectors,
    live,
    staging,
    idempotency: redis
      ? // Refused at once (IDEMPOTENCY_UNAVAILABLE) while Redis is known down, without waiting for a command to fail.
        createRedisIdempotencyStore(redis.commands, { prefix: redis.prefix, health: redis.health })
      : createMemoryIdempotencyStore(undefined, {
          maxKeys: config.server.memoryStores?.idempotencyKeys,
          trackSize: metrics.trackStore,
        }),
    publicUrl: config.server.publicUrl?.replace(/\/$/, '') ?? null,
    recordUpstream: metrics.recordUpstream,
    rowSkipped: metrics.rowSkipped,
    people: {
      defaultCountry: config.people.defaultCountry,
      links: redis
        ? createRedisLinkStore(redis.commands, redis.prefix)
        : config.people.linksFile
          ? createFileLinkStore(config.people.linksFile)
          : createMemoryLinkStore(),
      linkManagers: new Set(config.apiKeys.filter((k) => k.manageLinks).map((k) => k.sha256)),
      index: peopleIndex,
    },
  };

  return {
    services,
    staging,
    metrics,
    redisHealth: health,
    pubsub,
    persistedQueryCache: redis
      ? new RedisKeyValueCache(
          redis.commands,
          redis.prefix,
          undefined,
          redis.health,
          createMemoryPersistedQueryCache({
            maxQueries: config.server.memoryStores?.persistedQueries,
            trackSize: metrics.trackStore,
          }),
        )
      : createMemoryPersistedQueryCache({
          maxQueries: config.server.memoryStores?.persistedQueries,
          trackSize: metrics.trackStore,
        }),
    persistedQueryRegistrations: new RegistrationCounter({
      max: config.server.persistedQueries?.registrationsPerKey ?? PERSISTED_QUERY_DEFAULTS.registrationsPerKey,
      windowMs: config.server.persistedQueries?.registrationWindowMs ?? PERSISTED_QUERY_DEFAULTS.registrationWindowMs,
      redis: redis?.commands,
      prefix: redis?.prefix,
      health: redis?.health,
    }),
    async dispose() {
      stopPeopleIndex();
      await Promise.allSettled((await peopleSubscriptions).map((u) => u()));
      await peopleIndex.close();
      await live.close();
      await readCache?.close();
      if (!opts.pubsub) await pubsub.close();
      await Promise.all(connectors.map((c) => c.close?.()));
      await catalogStore.close();
      await services.idempotency.close?.();
      staging.close();
      await redis?.quit();
    },
  };
}
