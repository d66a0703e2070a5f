import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  InMemoryLRUCache,
  PrefixingKeyValueCache,
  type KeyValueCache,
  type KeyValueCacheSetOptions,
} from '@apollo/utils.keyvaluecache';
import type { Redis } from 'ioredis';
import { NO_REDIS_GUARD, type RedisGuard } from '../connectors/catalog-stores/redis';

/**
 * Persisted operations.
 * - Automatic persisted queries (Apollo's APQ protocol) are always on; with Redis their cache is shared, so a
 *   query registered through one instance is found by every other one.
 * - Safelist mode (`server.persistedQueries.safelist`): only the operations of a manifest run, either sent by
 *   hash alone (`extensions.persistedQuery.sha256Hash`) or in full; anything else is refused with
 *   PERSISTED_QUERY_NOT_FOUND before it is parsed.
 */

export const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * Apollo's KeyValueCache over ioredis (APQ). Apollo prefixes its keys with `apq:`; this adds the deployment's prefix.
 * While Redis is down (`health`, server/redisHealth.ts; issue 12 item 2) it reads and writes `fallback`, this
 * process's bounded in-memory cache: a hash registered during the outage is known here only, and one registered
 * before it is unknown here until Redis returns, so the client gets APQ's PERSISTED_QUERY_NOT_FOUND and sends the
 * query again (the protocol's own retry: no operation fails). A safelist never touches Redis.
 */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Seconds, when the caller gives no ttl. */
    private readonly defaultTtl = 86_400,
    private readonly health: RedisGuard = NO_REDIS_GUARD,
    private readonly fallback: KeyValueCache<string> = createMemoryPersistedQueryCache(),
  ) {}

  async get(key: string): Promise<string | undefined> {
    return this.health.guard(
      async () => (await this.redis.get(this.prefix + key)) ?? undefined,
      () => this.fallback.get(key),
    );
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl === undefined ? this.defaultTtl : options.ttl;
    await this.health.guard(
      async () => {
        if (ttl === null || ttl <= 0) await this.redis.set(this.prefix + key, value);
        else await this.redis.set(this.prefix + key, value, 'EX', Math.ceil(ttl));
      },
      () => this.fallback.set(key, value, options),
    );
  }

  async delete(key: string): Promise<boolean> {
    return this.health.guard(
      async () => (await this.redis.del(this.prefix + key)) > 0,
      async () => (await this.fallback.delete(key)) === true,
    );
  }
}

/** The registered operations: sha256 hex of the exact query text → the query. */
export class Safelist {
  private constructor(private readonly byHash: ReadonlyMap<string, string>) {}

  /** Reads and checks a manifest `{ "<sha256>": "<query>" }`; every hash must be the query's. */
  static load(path: string): Safelist {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`server.persistedQueries.safelist: cannot read ${path} as JSON: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new Error(`server.persistedQueries.safelist: ${path} must be a JSON object { "<sha256 hex>": "<query>" }.`);
    }
    const byHash = new Map<string, string>();
    for (const [hash, query] of Object.entries(raw)) {
      if (typeof query !== 'string' || sha256Hex(query) !== hash.toLowerCase()) {
        throw new Error(
          `server.persistedQueries.safelist: in ${path}, "${hash.slice(0, 70)}" is not the sha256 of its query.`,
        );
      }
      byHash.set(hash.toLowerCase(), query);
    }
    return new Safelist(byHash);
  }

  get size(): number {
    return this.byHash.size;
  }

  lookup(hash: string): string | undefined {
    return this.byHash.get(hash.toLowerCase());
  }

  allows(query: string): boolean {
    return this.byHash.has(sha256Hex(query));
  }

  /** The APQ cache in safelist mode: finds registered operations by hash, and never registers new ones. */
  asCache(): KeyValueCache<string> {
    return PrefixingKeyValueCache.cacheDangerouslyDoesNotNeedPrefixesForIsolation({
      get: async (hash: string) => this.lookup(hash),
      set: async () => undefined,
      delete: async () => false,
    });
  }

  static refusal(query: string): { message: string; extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } } {
    return {
      message: `Only registered operations are accepted (safelist mode); this operation (sha256 ${sha256Hex(query)}) is not registered.`,
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    };
  }
}

/** Where Apollo keeps an automatic persisted query in its cache: `apq:<sha256 hex>` (Apollo's APQ_CACHE_PREFIX). */
export const APQ_KEY_PREFIX = 'apq:';

/** The verdict on one more registration by a key. */
export type RegistrationVerdict = { ok: true } | { ok: false; count: number; retryAfterSeconds: number };

/**
 * Counts new automatic persisted-query registrations per API key in fixed windows (issue 12 item 5): at most
 * `max` per `windowMs`. With Redis the count is shared by every instance (`<prefix>apqreg:<key hash>:<window>`,
 * expiring with its window); while Redis fails or is known down (`health`), each instance counts on its own.
 */
export class RegistrationCounter {
  private readonly local = new Map<string, { window: number; count: number }>();

  constructor(
    private readonly opts: { max: number; windowMs: number; redis?: Redis; prefix?: string; health?: RedisGuard },
    private readonly now: () => number = Date.now,
  ) {}

  get max(): number {
    return this.opts.max;
  }

  get windowMs(): number {
    return this.opts.windowMs;
  }

  /** Counts one registration by `keyId` (the key's hash) and says whether it is allowed. */
  async take(keyId: string): Promise<RegistrationVerdict> {
    const now = this.now();
    const window = Math.floor(now / this.opts.windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * this.opts.windowMs - now) / 1000));
    const local = () => this.counted(keyId, window);
    let count: number;
    try {
      count = this.opts.redis
        ? await (this.opts.health ?? NO_REDIS_GUARD).guard(() => this.shared(keyId, window), local)
        : local();
    } catch {
      count = local();
    }
    return count <= this.opts.max ? { ok: true } : { ok: false, count, retryAfterSeconds };
  }

  private async shared(keyId: string, window: number): Promise<number> {
    const key = `${this.opts.prefix ?? ''}apqreg:${keyId}:${window}`;
    const replies = await this.opts.redis!.multi().incr(key).pexpire(key, this.opts.windowMs).exec();
    const count = replies?.[0]?.[1];
    if (typeof count !== 'number') throw new Error('no count from Redis');
    return count;
  }

  private counted(keyId: string, window: number): number {
    const entry = this.local.get(keyId);
    if (!entry || entry.window !== window) {
      this.local.set(keyId, { window, count: 1 });
      return 1;
    }
    return ++entry.count;
  }
}

/**
 * The in-memory persisted-query cache (no Redis), bounded by count and by size (issue 12 item 18): at most
 * `maxQueries` (default {@link PERSISTED_MEMORY_MAX_QUERIES}) and Apollo's 30 MiB of query text, each for its
 * time to live (24 h); the least recently used go first (a client whose hash was forgotten sends the query again:
 * APQ's PERSISTED_QUERY_NOT_FOUND round trip). Its size is `switchboard_memory_store_entries{store="persisted_queries"}`.
 */
export const PERSISTED_MEMORY_MAX_QUERIES = 10_000;

export function createMemoryPersistedQueryCache(
  opts: { maxQueries?: number; trackSize?: (store: string, size: () => number) => void } = {},
): KeyValueCache<string> {
  const cache = new InMemoryLRUCache<string>({ max: opts.maxQueries ?? PERSISTED_MEMORY_MAX_QUERIES });
  opts.trackSize?.('persisted_queries', () => cache.keys().length);
  return cache;
}
