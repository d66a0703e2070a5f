import type { BatchLoadFn } from 'dataloader';
import { ErrorCode, GatewayError } from '../errors';

/**
 * # Per-key batches
 *
 * No vendor has a batch read by ids, so every DataLoader batch function of a connector is "one request per
 * distinct key". This module is the one place that turns such a request into a DataLoader value:
 * - every key settles on its own: a key whose request fails (403, 5xx, timeout, a decode error) gets its own
 *   Error, and its batch-mates still get their values;
 * - a vendor "not found" (NOT_FOUND) is the value `null`, which the contract gives as "does not exist".
 */
export interface SettleOptions {
  /** Requests of one batch in flight at most (vendors that rate-limit). @default all at once */
  concurrency?: number;
  /** `'error'` keeps NOT_FOUND as that key's error (a read whose caller must tell "missing" apart). @default 'null' */
  notFound?: 'null' | 'error';
}

/** True for the vendor "not found" a connector turns into null. */
export function isNotFound(e: unknown): boolean {
  return e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND;
}

/** `p`, or null when it fails with NOT_FOUND; any other failure is rethrown. */
export async function nullIfNotFound<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Loads every key with `loadOne` and returns, in key order, each key's value, null (NOT_FOUND) or Error. Never
 * rejects, so one key's failure stays that key's.
 */
export function settleEach<K, V>(
  keys: readonly K[],
  loadOne: (key: K) => Promise<V>,
  opts: SettleOptions & { notFound: 'error' },
): Promise<Array<V | Error>>;
export function settleEach<K, V>(
  keys: readonly K[],
  loadOne: (key: K) => Promise<V>,
  opts?: SettleOptions,
): Promise<Array<V | null | Error>>;
export async function settleEach<K, V>(
  keys: readonly K[],
  loadOne: (key: K) => Promise<V>,
  opts: SettleOptions = {},
): Promise<Array<V | null | Error>> {
  const out = new Array<V | null | Error>(keys.length);
  const one = async (i: number) => {
    try {
      out[i] = await loadOne(keys[i] as K);
    } catch (e) {
      out[i] = opts.notFound !== 'error' && isNotFound(e) ? null : asError(e);
    }
  };
  const limit = Math.max(1, Math.min(opts.concurrency ?? keys.length, keys.length));
  let next = 0;
  const worker = async () => {
    while (next < keys.length) await one(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

/** {@link settleEach} as a DataLoader batch function: `new DataLoader(perKey((id) => client.get(scope, id)))`. */
export function perKey<K, V>(
  loadOne: (key: K) => Promise<V>,
  opts: SettleOptions & { notFound: 'error' },
): BatchLoadFn<K, V>;
export function perKey<K, V>(loadOne: (key: K) => Promise<V>, opts?: SettleOptions): BatchLoadFn<K, V | null>;
export function perKey<K, V>(loadOne: (key: K) => Promise<V>, opts: SettleOptions = {}): BatchLoadFn<K, V | null> {
  return (keys) => settleEach(keys, loadOne, opts);
}
