import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client that authenticates like apps do (authorization in connection_init). */
export function createWsClient(
  url: string,
  apiKey: string | null,
  opts: { onClose?: (code: number, reason: string) => void } = {},
): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
    on: {
      closed: (e) => {
        const ev = e as { code?: number; reason?: string };
        opts.onClose?.(ev.code ?? 0, ev.reason ?? '');
      },
    },
  });
}

/**
 * Subscribes and collects values; `next(n)` waits until n values arrived (or fails after `timeoutMs`).
 */
export function subscribe<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
) {
  const values: T[] = [];
  const errors: unknown[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (values.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) errors.push(v.errors);
        if (v.data) values.push(v.data as T);
        check();
      },
      error: (e) => errors.push(e),
      complete: () => {},
    },
  );
  return {
    values,
    errors,
    dispose,
    /** Resolves once at least `n` values arrived. */
    async waitFor(n: number, timeoutMs = 5000): Promise<T[]> {
      if (values.length >= n) return values;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(
                `expected ${n} subscription values within ${timeoutMs} ms, got ${values.length}; errors: ${JSON.stringify(errors)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
      return values;
    },
  };
}
