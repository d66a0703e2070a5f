/**
 * A push-driven AsyncIterableIterator: producers `push`, the consumer iterates; `return()` (the client went
 * away) runs `onClose` once. Used by subscription resolvers to bridge the live engine's callbacks.
 */
export function createPushIterator<T>(onClose: () => void | Promise<void>): {
  push(value: T): void;
  fail(error: unknown): void;
  iterator: AsyncIterableIterator<T>;
} {
  return new PushIterator<T>(onClose);
}

interface Waiter<T> {
  resolve: (r: IteratorResult<T>) => void;
  reject: (e: unknown) => void;
}

/**
 * One per subscription, held for as long as it is open: a class, so its methods are shared by every instance
 * (closures made per subscription, run through tsx, each carry a 256-byte property dictionary for their
 * redefined `name`: issue 14, memory per subscriber). Call `push` and `fail` on it (they are methods).
 */
class PushIterator<T> implements AsyncIterableIterator<T> {
  private readonly values: T[] = [];
  private readonly waiters: Array<Waiter<T>> = [];
  private done = false;
  private error: unknown = null;

  constructor(private readonly onClose: () => void | Promise<void>) {}

  get iterator(): AsyncIterableIterator<T> {
    return this;
  }

  push(value: T): void {
    if (this.done) return;
    const w = this.waiters.shift();
    if (w) w.resolve({ value, done: false });
    else this.values.push(value);
  }

  fail(e: unknown): void {
    if (this.done) return;
    const w = this.waiters.shift();
    if (w) {
      w.reject(e);
      void this.close();
    } else this.error = e;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.error) {
      const e = this.error;
      this.error = null;
      void this.close();
      return Promise.reject(e);
    }
    if (this.values.length > 0) return Promise.resolve({ value: this.values.shift() as T, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async throw(e?: unknown): Promise<IteratorResult<T>> {
    await this.close();
    throw e;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    await this.onClose();
  }
}
