import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GatewayContext } from '../schema/context';
import { payloadSourceErrors } from '../schema/resolvers/Subscription';

type MaybePromise<T> = T | Promise<T>;

/**
 * # Shared subscription execution (fan-out)
 *
 * graphql-js runs a subscription's selection set once per subscriber per event. With thousands of subscribers
 * on `unreadCountChanged`, that execution was most of the per-delivery CPU (issue 7's profile). Subscribers
 * that receive the *same* event object (the Subscription resolvers share payloads, see
 * schema/resolvers/Subscription.ts) and ask the same question get the same answer, so this `subscribe` runs
 * each distinct (event, API key, public URL, document, operation, variables) once and hands the result to every
 * such subscriber. Events that are not shared objects, or other subscribers, execute as before. The cache is a
 * WeakMap on the event object: it goes away with the event.
 *
 * Passed to graphql-ws's `useServer({ subscribe })`; behaves like graphql-js's `subscribe` otherwise (errors
 * before the stream are returned as an ExecutionResult, `return()` reaches the source stream at once).
 */
export function sharedSubscribe(): (args: ExecutionArgs) => Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const cache = new WeakMap<object, Map<string, MaybePromise<ExecutionResult>>>();
  /** One string per distinct slot (bounded: past {@link SHARED_SLOTS} it starts again; sharing only saves memory). */
  const slots = new Map<string, string>();
  /** A per-API-key prefix: viewer objects are stable per key (server/auth.ts), so a WeakMap gives each a number. */
  const viewerIds = new WeakMap<object, number>();
  let nextViewerId = 0;
  const viewerSlot = (viewer: object, key: string): string => {
    let id = viewerIds.get(viewer);
    if (id === undefined) viewerIds.set(viewer, (id = ++nextViewerId));
    return `${id}\u0000${key}`;
  };
  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream as ExecutionResult;
    const ctx = args.contextValue as Partial<GatewayContext> | undefined;
    // The viewer object is one per API key (server/auth.ts); results may depend on it and on the public URL.
    const viewer = ctx?.viewer;
    const key = viewer
      ? [
          args.document.loc?.source.body ?? '',
          args.operationName ?? '',
          JSON.stringify(args.variableValues ?? {}),
          ctx?.publicBaseUrl ?? '',
        ].join('\u0000')
      : null;
    // The subscription's slot, built once and shared by every subscription asking the same (one string object,
    // whose hash V8 keeps): not a concatenation of the document's text to hash per subscriber per event, nor a
    // copy of that text held by each subscriber.
    let slot: string | null = null;
    if (key !== null && viewer) {
      const own = viewerSlot(viewer, key);
      slot = slots.get(own) ?? own;
      if (slot === own) {
        if (slots.size >= SHARED_SLOTS) slots.clear();
        slots.set(own, own);
      }
    }
    // No closure made per event and subscriber here (a named one, under tsx, is a property dictionary each).
    return mapAsyncIterator(stream, (payload: unknown) => {
      if (slot === null || typeof payload !== 'object' || payload === null || !args.document.loc)
        return executeEvent(args, payload);
      let byKey = cache.get(payload);
      if (!byKey) cache.set(payload, (byKey = new Map()));
      let result = byKey.get(slot);
      if (!result) byKey.set(slot, (result = executeEvent(args, payload)));
      return result;
    });
  };
}

/** One event's execution for a subscription, its payload's source errors after its data. */
function executeEvent(args: ExecutionArgs, payload: unknown): MaybePromise<ExecutionResult> {
  return withSourceErrors(payload, execute({ ...args, rootValue: payload }) as MaybePromise<ExecutionResult>);
}

/**
 * A payload's source errors (schema/resolvers/Subscription.ts, issue 12 item 15) follow its data in the same
 * result, like the `unreadCount` query's partial failures (server/plugins/sourceErrors.ts).
 */
function withSourceErrors(payload: unknown, result: MaybePromise<ExecutionResult>): MaybePromise<ExecutionResult> {
  const extra = payloadSourceErrors(payload);
  if (!extra) return result;
  const add = (r: ExecutionResult): ExecutionResult => ({ ...r, errors: [...(r.errors ?? []), ...extra] });
  return result instanceof Promise ? result.then(add) : add(result);
}

/** Distinct (API key, question) slots whose string the subscriptions share. */
const SHARED_SLOTS = 1_000;

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

/**
 * graphql-js's own mapAsyncIterator (not exported): `return()` reaches the source at once. Without its awaits:
 * a shared result that is already there (every subscriber after the first, server/fanout.ts) maps in the same
 * microtask turn as the source's value, with fewer promises and turns per delivery (issue 14 fan-out).
 */
function mapAsyncIterator<T, U>(iterable: AsyncIterable<T>, fn: (value: T) => MaybePromise<U>): AsyncGenerator<U> {
  return new MappedIterator(iterable[Symbol.asyncIterator](), fn) as unknown as AsyncGenerator<U>;
}

/**
 * One per subscription, held while it is open: a class, whose methods every instance shares, rather than
 * closures made per subscription (run through tsx, a named closure carries a 256-byte property dictionary for its
 * redefined `name`: issue 14, memory per subscriber).
 */
class MappedIterator<T, U> implements AsyncIterableIterator<U> {
  /** {@link mapResult} bound once: next() runs per event and subscriber, and makes no closure. */
  private readonly mapped = this.mapResult.bind(this);

  constructor(
    private readonly iterator: AsyncIterator<T>,
    private readonly fn: (value: T) => MaybePromise<U>,
  ) {}

  next(): Promise<IteratorResult<U>> {
    return this.iterator.next().then(this.mapped);
  }

  async return(): Promise<IteratorResult<U>> {
    return typeof this.iterator.return === 'function'
      ? this.mapResult(await this.iterator.return())
      : { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<U>> {
    if (typeof this.iterator.throw === 'function') return this.mapResult(await this.iterator.throw(error));
    throw error;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<U> {
    return this;
  }

  private mapResult(result: IteratorResult<T>): MaybePromise<IteratorResult<U>> {
    if (result.done) return result;
    let value: MaybePromise<U>;
    try {
      value = this.fn(result.value);
    } catch (error) {
      return this.abrupt(error);
    }
    if (value instanceof Promise)
      return value.then(
        (v) => ({ value: v, done: false }),
        (error: unknown) => this.abrupt(error),
      );
    return { value, done: false };
  }

  private async abrupt(error: unknown): Promise<IteratorResult<U>> {
    if (typeof this.iterator.return === 'function') {
      try {
        await this.iterator.return();
      } catch {
        // the mapping error wins
      }
    }
    throw error;
  }
}
