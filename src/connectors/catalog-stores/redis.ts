import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { reviveConversation, type CatalogSnapshot, type CatalogStore } from '../catalog';
import type { ConversationModel } from '../types';
import { createMemoryCatalogStore } from './memory';

/**
 * What a Redis-backed store needs to know about Redis's health to fall back while it is down (issue 12 item 2).
 * The gateway's one implementation is server/redisHealth.ts (`RedisHealth`); it is declared here, in the lowest
 * layer that uses it, so that connectors and the live engine can take one without importing the server.
 */
export interface RedisGuard {
  /** Redis is known to be unreachable. */
  isDown(): boolean;
  /** `run` against Redis, or `fallback` when Redis is down, `run` fails, or Redis goes down while it waits. */
  guard<T>(run: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T>;
  /** `true` when Redis comes back, `false` when it goes down; returns the unsubscribe function. */
  onChange(listener: (up: boolean) => void): () => void;
}

/** No fallback: every call goes to Redis and its failure is the caller's (a store used without a gateway). */
export const NO_REDIS_GUARD: RedisGuard = {
  isDown: () => false,
  guard: (run) => run(),
  onChange: () => () => undefined,
};

export interface RedisCatalogStoreOptions {
  /**
   * Falls back to this process's copy of each catalog while Redis is down (server/redisHealth.ts). Without one,
   * a Redis failure is the caller's.
   */
  health?: RedisGuard;
}

/**
 * The catalog in Redis, shared by every gateway instance: one hash of conversations per source
 * (`<prefix>catalog:<source>:items`, native id → JSON), a meta hash (`syncedAt`, `version`) and a sync lease
 * (`SET NX PX`). Each instance keeps the parsed snapshot and re-reads the items only when `version` moved, so
 * a read costs one round trip while nothing changes.
 *
 * While Redis is down (issue 12 item 2), each instance serves and patches its own copy: the last snapshot it read
 * or wrote, kept in an in-memory store beside the parsed one (the same objects: no second copy of the models).
 * With no copy (an instance started during the outage), the catalog syncs from the vendor under a local lease,
 * as a single instance does. A source changed locally during the outage is marked stale in Redis when Redis
 * returns (`syncedAt` 0), so the next read re-syncs it instead of serving what Redis held before the outage.
 *
 * Given a URL, the store opens its own connection and closes it; given a client (the gateway's shared
 * connection, server/services.ts), the caller owns it.
 */
export function createRedisCatalogStore(
  connection: string | Redis,
  prefix = 'switchboard:',
  opts: RedisCatalogStoreOptions = {},
): CatalogStore {
  const owned = typeof connection === 'string';
  const redis = typeof connection === 'string' ? new Redis(connection, { maxRetriesPerRequest: 3 }) : connection;
  if (owned) redis.on('error', () => undefined); // its failures reach the callers through their commands
  const health = opts.health ?? NO_REDIS_GUARD;
  const parsed = new Map<string, { version: string; items: ConversationModel[] }>();
  /** This instance's copy of each catalog, served while Redis is down. */
  const copy = createMemoryCatalogStore();
  /** Sources written or patched in the copy only (during an outage): stale in Redis once it returns. */
  const dirty = new Set<string>();
  const tokens = new Map<string, string>();
  /** Sync leases taken locally while Redis was down. */
  const localLeases = new Set<string>();
  const k = (sourceId: string, part: string) => `${prefix}catalog:${sourceId}:${part}`;

  const readRedis = async (sourceId: string): Promise<CatalogSnapshot | null> => {
    if (dirty.has(sourceId)) {
      // Back from an outage during which this instance changed the catalog: what Redis holds misses those
      // changes, so it is made stale (the next read re-syncs); the local copy serves this read.
      if (await redis.exists(k(sourceId, 'meta'))) await redis.hset(k(sourceId, 'meta'), 'syncedAt', '0');
      dirty.delete(sourceId);
      parsed.delete(sourceId);
    }
    const [syncedAt, version] = await redis.hmget(k(sourceId, 'meta'), 'syncedAt', 'version');
    if (syncedAt === null || version === null) return null;
    let cached = parsed.get(sourceId);
    if (!cached || cached.version !== version) {
      const raw = await redis.hvals(k(sourceId, 'items'));
      cached = { version, items: raw.map((s) => reviveConversation(JSON.parse(s) as ConversationModel)) };
      parsed.set(sourceId, cached);
      await copy.write(sourceId, { syncedAt: Number(syncedAt), items: cached.items });
    }
    return { syncedAt: Number(syncedAt), items: cached.items };
  };

  return {
    read(sourceId) {
      return health.guard(
        () => readRedis(sourceId),
        () => copy.read(sourceId),
      );
    },
    async write(sourceId, snapshot: CatalogSnapshot) {
      await copy.write(sourceId, snapshot);
      await health.guard(
        async () => {
          const m = redis.multi().del(k(sourceId, 'items'));
          if (snapshot.items.length > 0) {
            m.hset(
              k(sourceId, 'items'),
              Object.fromEntries(snapshot.items.map((c) => [c.nativeId, JSON.stringify(c)])),
            );
          }
          await m
            .hset(k(sourceId, 'meta'), 'syncedAt', String(snapshot.syncedAt))
            .hincrby(k(sourceId, 'meta'), 'version', 1)
            .exec();
          dirty.delete(sourceId);
        },
        () => {
          dirty.add(sourceId);
        },
      );
    },
    async patch(sourceId, upserts, removals) {
      await copy.patch(sourceId, upserts, removals);
      await health.guard(
        async () => {
          if (!(await redis.exists(k(sourceId, 'meta')))) return; // nothing synced yet
          const m = redis.multi();
          if (upserts.length > 0)
            m.hset(k(sourceId, 'items'), Object.fromEntries(upserts.map((c) => [c.nativeId, JSON.stringify(c)])));
          if (removals.length > 0) m.hdel(k(sourceId, 'items'), ...removals);
          await m.hincrby(k(sourceId, 'meta'), 'version', 1).exec();
        },
        () => {
          dirty.add(sourceId);
        },
      );
    },
    acquireSync(sourceId, ttlMs) {
      return health.guard(
        async () => {
          const token = randomUUID();
          const ok = await redis.set(k(sourceId, 'sync'), token, 'PX', ttlMs, 'NX');
          if (ok === 'OK') tokens.set(sourceId, token);
          return ok === 'OK';
        },
        async () => {
          const ok = await copy.acquireSync(sourceId, ttlMs);
          if (ok) localLeases.add(sourceId);
          return ok;
        },
      );
    },
    async releaseSync(sourceId) {
      if (localLeases.delete(sourceId)) await copy.releaseSync(sourceId);
      const token = tokens.get(sourceId);
      if (!token) return;
      tokens.delete(sourceId);
      // Delete only our own lease (it may have expired and been taken over). While Redis is down it expires.
      await health.guard(
        () =>
          redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
            1,
            k(sourceId, 'sync'),
            token,
          ),
        () => 0,
      );
    },
    async close() {
      await copy.close();
      if (owned) await redis.quit();
    },
  };
}
