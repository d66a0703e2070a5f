import { badInput } from '../errors';

/**
 * Idempotent mutations: the first call with a key runs, every repeat (concurrent or later, for 24 hours)
 * gets the same result. In memory here; issue 6 adds a Redis store for several instances.
 */
export interface IdempotencyStore {
  /** `fingerprint` identifies the input; a repeat of the key with another fingerprint is refused. */
  run<T>(key: string, fingerprint: string, fn: () => Promise<T>): Promise<T>;
}

export function createMemoryIdempotencyStore(ttlMs = 86_400_000): IdempotencyStore {
  const entries = new Map<string, { at: number; fingerprint: string; promise: Promise<unknown> }>();
  return {
    run<T>(key: string, fingerprint: string, fn: () => Promise<T>): Promise<T> {
      const now = Date.now();
      const hit = entries.get(key);
      if (hit && now - hit.at < ttlMs) {
        if (hit.fingerprint !== fingerprint) {
          return Promise.reject(badInput('This idempotencyKey was already used with different input.', 'idempotencyKey'));
        }
        return hit.promise as Promise<T>;
      }
      const promise = fn();
      entries.set(key, { at: now, fingerprint, promise });
      // A failure is not a result: let the client retry with the same key.
      promise.catch(() => {
        if (entries.get(key)?.promise === promise) entries.delete(key);
      });
      if (entries.size > 50_000) for (const [k, v] of entries) if (now - v.at >= ttlMs) entries.delete(k);
      return promise;
    },
  };
}
