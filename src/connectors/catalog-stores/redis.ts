import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { reviveConversation, type CatalogSnapshot, type CatalogStore } from '../catalog';
import type { ConversationModel } from '../types';

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

/** Patches kept in the change list of a source (`<prefix>catalog:<source>:changes`), newest last. */
export const CATALOG_CHANGES_KEPT = 1_000;

/**
 * KEYS: meta, changes. ARGV: the JSON array of the native ids a patch touched. The patch's version, and its entry
 * `<version>|<ids>` in the change list (trimmed to CATALOG_CHANGES_KEPT), in the same step as the version moves.
 */
const PATCHED = `local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('RPUSH', KEYS[2], v .. '|' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -${CATALOG_CHANGES_KEPT}, -1)
return v`;
/** KEYS: meta, changes. A full write: a new version that is also the new base, and no change list before it. */
const REPLACED = `local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'base', v)
redis.call('DEL', KEYS[2])
return v`;
/** KEYS: meta. ARGV: syncedAt. Sets it on an existing snapshot only. */
const TOUCHED = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'syncedAt', ARGV[1]) end
return 0`;

/** What an instance keeps of a source it read: the parsed items, and the version and base they are of. */
interface Parsed {
  version: string;
  /** The version of the full write these items descend from ('' when unknown: the next change re-reads all). */
  base: string;
  syncedAt: number;
  items: ConversationModel[];
  /** The items by native id, built at the first catch-up. */
  byId?: Map<string, ConversationModel>;
}

/**
 * The catalog in Redis, shared by every gateway instance: one hash of conversations per source
 * (`<prefix>catalog:<source>:items`, native id → JSON), a meta hash (`syncedAt`, `version`, `base`), a change list
 * (`<prefix>catalog:<source>:changes`, `<version>|<JSON ids>` per patch since the last full write, the newest
 * CATALOG_CHANGES_KEPT) and a sync lease (`SET NX PX`). Each instance keeps the parsed snapshot:
 * - while `version` stays, a read costs one round trip (HMGET of the meta) and parses nothing;
 * - after patches (mutations, webhooks, an incremental refresh) of the same base, it reads the change list and
 *   HMGETs only the conversations they touched: k changed rows cost k parses, not the whole hash (issue 13
 *   target 5; 100,000 conversations are about 1 s to re-parse);
 * - after a full write (another base), or when the list no longer reaches back to its version, it re-reads all.
 * `touch` (a refresh's new `syncedAt`, an invalidation) moves no version, so it costs no reader anything.
 *
 * While Redis is down (`opts.health`; issue 12 item 2), each instance serves the parsed snapshot it read last (no
 * second copy: the same array), and a write or patch of the outage makes a local snapshot of that source (a map
 * by native id, built once per source and outage) that serves it until Redis returns. With no snapshot at all (an
 * instance started during the outage) a read finds none, so the catalog syncs from the vendor, under a local sync
 * lease as a single instance does. A source changed locally during the outage is marked stale in Redis when Redis
 * returns (`syncedAt` 0), so its next read re-syncs it instead of serving what Redis held before the outage.
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
  /** The last snapshot read from (or written to) Redis per source, parsed once per version. */
  const parsed = new Map<string, Parsed>();
  /** Sources written or patched during an outage: their snapshot here, stale in Redis once it returns. */
  const local = new Map<
    string,
    { syncedAt: number; byId: Map<string, ConversationModel>; items: ConversationModel[] | null }
  >();
  const tokens = new Map<string, string>();
  /** Sync leases taken while Redis was down: source → until (epoch ms). */
  const localLeases = new Map<string, number>();
  const k = (sourceId: string, part: string) => `${prefix}catalog:${sourceId}:${part}`;

  const readRedis = async (sourceId: string): Promise<CatalogSnapshot | null> => {
    if (local.has(sourceId)) {
      // Back from an outage during which this instance changed the catalog: what Redis holds misses those
      // changes, so it is made stale there (the next read re-syncs it).
      if (await redis.exists(k(sourceId, 'meta'))) await redis.hset(k(sourceId, 'meta'), 'syncedAt', '0');
      local.delete(sourceId);
      parsed.delete(sourceId);
    }
    const [syncedAt, version, base] = await redis.hmget(k(sourceId, 'meta'), 'syncedAt', 'version', 'base');
    if (syncedAt === null || version === null) return null;
    let cached = parsed.get(sourceId);
    if (cached && cached.version !== version) {
      cached =
        cached.base !== '' && cached.base === (base ?? '') ? await catchUp(sourceId, cached, version) : undefined;
    }
    if (!cached) {
      const raw = await redis.hvals(k(sourceId, 'items'));
      const items = raw.map((s) => reviveConversation(JSON.parse(s) as ConversationModel));
      cached = { version, base: base ?? '', syncedAt: Number(syncedAt), items };
    }
    cached.syncedAt = Number(syncedAt);
    parsed.set(sourceId, cached);
    return { syncedAt: cached.syncedAt, items: cached.items };
  };

  /**
   * The snapshot at `version`, from `from` and the patches after it (the change list, then the rows they touched);
   * undefined when the list does not reach back to `from` (trimmed), so everything is read again.
   */
  const catchUp = async (sourceId: string, from: Parsed, version: string): Promise<Parsed | undefined> => {
    const have = Number(from.version);
    const want = Number(version);
    if (!Number.isInteger(have) || !Number.isInteger(want) || want < have) return undefined;
    const entries = await redis.lrange(k(sourceId, 'changes'), 0, -1);
    const touched = new Set<string>();
    const seen = new Set<number>();
    for (const entry of entries) {
      const bar = entry.indexOf('|');
      const v = Number(entry.slice(0, bar));
      if (v <= have) continue;
      seen.add(v);
      for (const id of JSON.parse(entry.slice(bar + 1)) as string[]) touched.add(id);
    }
    // Every version in between must be there (the list may have been trimmed, or the base replaced meanwhile).
    for (let v = have + 1; v <= want; v++) if (!seen.has(v)) return undefined;
    const byId = from.byId ?? new Map(from.items.map((c) => [c.nativeId, c]));
    const ids = [...touched];
    const rows = ids.length > 0 ? await redis.hmget(k(sourceId, 'items'), ...ids) : [];
    ids.forEach((id, i) => {
      const raw = rows[i];
      if (raw === null || raw === undefined) byId.delete(id);
      else byId.set(id, reviveConversation(JSON.parse(raw) as ConversationModel));
    });
    // A new array: a reader still walking the previous one sees a consistent snapshot.
    return { version, base: from.base, syncedAt: from.syncedAt, items: [...byId.values()], byId };
  };

  /** What this instance has of a source while Redis is down: its local snapshot, else the last one it read. */
  const readLocal = (sourceId: string): CatalogSnapshot | null => {
    const mine = local.get(sourceId);
    if (mine) return { syncedAt: mine.syncedAt, items: (mine.items ??= [...mine.byId.values()]) };
    const last = parsed.get(sourceId);
    return last ? { syncedAt: last.syncedAt, items: last.items } : null;
  };

  const writeLocal = (sourceId: string, snapshot: CatalogSnapshot) => {
    local.set(sourceId, {
      syncedAt: snapshot.syncedAt,
      byId: new Map(snapshot.items.map((c) => [c.nativeId, c])),
      items: null,
    });
  };

  const patchLocal = (sourceId: string, upserts: ConversationModel[], removals: string[]) => {
    let mine = local.get(sourceId);
    if (!mine) {
      const last = parsed.get(sourceId);
      if (!last) return; // nothing synced yet: the first sync reads everything anyway
      writeLocal(sourceId, last);
      mine = local.get(sourceId)!;
    }
    for (const c of upserts) mine.byId.set(c.nativeId, c);
    for (const id of removals) mine.byId.delete(id);
    mine.items = null; // a new array: a reader still walking the previous one sees a consistent snapshot
  };

  return {
    read(sourceId) {
      return health.guard(
        () => readRedis(sourceId),
        () => readLocal(sourceId),
      );
    },
    async write(sourceId, snapshot: CatalogSnapshot) {
      await health.guard(
        async () => {
          const m = redis.multi().del(k(sourceId, 'items'));
          if (snapshot.items.length > 0) {
            m.hset(
              k(sourceId, 'items'),
              Object.fromEntries(snapshot.items.map((c) => [c.nativeId, JSON.stringify(c)])),
            );
          }
          const done = await m
            .hset(k(sourceId, 'meta'), 'syncedAt', String(snapshot.syncedAt))
            .eval(REPLACED, 2, k(sourceId, 'meta'), k(sourceId, 'changes'))
            .exec();
          // What this instance wrote is the snapshot of that version: its next read parses nothing.
          const v = done?.[done.length - 1]?.[1];
          const version = typeof v === 'number' ? String(v) : '';
          parsed.set(sourceId, { version, base: version, syncedAt: snapshot.syncedAt, items: snapshot.items });
        },
        () => writeLocal(sourceId, snapshot),
      );
    },
    async touch(sourceId, syncedAt) {
      await health.guard(
        async () => {
          await redis.eval(TOUCHED, 1, k(sourceId, 'meta'), String(syncedAt));
        },
        () => {
          const last = local.get(sourceId) ?? parsed.get(sourceId);
          if (!last) return;
          if (!local.has(sourceId)) patchLocal(sourceId, [], []);
          local.get(sourceId)!.syncedAt = syncedAt;
        },
      );
    },
    async patch(sourceId, upserts, removals) {
      await health.guard(
        async () => {
          if (!(await redis.exists(k(sourceId, 'meta')))) return; // nothing synced yet
          const m = redis.multi();
          if (upserts.length > 0)
            m.hset(k(sourceId, 'items'), Object.fromEntries(upserts.map((c) => [c.nativeId, JSON.stringify(c)])));
          if (removals.length > 0) m.hdel(k(sourceId, 'items'), ...removals);
          const ids = JSON.stringify([...upserts.map((c) => c.nativeId), ...removals]);
          await m.eval(PATCHED, 2, k(sourceId, 'meta'), k(sourceId, 'changes'), ids).exec();
        },
        () => patchLocal(sourceId, upserts, removals),
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
        () => {
          const until = localLeases.get(sourceId);
          if (until !== undefined && until > Date.now()) return false;
          localLeases.set(sourceId, Date.now() + ttlMs);
          return true;
        },
      );
    },
    async releaseSync(sourceId) {
      localLeases.delete(sourceId);
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
      parsed.clear();
      local.clear();
      if (owned) await redis.quit();
    },
  };
}
