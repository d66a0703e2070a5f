/**
 * A push-driven AsyncIterableIterator: producers `push`, the consumer iterates; `return()` (the client went
 * away) runs `onClose` once. Used by subscription resolvers to bridge the live engine's callbacks.
 */
export function createPushIterator<T>(onClose: () => void | Promise<void>): {
  push(value: T): void;
  fail(error: unknown): void;
  iterator: AsyncIterableIterator<T>;
} {
  const values: T[] = [];
  const waiters: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  let done = false;
  let error: unknown = null;
  const close = async () => {
    if (done) return;
    done = true;
    for (const w of waiters.splice(0)) w.resolve({ value: undefined, done: true });
    await onClose();
  };
  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (error) {
        const e = error;
        error = null;
        void close();
        return Promise.reject(e);
      }
      if (values.length > 0) return Promise.resolve({ value: values.shift() as T, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async return() {
      await close();
      return { value: undefined, done: true };
    },
    async throw(e) {
      await close();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return {
    push(value) {
      if (done) return;
      const w = waiters.shift();
      if (w) w.resolve({ value, done: false });
      else values.push(value);
    },
    fail(e) {
      if (done) return;
      const w = waiters.shift();
      if (w) {
        w.reject(e);
        void close();
      } else error = e;
    },
    iterator,
  };
}
