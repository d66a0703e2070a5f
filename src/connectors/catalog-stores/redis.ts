import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { reviveConversation, type CatalogSnapshot, type CatalogStore } from '../catalog';
import type { ConversationModel } from '../types';

/**
 * The catalog in Redis, shared by every gateway instance: one hash of conversations per source
 * (`<prefix>catalog:<source>:items`, native id → JSON), a meta hash (`syncedAt`, `version`) and a sync lease
 * (`SET NX PX`). Each instance keeps the parsed snapshot and re-reads the items only when `version` moved, so
 * a read costs one round trip while nothing changes.
 * Given a URL, the store opens its own connection and closes it; given a client (the gateway's shared
 * connection, server/services.ts), the caller owns it.
 */
export function createRedisCatalogStore(connection: string | Redis, prefix = 'switchboard:'): CatalogStore {
  const owned = typeof connection === 'string';
  const redis = typeof connection === 'string' ? new Redis(connection, { maxRetriesPerRequest: 3 }) : connection;
  const local = new Map<string, { version: string; items: ConversationModel[] }>();
  const tokens = new Map<string, string>();
  const k = (sourceId: string, part: string) => `${prefix}catalog:${sourceId}:${part}`;
  return {
    async read(sourceId) {
      const [syncedAt, version] = await redis.hmget(k(sourceId, 'meta'), 'syncedAt', 'version');
      if (syncedAt === null || version === null) return null;
      let cached = local.get(sourceId);
      if (!cached || cached.version !== version) {
        const raw = await redis.hvals(k(sourceId, 'items'));
        cached = { version, items: raw.map((s) => reviveConversation(JSON.parse(s) as ConversationModel)) };
        local.set(sourceId, cached);
      }
      return { syncedAt: Number(syncedAt), items: cached.items };
    },
    async write(sourceId, snapshot: CatalogSnapshot) {
      const m = redis.multi().del(k(sourceId, 'items'));
      if (snapshot.items.length > 0) {
        m.hset(k(sourceId, 'items'), Object.fromEntries(snapshot.items.map((c) => [c.nativeId, JSON.stringify(c)])));
      }
      await m
        .hset(k(sourceId, 'meta'), 'syncedAt', String(snapshot.syncedAt))
        .hincrby(k(sourceId, 'meta'), 'version', 1)
        .exec();
    },
    async patch(sourceId, upserts, removals) {
      if (!(await redis.exists(k(sourceId, 'meta')))) return; // nothing synced yet
      const m = redis.multi();
      if (upserts.length > 0)
        m.hset(k(sourceId, 'items'), Object.fromEntries(upserts.map((c) => [c.nativeId, JSON.stringify(c)])));
      if (removals.length > 0) m.hdel(k(sourceId, 'items'), ...removals);
      await m.hincrby(k(sourceId, 'meta'), 'version', 1).exec();
    },
    async acquireSync(sourceId, ttlMs) {
      const token = randomUUID();
      const ok = await redis.set(k(sourceId, 'sync'), token, 'PX', ttlMs, 'NX');
      if (ok === 'OK') tokens.set(sourceId, token);
      return ok === 'OK';
    },
    async releaseSync(sourceId) {
      const token = tokens.get(sourceId);
      if (!token) return;
      tokens.delete(sourceId);
      // Delete only our own lease (it may have expired and been taken over).
      await redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        k(sourceId, 'sync'),
        token,
      );
    },
    async close() {
      if (owned) await redis.quit();
    },
  };
}
