import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { badInput, ErrorCode, GatewayError } from '../errors';
import type { AmbiguousAttempts, IdempotencyRunOptions, IdempotencyStore } from '../schema/context';

/**
 * The stores of {@link IdempotencyStore} (its contract is in src/schema/context.ts, beside the mutations that use
 * it): in memory for one instance; in Redis when configured, so a retry that lands on another instance is caught.
 */
export type { IdempotencyStore };

export const IDEMPOTENCY_TTL_MS = 86_400_000;

const reused = () => badInput('This idempotencyKey was already used with different input.', 'idempotencyKey');

/** Seconds a client is told to wait when Redis cannot be reached (ioredis reconnects within about 2 s). */
const UNAVAILABLE_RETRY_AFTER_S = 5;

/**
 * While Redis is unreachable an idempotent mutation is refused, not run on a local store (README "Idempotent
 * mutations"): a key only this process remembered would not protect a retry that lands on another instance, or on
 * this one after Redis returns, and the caller asked for exactly once. Nothing was sent.
 */
export const idempotencyUnavailable = (cause?: unknown) =>
  new GatewayError(
    ErrorCode.IDEMPOTENCY_UNAVAILABLE,
    'The idempotencyKey cannot be checked right now (the gateway cannot reach its shared store); nothing was sent. Retry with the same idempotencyKey.',
    { retryable: true, retryAfter: UNAVAILABLE_RETRY_AFTER_S },
    cause,
  );

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown; hold: AmbiguousAttempts | null };

/**
 * Takes a result for a key ({@link IdempotencyRunOptions.resultId}): true when it is free or already this key's,
 * false when another key has it.
 */
type TakeResult = (resultId: string) => Promise<boolean>;

/**
 * One attempt under a claimed key. A key held as ambiguous is first looked up at the source (`recover`); the first
 * candidate no other key has is the result. Otherwise `fn` runs, and its result is taken for the key. A failure
 * says what the key becomes: still held (a failed lookup keeps the old attempts; an ambiguous failure of `fn` adds
 * this one), or released (`fn` failed and the source certainly did not act; an earlier ambiguous attempt was
 * looked for and is not there).
 */
async function attempt<T>(
  fn: () => Promise<T>,
  opts: IdempotencyRunOptions<T>,
  held: AmbiguousAttempts | undefined,
  take: TakeResult,
): Promise<Outcome<T>> {
  const startedAt = Date.now();
  if (held && opts.recover) {
    try {
      for (const candidate of await opts.recover(held)) {
        if (!opts.resultId || (await take(opts.resultId(candidate)))) return { ok: true, value: candidate };
      }
    } catch (error) {
      return { ok: false, error, hold: held };
    }
  }
  try {
    const value = await fn();
    // Recorded so that no other key's lookup takes it; a store that cannot record it still answers.
    if (opts.resultId) await take(opts.resultId(value)).catch(() => undefined);
    return { ok: true, value };
  } catch (error) {
    const ambiguous = opts.ambiguous?.(error) ?? false;
    return {
      ok: false,
      error,
      hold: ambiguous ? { firstStartedAt: held?.firstStartedAt ?? startedAt, lastFailedAt: Date.now() } : null,
    };
  }
}

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
  // Bounded by count as well as by age; `get` is undefined for an entry past its time to live. An entry is a
  // call in flight or done (`promise`), or a key held after an ambiguous failure (`held`).
  type Entry = { fingerprint: string; promise: Promise<unknown> } | { fingerprint: string; held: AmbiguousAttempts };
  const entries = new LRUCache<string, Entry>({
    max: opts.maxKeys ?? IDEMPOTENCY_MEMORY_MAX_KEYS,
    ttl: ttlMs,
  });
  /** Which key each recorded result belongs to (`resultId` → key), as long and as many as the keys. */
  const owners = new LRUCache<string, string>({ max: opts.maxKeys ?? IDEMPOTENCY_MEMORY_MAX_KEYS, ttl: ttlMs });
  const taker =
    (key: string): TakeResult =>
    async (resultId) => {
      const owner = owners.get(resultId);
      if (owner === undefined) owners.set(resultId, key);
      return owner === undefined || owner === key;
    };
  opts.trackSize?.('idempotency', () => entries.size);
  return {
    run<T>(key: string, fingerprint: string, fn: () => Promise<T>, runOpts: IdempotencyRunOptions<T> = {}): Promise<T> {
      const hit = entries.get(key);
      if (hit && hit.fingerprint !== fingerprint) return Promise.reject(reused());
      if (hit && 'promise' in hit) return hit.promise as Promise<T>;
      const outcome = attempt(fn, runOpts, hit?.held, taker(key));
      const promise: Promise<T> = outcome.then((o) => {
        if (o.ok) return o.value;
        // A failure is not a result: the key is released for a retry, or held for a retry that looks first.
        const current = entries.peek(key);
        if (current && 'promise' in current && current.promise === promise) {
          if (o.hold) entries.set(key, { fingerprint, held: o.hold });
          else entries.delete(key);
        }
        throw o.error;
      });
      entries.set(key, { fingerprint, promise });
      promise.catch(() => undefined);
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

/** A claim (`pending`), a result (`done`), or a key held after an ambiguous failure (`held`: the attempts' times). */
type Entry =
  | { s: 'pending'; f: string; t: string }
  | { s: 'done'; f: string; r: string }
  | { s: 'held'; f: string; a: number; b: number };

/** Deletes the key only while it still holds this exact pending marker (a failure releases only its own claim). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
/** Replaces the key's value only while it is still exactly ARGV[1] (a held key is claimed by one caller). */
const REPLACE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;

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
  /**
   * Whether Redis is known to be down (server/redisHealth.ts): then a call is refused at once, without waiting
   * for ioredis to give up on a command. Without it, the command's own failure refuses the call.
   */
  health?: { isDown(): boolean };
}

/**
 * The Redis store: `SET <prefix>idem:<sha256(key)> {pending} NX PX lease` claims a key; the winner runs and
 * stores `{done, result as JSON}` for 24 h, or on failure deletes its claim, or (an ambiguous failure) replaces
 * it with `{held, attempts' times}` for 24 h. Everyone else reads the key: a result is returned decoded; a held key
 * is claimed by replacing exactly that value (so one caller looks it up at the source); a pending claim is polled
 * (with backoff) until it turns into a result, or disappears (a failure, or a dead instance's lease ran out), when
 * the next caller claims it. Concurrent repeats within one instance share one promise, so they make no extra Redis
 * round trips.
 *
 * While Redis cannot be reached, a call is refused with IDEMPOTENCY_UNAVAILABLE before anything is sent
 * ({@link idempotencyUnavailable}). When Redis fails after the call ran, the caller still gets its result, and
 * this instance keeps it (in {@link IDEMPOTENCY_MEMORY_MAX_KEYS} at most) for repeats that reach it.
 */
export function createRedisIdempotencyStore(redis: Redis, opts: RedisIdempotencyOptions): IdempotencyStore {
  const ttlMs = opts.ttlMs ?? IDEMPOTENCY_TTL_MS;
  const leaseMs = opts.leaseMs ?? 60_000;
  const local = new Map<string, { fingerprint: string; promise: Promise<unknown> }>();
  /** Results this instance could not store in Redis (it failed right after the call): kept here instead. */
  const unstored = new LRUCache<string, { fingerprint: string; result: unknown }>({
    max: IDEMPOTENCY_MEMORY_MAX_KEYS,
    ttl: ttlMs,
  });
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const redisKey = (key: string) => `${opts.prefix}idem:${sha(key)}`;
  /** `SET <prefix>idem-result:<sha256(resultId)> <sha256(key)> NX`, or already this key's. */
  const taker =
    (key: string): TakeResult =>
    async (resultId) => {
      const k = `${opts.prefix}idem-result:${sha(resultId)}`;
      const owner = sha(key);
      try {
        if ((await redis.set(k, owner, 'PX', ttlMs, 'NX')) === 'OK') return true;
        return (await redis.get(k)) === owner;
      } catch (e) {
        throw idempotencyUnavailable(e);
      }
    };
  /** A Redis command before the call: its failure refuses the call (nothing sent). */
  const before = async <R>(command: () => Promise<R>): Promise<R> => {
    if (opts.health?.isDown()) throw idempotencyUnavailable();
    try {
      return await command();
    } catch (e) {
      throw idempotencyUnavailable(e);
    }
  };

  async function resolve<T>(
    key: string,
    fingerprint: string,
    fn: () => Promise<T>,
    runOpts: IdempotencyRunOptions<T>,
  ): Promise<T> {
    const k = redisKey(key);
    let pollMs = 10;
    for (;;) {
      const claim = JSON.stringify({ s: 'pending', f: fingerprint, t: randomUUID() } satisfies Entry);
      let held: AmbiguousAttempts | undefined;
      if ((await before(() => redis.set(k, claim, 'PX', leaseMs, 'NX'))) !== 'OK') {
        const raw = await before(() => redis.get(k));
        if (raw === null) continue; // released or expired meanwhile: claim it
        const entry = JSON.parse(raw) as Entry;
        if (entry.f !== fingerprint) throw reused();
        if (entry.s === 'done') return decodeResult<T>(entry.r);
        if (entry.s === 'pending') {
          await wait(pollMs, runOpts.signal);
          pollMs = Math.min(250, Math.ceil(pollMs * 1.5));
          continue;
        }
        // Held after an ambiguous failure: claim exactly this value (another caller may be claiming it too).
        if (Number(await before(() => redis.eval(REPLACE, 1, k, raw, claim, leaseMs))) !== 1) continue;
        held = { firstStartedAt: entry.a, lastFailedAt: entry.b };
      }
      const o = await attempt(fn, runOpts, held, taker(key));
      if (!o.ok) {
        const next = o.hold
          ? redis.eval(
              REPLACE,
              1,
              k,
              claim,
              JSON.stringify({
                s: 'held',
                f: fingerprint,
                a: o.hold.firstStartedAt,
                b: o.hold.lastFailedAt,
              } satisfies Entry),
              ttlMs,
            )
          : redis.eval(RELEASE, 1, k, claim);
        await next.catch(() => undefined); // unreachable: the claim's lease runs out instead
        throw o.error;
      }
      try {
        await redis.set(
          k,
          JSON.stringify({ s: 'done', f: fingerprint, r: encodeResult(o.value) } satisfies Entry),
          'PX',
          ttlMs,
        );
      } catch {
        unstored.set(key, { fingerprint, result: o.value });
      }
      return o.value;
    }
  }

  return {
    run<T>(key: string, fingerprint: string, fn: () => Promise<T>, runOpts: IdempotencyRunOptions<T> = {}): Promise<T> {
      const kept = unstored.get(key);
      if (kept) return kept.fingerprint === fingerprint ? Promise.resolve(kept.result as T) : Promise.reject(reused());
      const hit = local.get(key);
      if (hit) return hit.fingerprint === fingerprint ? (hit.promise as Promise<T>) : Promise.reject(reused());
      const promise = resolve(key, fingerprint, fn, runOpts);
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
