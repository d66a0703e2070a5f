/**
 * Redis for the suites that run a backend both in memory and in Redis. The URL is the one jest's globalSetup
 * (redis-global-setup.ts) exported: the Redis at REDIS_URL when it answers, else the throwaway redis-server it
 * started. Every test takes a key prefix of its own ({@link randomPrefix}), so runs and tests sharing one Redis never
 * see each other's keys.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_URL } from './redis-global-setup';

/** The Redis the suites use: REDIS_URL (set by globalSetup), else the default local one. */
export function redisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

/** {@link redisUrl} when the test file loads (globalSetup has run by then). */
export const REDIS_URL = redisUrl();

/** A key prefix of its own, e.g. `test-catalog-4242-1a2b3c4d:`. */
export const randomPrefix = (tag = 'test'): string => `test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}:`;

/** The two places a shared backend can live; suites run over both with `describe.each(BACKENDS)`. */
export type Backend = 'in memory' | 'Redis';
export const BACKENDS: readonly Backend[] = ['in memory', 'Redis'];

/**
 * Redis clients a suite opens, closed together: `const redis = redisClients(); afterEach(() => redis.closeAll())`.
 * `open()` fails a command after one retry instead of queueing it forever when Redis is gone.
 */
export function redisClients() {
  const open: Redis[] = [];
  return {
    open(): Redis {
      const client = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
      open.push(client);
      return client;
    },
    /** Deletes every key under `prefix` (through a client of its own) and closes every client opened. */
    async closeAll(prefix?: string): Promise<void> {
      if (prefix) {
        const admin = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
        try {
          await deleteKeys(admin, prefix);
        } finally {
          await admin.quit();
        }
      }
      await Promise.allSettled(open.splice(0).map((c) => c.quit()));
    },
  };
}

/** Deletes every key that starts with `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteKeys needs a prefix (it never empties a whole Redis)');
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
