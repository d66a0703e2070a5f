import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { badInput, ErrorCode, GatewayError } from '../errors';
import type { IdempotencyStore } from '../schema/context';

/**
 * The stores of {@link IdempotencyStore} (its contract is in src/schema/context.ts, beside the mutations that use
 * it): in memory for one instance; in Redis when configured, so a retry that lands on another instance is caught.
 */
export type { IdempotencyStore };

export const IDEMPOTENCY_TTL_MS = 86_400_000;

const reused = () => badInput('This idempotencyKey was already used with different input.', 'idempotencyKey');

/**
 * How many idempotency keys the in-memory store remembers (issue 12 item 18): each for `ttlMs` (24 h), and at
 * most this many, the least recently used forgotten first (a key forgotten early acts as a new key). A result
 * is one message model, about 1 to 2 KB. With Redis, results live there and this process holds none.
 */
export const IDEMPOTENCY_MEMORY_MAX_KEYS = 10_000;

export interface MemoryIdempotencyOptions {
  /** @default {@link IDEMPOTENCY_MEMORY_MAX_KEYS} */
  maxKeys?: number;
  /** Registers the store's size for the metrics (`switchboard_memory_store_entries{store="idempotency"}`). */
  trackSize?: (store: string, size: () => number) => void;
}

export function createMemoryIdempotencyStore(
  ttlMs = IDEMPOTENCY_TTL_MS,
  opts: MemoryIdempotencyOptions = {},
): IdempotencyStore {
  // Bounded by count as well as by age; `get` is undefined for an entry past its time to live.
  const entries = new LRUCache<string, { fingerprint: string; promise: Promise<unknown> }>({
    max: opts.maxKeys ?? IDEMPOTENCY_MEMORY_MAX_KEYS,
    ttl: ttlMs,
  });
  opts.trackSize?.('idempotency', () => entries.size);
  return {
    run<T>(key: string, fingerprint: string, fn: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit) {
        if (hit.fingerprint !== fingerprint) return Promise.reject(reused());
        return hit.promise as Promise<T>;
      }
      const promise = fn();
      entries.set(key, { fingerprint, promise });
      // A failure is not a result: let the client retry with the same key.
      promise.catch(() => {
        if (entries.peek(key)?.promise === promise) entries.delete(key);
      });
      return promise;
    },
  };
}

/**
 * JSON for stored results that keeps what JSON alone loses: `Date`s come back as Dates (canonical models carry
 * them). Undefined properties are dropped, which the models read as "absent" either way.
 */
export function encodeResult(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $date: Number.isNaN(raw.getTime()) ? null : raw.toISOString() } : v;
  });
}

export function decodeResult<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && '$date' in v) {
      const d = (v as { $date: string | null }).$date;
      return d === null ? new Date(Number.NaN) : new Date(d);
    }
    return v;
  }) as T;
}

type Entry = { s: 'pending'; f: string; t: string } | { s: 'done'; f: string; r: string };

/** Deletes the key only while it still holds this exact pending marker (a failure releases only its own claim). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export interface RedisIdempotencyOptions {
  /** Key prefix (a deployment's `redis.keyPrefix`). */
  prefix: string;
  /** How long results are kept. @default 24 h */
  ttlMs?: number;
  /**
   * How long a pending claim lives if its instance dies mid-call; then another instance may run. Keep it above
   * the operation deadline. @default 60 s
   */
  leaseMs?: number;
}

/**
 * The Redis store: `SET <prefix>idem:<sha256(key)> {pending} NX PX lease` claims a key; the winner runs and
 * stores `{done, result as JSON}` for 24 h, or deletes its claim on failure. Everyone else reads the key: a
 * result is returned decoded; a pending claim is polled (with backoff) until it turns into a result, or
 * disappears (a failure, or a dead instance's lease ran out), when the next caller claims it. Concurrent
 * repeats within one instance share one promise, so they make no extra Redis round trips.
 */
export function createRedisIdempotencyStore(redis: Redis, opts: RedisIdempotencyOptions): IdempotencyStore {
  const ttlMs = opts.ttlMs ?? IDEMPOTENCY_TTL_MS;
  const leaseMs = opts.leaseMs ?? 60_000;
  const local = new Map<string, { fingerprint: string; promise: Promise<unknown> }>();
  const redisKey = (key: string) => `${opts.prefix}idem:${createHash('sha256').update(key).digest('hex')}`;

  async function resolve<T>(key: string, fingerprint: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const k = redisKey(key);
    let pollMs = 10;
    for (;;) {
      const claim = JSON.stringify({ s: 'pending', f: fingerprint, t: randomUUID() } satisfies Entry);
      if ((await redis.set(k, claim, 'PX', leaseMs, 'NX')) === 'OK') {
        let result: T;
        try {
          result = await fn();
        } catch (e) {
          await redis.eval(RELEASE, 1, k, claim).catch(() => undefined);
          throw e;
        }
        await redis.set(
          k,
          JSON.stringify({ s: 'done', f: fingerprint, r: encodeResult(result) } satisfies Entry),
          'PX',
          ttlMs,
        );
        return result;
      }
      const raw = await redis.get(k);
      if (raw === null) continue; // released or expired meanwhile: claim it
      const entry = JSON.parse(raw) as Entry;
      if (entry.f !== fingerprint) throw reused();
      if (entry.s === 'done') return decodeResult<T>(entry.r);
      await wait(pollMs, signal);
      pollMs = Math.min(250, Math.ceil(pollMs * 1.5));
    }
  }

  return {
    run<T>(key: string, fingerprint: string, fn: () => Promise<T>, runOpts: { signal?: AbortSignal } = {}): Promise<T> {
      const hit = local.get(key);
      if (hit) return hit.fingerprint === fingerprint ? (hit.promise as Promise<T>) : Promise.reject(reused());
      const promise = resolve(key, fingerprint, fn, runOpts.signal);
      local.set(key, { fingerprint, promise });
      const forget = () => {
        if (local.get(key)?.promise === promise) local.delete(key);
      };
      promise.then(forget, forget);
      return promise;
    },
  };
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () =>
      signal?.reason instanceof GatewayError
        ? signal.reason
        : new GatewayError(
            ErrorCode.LIMIT_EXCEEDED,
            'The operation ended while waiting for the first request with this idempotencyKey.',
          );
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
