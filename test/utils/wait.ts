/**
 * Waiting in tests: for a condition ({@link waitFor}, {@link eventually}), for a moment ({@link sleep}), for a
 * promise the test settles itself ({@link deferred}), and for the values of an async iterable ({@link take},
 * {@link collect}). Every wait has a deadline and says what it waited for when it gives up; none asserts a timing.
 */

export interface WaitOptions {
  /** Give up after this long. @default 5000 */
  timeoutMs?: number;
  /** Check again after this long. @default 10 */
  everyMs?: number;
  /** What is awaited, for the timeout's message. */
  what?: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Not yet: what a probe returns while the awaited state has not come. */
type Pending = false | null | undefined;

/**
 * Calls `probe` until it returns something other than false, null or undefined, and resolves with that. A probe
 * that throws counts as not yet. After `timeoutMs` it rejects naming `what`, with the probe's last error as cause.
 */
export async function waitFor<T>(
  probe: () => T | Pending | Promise<T | Pending>,
  opts: WaitOptions = {},
): Promise<Exclude<T, Pending>> {
  return poll(probe, (v) => v !== false && v !== null && v !== undefined, opts) as Promise<Exclude<T, Pending>>;
}

/**
 * Calls `check` until it stops throwing (and does not return false), and resolves with what it returned. For
 * checks written with `expect`: on timeout the last assertion error is rethrown as it is, so the report shows
 * the expected and received values.
 */
export async function eventually<T>(check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false>> {
  return poll(check, (v) => v !== false, { ...opts, rethrow: true }) as Promise<Exclude<T, false>>;
}

async function poll<T>(
  probe: () => T | Promise<T>,
  done: (v: T) => boolean,
  { timeoutMs = 5000, everyMs = 10, what = 'a condition', rethrow = false }: WaitOptions & { rethrow?: boolean },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    let failed = false;
    try {
      const v = await probe();
      if (done(v)) return v;
      last = undefined;
    } catch (e) {
      failed = true;
      last = e;
    }
    if (Date.now() >= deadline) {
      if (failed && rethrow) throw last;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (failed ? `; last error: ${last instanceof Error ? last.message : String(last)}` : ''),
        failed ? { cause: last } : undefined,
      );
    }
    await sleep(everyMs);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  /** True once resolve or reject was called. */
  readonly settled: boolean;
}

/** A promise with its resolve and reject in hand: to hold a fake upstream, a sync or a lock until the test says so. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    promise,
    resolve(value) {
      settled = true;
      resolve(value);
    },
    reject(error) {
      settled = true;
      reject(error);
    },
    get settled() {
      return settled;
    },
  };
}

/**
 * The next `n` values of an async iterator (a subscription, a push queue). Rejects when the iterator ends first, or
 * when `timeoutMs` passes, saying how many came. The iterator stays open: the test returns it.
 */
export async function take<T>(
  source: AsyncIterable<T> | AsyncIterator<T>,
  n: number,
  { timeoutMs = 5000 }: { timeoutMs?: number } = {},
): Promise<T[]> {
  const it = Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : source;
  const got: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`expected ${n} values within ${timeoutMs} ms, got ${got.length}`)),
      timeoutMs,
    );
  });
  try {
    while (got.length < n) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error(`expected ${n} values, but the iterator ended after ${got.length}`);
      got.push(r.value);
    }
    return got;
  } finally {
    clearTimeout(timer);
  }
}

/** Every value of an async iterable until it ends (rejects after `timeoutMs`, saying how many came). */
export async function collect<T>(
  source: AsyncIterable<T>,
  { timeoutMs = 5000 }: { timeoutMs?: number } = {},
): Promise<T[]> {
  const it = source[Symbol.asyncIterator]();
  const got: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the iterable did not end within ${timeoutMs} ms (${got.length} values so far)`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) return got;
      got.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
}
