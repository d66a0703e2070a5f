import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { NO_REDIS_GUARD, type RedisGuard } from '../connectors/catalog-stores/redis';

/**
 * What gateway instances agree on, through Redis (or, for one instance, in this process): poll leases
 * (docs/live.md "Leases"), seen webhook events and deliveries (docs/live.md "Ordering and dedupe") and the last
 * published unread totals with the start of the read that produced them (docs/live.md "Unread totals"). The
 * keys, values and TTLs are docs/live.md "What Redis holds". Both backends run one suite
 * (test/live/coordination.test.ts). Without Redis a lease is always granted.
 */
export interface LiveCoordination {
  leases: LeaseManager;
  /** Marks event keys as seen; per key, true when it is new (not seen within `ttlMs` by any instance). */
  firstSeen(keys: string[], ttlMs: number): Promise<boolean[]>;
  /**
   * Records a source's unread totals read at `asOf` (epoch ms, when the read started). `first`: nothing was
   * recorded before (recorded now; not a change anybody saw); `changed`: recorded, publish it; `same`: equal to
   * the recorded totals; `stale`: a read that started later is already recorded (nothing recorded).
   */
  recordUnread(sourceId: string, value: string, asOf: number): Promise<UnreadRecord>;
  /**
   * The shared clock (epoch ms) that `asOf` is measured on: Redis's own `TIME` when shared, so that instances
   * whose clocks drift apart still order their reads right; this process's clock in memory.
   */
  now(): Promise<number>;
  /** Stops renewals and releases every lease this instance holds. Does not close a Redis client it was given. */
  close(): Promise<void>;
}

export type UnreadRecord = 'first' | 'changed' | 'same' | 'stale';

export interface LeaseManager {
  /**
   * Takes the lease `name` for `ttlMs`, or confirms this instance still holds it. True while held; the holder
   * renews it in the background until {@link release}, {@link close} or until it is lost.
   */
  acquire(name: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if this instance still holds it, so that another instance can take it at once. */
  release(name: string): Promise<void>;
  /** Whether this instance believes it holds the lease (no round trip). */
  holds(name: string): boolean;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

// ---- in memory ----

/**
 * How many webhook event ids and delivery keys the in-memory coordination remembers (issue 12 item 18): each for
 * its own time to live (24 h for events, the connector's for deliveries), and at most this many in all, the
 * least recently claimed forgotten first. A forgotten id that a vendor sends again is applied again: a
 * conversation announced and re-read twice (events only say "read again"), never wrong data. About 150 bytes
 * each. (With Redis, keys expire there and this process holds none.)
 */
export const MEMORY_SEEN_KEYS_MAX = 50_000;

export interface MemoryCoordinationOptions {
  /** @default {@link MEMORY_SEEN_KEYS_MAX} */
  maxSeenKeys?: number;
  /** Registers the size of each in-memory store for the metrics (`switchboard_memory_store_entries`). */
  trackSize?: (store: string, size: () => number) => void;
}

/** One process: leases are always granted, events and totals are remembered here. */
export function createMemoryCoordination(opts: MemoryCoordinationOptions = {}): LiveCoordination {
  // Bounded by count as well as by age: an LRU whose entries carry their own time to live.
  const seen = new LRUCache<string, true>({ max: opts.maxSeenKeys ?? MEMORY_SEEN_KEYS_MAX });
  opts.trackSize?.('live_seen_events', () => seen.size);
  const unread = new Map<string, { value: string; asOf: number }>();
  const held = new Set<string>();
  return {
    leases: {
      async acquire(name) {
        held.add(name);
        return true;
      },
      async release(name) {
        held.delete(name);
      },
      holds: (name) => held.has(name),
      async close() {
        held.clear();
      },
    },
    async firstSeen(keys, ttlMs) {
      return keys.map((k) => {
        // `has` is false for an entry past its time to live.
        if (seen.has(k)) return false;
        seen.set(k, true, { ttl: ttlMs });
        return true;
      });
    },
    async recordUnread(sourceId, value, asOf) {
      const cur = unread.get(sourceId);
      if (!cur) {
        unread.set(sourceId, { value, asOf });
        return 'first';
      }
      if (cur.asOf > asOf) return 'stale';
      unread.set(sourceId, { value, asOf });
      return cur.value === value ? 'same' : 'changed';
    },
    now: async () => Date.now(),
    async close() {
      held.clear();
    },
  };
}

// ---- Redis ----

/** Renews only our own lease: the key still holds our token. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes only our own lease (it may have expired and been taken over). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** KEYS[1] hash {v, asOf}; ARGV: value, asOf, ttl ms. See LiveCoordination.recordUnread. */
const RECORD_UNREAD = `
local cur = redis.call('hmget', KEYS[1], 'v', 'asOf')
if not cur[1] then
  redis.call('hset', KEYS[1], 'v', ARGV[1], 'asOf', ARGV[2])
  redis.call('pexpire', KEYS[1], ARGV[3])
  return 'first'
end
if tonumber(cur[2]) > tonumber(ARGV[2]) then return 'stale' end
redis.call('hset', KEYS[1], 'v', ARGV[1], 'asOf', ARGV[2])
redis.call('pexpire', KEYS[1], ARGV[3])
if cur[1] == ARGV[1] then return 'same' end
return 'changed'`;

interface HeldLease {
  ttlMs: number;
  timer: NodeJS.Timeout;
}

export interface RedisCoordinationOptions extends MemoryCoordinationOptions {
  /**
   * Falls back to this process while Redis is down (server/redisHealth.ts; issue 12 item 2): event ids and
   * deliveries are remembered in a bounded local store (`maxSeenKeys`), poll leases are granted locally (each
   * instance polls for itself), unread totals are recorded locally and the clock is this process's. Without
   * one, a Redis failure is the caller's.
   */
  health?: RedisGuard;
}

/**
 * Coordination through Redis (keys: docs/live.md "What Redis holds"), on a client the caller owns (the gateway's
 * shared ioredis connection). While Redis is down (with `opts.health`), each instance coordinates with itself
 * only, as {@link createMemoryCoordination} does (docs/live.md "When Redis is down").
 */
export function createRedisCoordination(
  redis: Redis,
  prefix = 'switchboard:',
  opts: RedisCoordinationOptions = {},
): LiveCoordination {
  const health = opts.health ?? NO_REDIS_GUARD;
  /** What this instance knows on its own, used only while Redis is down. */
  const local = createMemoryCoordination({ maxSeenKeys: opts.maxSeenKeys, trackSize: opts.trackSize });
  /** Leases granted locally while Redis was down: given up at the next acquire once Redis is back. */
  const localHeld = new Set<string>();
  /** This instance's lease token: who holds a lease is visible with GET, and only the holder renews it. */
  const token = randomUUID();
  const held = new Map<string, HeldLease>();
  const leaseKey = (name: string) => `${prefix}live:lease:${name}`;

  const drop = (name: string) => {
    const h = held.get(name);
    if (h) clearInterval(h.timer);
    held.delete(name);
  };
  const renew = async (name: string) => {
    const h = held.get(name);
    if (!h || health.isDown()) return;
    try {
      const ok = (await redis.eval(RENEW, 1, leaseKey(name), token, String(h.ttlMs))) as number;
      if (ok !== 1 && held.get(name) === h) drop(name); // lost (expired and taken): the next acquire says so
    } catch {
      // Redis unreachable: keep trying until the key would have expired; past it, another instance may hold it.
      // The next acquire() re-checks against Redis.
    }
  };
  const hold = (name: string, ttlMs: number) => {
    drop(name);
    const timer = setInterval(() => void renew(name), Math.max(50, Math.floor(ttlMs / 3)));
    timer.unref();
    held.set(name, { ttlMs, timer });
  };

  const acquireShared = async (name: string, ttlMs: number): Promise<boolean> => {
    if (held.has(name)) {
      const ok = (await redis.eval(RENEW, 1, leaseKey(name), token, String(ttlMs))) as number;
      if (ok === 1) {
        if (held.get(name)?.ttlMs !== ttlMs) hold(name, ttlMs);
        return true;
      }
      drop(name);
    }
    const set = await redis.set(leaseKey(name), token, 'PX', ttlMs, 'NX');
    if (set === 'OK') {
      hold(name, ttlMs);
      return true;
    }
    return false;
  };

  const leases: LeaseManager = {
    async acquire(name, ttlMs) {
      return health.guard(
        () => {
          localHeld.delete(name);
          return acquireShared(name, ttlMs);
        },
        () => {
          // Redis is down: this instance cannot know who else polls, so it polls for itself.
          localHeld.add(name);
          return true;
        },
      );
    },
    async release(name) {
      localHeld.delete(name);
      if (!held.has(name)) return;
      drop(name);
      await health.guard(
        () => redis.eval(RELEASE, 1, leaseKey(name), token),
        () => 0, // the key expires on its own
      );
    },
    holds: (name) => held.has(name) || localHeld.has(name),
    async close() {
      localHeld.clear();
      const names = [...held.keys()];
      for (const n of names) drop(n);
      if (health.isDown()) return;
      await Promise.allSettled(names.map((n) => redis.eval(RELEASE, 1, leaseKey(n), token)));
    },
  };

  return {
    leases,
    firstSeen(keys, ttlMs) {
      if (keys.length === 0) return Promise.resolve([]);
      return health.guard(
        async () => {
          const m = redis.multi();
          for (const k of keys) m.set(`${prefix}live:event:${k}`, '1', 'PX', ttlMs, 'NX');
          const res = (await m.exec()) ?? [];
          return keys.map((_, i) => res[i]?.[1] === 'OK');
        },
        () => local.firstSeen(keys, ttlMs),
      );
    },
    recordUnread(sourceId, value, asOf) {
      return health.guard(
        async () =>
          (await redis.eval(
            RECORD_UNREAD,
            1,
            `${prefix}live:unread:${sourceId}`,
            value,
            String(asOf),
            String(7 * DAY_MS),
          )) as UnreadRecord,
        () => local.recordUnread(sourceId, value, asOf),
      );
    },
    now() {
      return health.guard(
        async () => {
          const [seconds, micros] = await redis.time();
          return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        },
        () => Date.now(),
      );
    },
    async close() {
      await leases.close();
      await local.close();
    },
  };
}
