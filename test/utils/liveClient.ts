import { createClient as createSseClient } from 'graphql-sse';
import { createWsClient } from './ws';

/**
 * A GraphQL subscription client over either live transport, so that one behaviour suite runs over both:
 * graphql-ws (`ws://…/graphql`, the key in `connection_init`) and GraphQL over SSE (`POST /graphql` with
 * `Accept: text/event-stream`, the key in the `Authorization` header; graphql-sse's distinct connections mode).
 * Neither client retries: a refused or lost connection is the test's to see.
 */
export type LiveTransport = 'ws' | 'sse';
export const LIVE_TRANSPORTS: readonly LiveTransport[] = ['ws', 'sse'];

/** What a test gateway exposes (test/utils/gateway.ts `TestGateway`). */
export interface LiveEndpoint {
  /** http://host:port */
  url: string;
  /** ws://host:port/graphql */
  wsUrl: string;
}

/** One GraphQL result as the transports deliver it. */
export interface LiveResult<T> {
  data?: T | null;
  errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/**
 * One subscription. Iterating it yields each value once, whichever iterator asks (`take(sub, 1)` twice gives the
 * first two values); leaving a `for await` early unsubscribes.
 */
export interface LiveSubscription<T> extends AsyncIterable<T> {
  /** Every result's data, in order. */
  readonly values: T[];
  /** Every result's errors, and a transport failure (a refused connection, a lost stream). */
  readonly errors: unknown[];
  /** True once the server completed the operation or the transport failed. */
  readonly ended: boolean;
  /** Resolves once at least `n` values arrived; rejects after `timeoutMs`, or when the subscription ends first. */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves once the subscription ended (completed or failed); rejects after `timeoutMs`. */
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Unsubscribes (graphql-ws `complete`; SSE: closes the stream). */
  dispose(): void;
}

export interface LiveClient {
  readonly transport: LiveTransport;
  /**
   * Subscribes (or runs a query or mutation: one value, then the end). Iterating yields each result's data and
   * throws at the first result with errors or at a transport failure.
   */
  subscribe<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): LiveSubscription<T>;
  /** Ends every subscription and the client's connections. */
  close(): Promise<void>;
}

interface Sink {
  next(value: LiveResult<unknown>): void;
  error(error: unknown): void;
  complete(): void;
}

/** A client of `endpoint` over `transport`, authenticated with `apiKey` (none: null). */
export function createLiveClient(
  transport: LiveTransport,
  endpoint: LiveEndpoint,
  apiKey: string | null,
  opts: { headers?: Record<string, string> } = {},
): LiveClient {
  let run: (request: { query: string; variables?: Record<string, unknown> }, sink: Sink) => () => void;
  let dispose: () => Promise<void>;
  if (transport === 'ws') {
    const ws = createWsClient(endpoint.wsUrl, apiKey);
    run = (request, sink) => ws.subscribe(request, sink as Parameters<typeof ws.subscribe>[1]);
    dispose = () => ws.dispose() as Promise<void>;
  } else {
    const sse = createSseClient({
      url: `${endpoint.url}/graphql`,
      headers: { ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }), ...opts.headers },
      retryAttempts: 0,
    });
    run = (request, sink) => sse.subscribe(request, sink as Parameters<typeof sse.subscribe>[1]);
    dispose = async () => sse.dispose();
  }
  const subscriptions = new Set<() => void>();
  return {
    transport,
    subscribe<T>(query: string, variables?: Record<string, unknown>) {
      const sub = subscription<T>((sink) => run({ query, variables }, sink));
      subscriptions.add(sub.dispose);
      return sub;
    },
    async close() {
      for (const d of subscriptions) d();
      subscriptions.clear();
      await dispose();
    },
  };
}

function subscription<T>(start: (sink: Sink) => () => void): LiveSubscription<T> {
  const values: T[] = [];
  const errors: unknown[] = [];
  /** Each delivery in order, for the iterator: a value, or an error to throw. */
  const queue: Array<{ value: T } | { error: unknown }> = [];
  let ended = false;
  /** Whoever waits for the next delivery (waitFor, the iterator). */
  const waiting = new Set<() => void>();
  const notify = () => {
    const all = [...waiting];
    waiting.clear();
    for (const w of all) w();
  };
  const stop = start({
    next(result) {
      if (result.errors?.length) {
        errors.push(result.errors);
        queue.push({ error: new Error(`errors: ${JSON.stringify(result.errors)}`) });
      }
      if (result.data) {
        values.push(result.data as T);
        queue.push({ value: result.data as T });
      }
      notify();
    },
    error(e) {
      errors.push(e);
      queue.push({ error: e });
      ended = true;
      notify();
    },
    complete() {
      ended = true;
      notify();
    },
  });
  /** How far iteration got: every iterator of the subscription continues from there. */
  let read = 0;
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    stop();
  };
  /** Waits until `done()` or the deadline, woken by every delivery. */
  const until = async (done: () => boolean, timeoutMs: number, what: () => string) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(what());
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        waiting.add(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  };
  return {
    values,
    errors,
    get ended() {
      return ended;
    },
    async waitFor(n, timeoutMs = 5000) {
      await until(
        () => values.length >= n || ended,
        timeoutMs,
        () => `expected ${n} values within ${timeoutMs} ms, got ${values.length}; errors: ${describe(errors)}`,
      );
      if (values.length < n)
        throw new Error(`the subscription ended after ${values.length} of ${n} values; errors: ${describe(errors)}`);
      return values;
    },
    async waitForEnd(timeoutMs = 5000) {
      await until(
        () => ended,
        timeoutMs,
        () => `the subscription did not end within ${timeoutMs} ms`,
      );
    },
    dispose,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          while (read < queue.length) {
            const item = queue[read++]!;
            if ('error' in item) throw item.error;
            yield item.value;
          }
          if (ended) return;
          await new Promise<void>((resolve) => waiting.add(resolve));
        }
      } finally {
        if (!ended) dispose();
      }
    },
  };
}

function describe(errors: unknown[]): string {
  return JSON.stringify(errors.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : e)));
}
