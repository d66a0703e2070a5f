import { buildSchema, parse, type ExecutionResult } from 'graphql';
import { createPushIterator } from '../../src/live/queue';
import { sharedSubscribe } from '../../src/server/fanout';

/**
 * server/fanout.ts: subscribers that receive the same event object and ask the same question share one
 * execution; anything else executes on its own, and unsubscribing reaches the source stream at once.
 */
const schema = buildSchema(`
  type Query { ok: Boolean }
  type Count { total: Int, label(prefix: String): String }
  type Subscription { counted: Count }
`);

function setup() {
  let executions = 0;
  const streams: Array<ReturnType<typeof createPushIterator<{ counted: { total: number } }>>> = [];
  const closed: number[] = [];
  const Count = {
    total: (c: { total: number }) => {
      executions++;
      return c.total;
    },
    label: (c: { total: number }, args: { prefix?: string }) => `${args.prefix ?? ''}${c.total}`,
  };
  const countType = schema.getType('Count') as unknown as { getFields(): Record<string, { resolve?: unknown }> };
  countType.getFields().total!.resolve = Count.total;
  countType.getFields().label!.resolve = Count.label;
  const subscriptionType = schema.getSubscriptionType() as unknown as {
    getFields(): Record<string, { subscribe?: unknown }>;
  };
  subscriptionType.getFields().counted!.subscribe = () => {
    const n = streams.length;
    const q = createPushIterator<{ counted: { total: number } }>(() => {
      closed.push(n);
    });
    streams.push(q);
    return q.iterator;
  };
  return { streams, closed, executions: () => executions };
}

const viewerA = { keyName: 'a', sourceIds: new Set<string>() };
const viewerB = { keyName: 'b', sourceIds: new Set<string>() };
const subscribe = sharedSubscribe();

async function open(query: string, viewer: object, variables?: Record<string, unknown>) {
  const r = await subscribe({
    schema,
    document: parse(query),
    contextValue: { viewer, publicBaseUrl: 'http://x' },
    variableValues: variables,
  });
  if (!(Symbol.asyncIterator in r)) throw new Error(JSON.stringify(r));
  return r as AsyncGenerator<ExecutionResult>;
}

describe('sharedSubscribe', () => {
  it('executes a shared event once per distinct question and API key', async () => {
    const s = setup();
    const Q = 'subscription { counted { total } }';
    const subs = [await open(Q, viewerA), await open(Q, viewerA), await open(Q, viewerA), await open(Q, viewerB)];
    const other = await open('subscription($p: String) { counted { total label(prefix: $p) } }', viewerA, { p: '#' });
    const event = { counted: { total: 7 } };
    for (const q of s.streams) q.push(event);
    const results = await Promise.all([...subs, other].map((it) => it.next()));
    expect(results.slice(0, 4).map((r) => r.value)).toEqual(Array(4).fill({ data: { counted: { total: 7 } } }));
    expect(results[4]!.value).toEqual({ data: { counted: { total: 7, label: '#7' } } });
    // Viewer A's three identical subscriptions share one execution; viewer B and the other query run their own.
    expect(s.executions()).toBe(3);
    await Promise.all([...subs, other].map((it) => it.return(undefined)));
  });

  it('executes events that are not shared objects for each subscriber', async () => {
    const s = setup();
    const Q = 'subscription { counted { total } }';
    const subs = [await open(Q, viewerA), await open(Q, viewerA)];
    s.streams.forEach((q, i) => q.push({ counted: { total: i } }));
    const results = await Promise.all(subs.map((it) => it.next()));
    expect(results.map((r) => r.value)).toEqual([
      { data: { counted: { total: 0 } } },
      { data: { counted: { total: 1 } } },
    ]);
    expect(s.executions()).toBe(2);
    await Promise.all(subs.map((it) => it.return(undefined)));
  });

  it('reaches the source stream at once when a subscriber leaves, even while it waits for an event', async () => {
    const s = setup();
    const it = await open('subscription { counted { total } }', viewerA);
    const pending = it.next();
    await it.return(undefined);
    expect(s.closed).toEqual([0]);
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
  });

  it('returns errors before the stream as a result, like graphql-js', async () => {
    const r = await subscribe({ schema, document: parse('subscription { nope }'), contextValue: { viewer: viewerA } });
    expect('errors' in r && r.errors?.length).toBeTruthy();
  });
});
