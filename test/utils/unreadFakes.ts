/**
 * Fakes of the unread totals suites (docs/live.md "Failure and repair"): gateway instances' UnreadTotals of one
 * source over a pub/sub whose deliveries the test releases (a network transport delivers when it does), a
 * coordination on a clock the test sets, and a connector whose `unreadCount` the test scripts.
 */
import type { Connector, SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination, type LiveCoordination } from '../../src/live/coordination';
import type { PubSubTransport } from '../../src/live/pubsub';
import { UnreadTotals } from '../../src/live/unreadTotals';

/** The one source of the fakes. */
export const SOURCE = 's1';

/** What an instance's listeners are told when the source fails with SOURCE_UNAVAILABLE. */
export const FAILURE = 'failure SOURCE_UNAVAILABLE';

/** Whether a payload of `unread:<source>` is a failure notice (not totals). */
export const isFailure = (p: Record<string, unknown>) => 'failed' in p;

/**
 * Pub/sub that holds every publication until the test delivers it: all, or those `which` picks, in the order they
 * were published (FIFO, as one Redis connection would). `held` is what is still held, `published` everything
 * published so far, delivered or not.
 */
export function heldPubSub() {
  const subs = new Map<string, Set<(p: unknown) => void>>();
  const queue: Array<{ topic: string; json: string }> = [];
  const published: unknown[] = [];
  const transport: PubSubTransport = {
    async publish(topic, payload) {
      queue.push({ topic, json: JSON.stringify(payload) });
      published.push(JSON.parse(JSON.stringify(payload)));
    },
    async subscribe(topic, onMessage) {
      let set = subs.get(topic);
      if (!set) subs.set(topic, (set = new Set()));
      set.add(onMessage);
      return async () => {
        set.delete(onMessage);
      };
    },
    async close() {
      subs.clear();
    },
  };
  return {
    transport,
    published,
    get held(): unknown[] {
      return queue.map((q) => JSON.parse(q.json) as unknown);
    },
    deliver(which: (p: Record<string, unknown>) => boolean = () => true) {
      for (let i = 0; i < queue.length;) {
        const { topic, json } = queue[i]!;
        if (!which(JSON.parse(json) as Record<string, unknown>)) {
          i++;
          continue;
        }
        queue.splice(i, 1);
        for (const l of subs.get(topic) ?? []) l(JSON.parse(json));
      }
    },
  };
}

/** A connector of SOURCE whose next unread read is whatever the test set last (`answer`, `fail`, `hold`). */
export function scriptedConnector() {
  let read: () => Promise<SourceUnreadModel> = async () => ({ sourceId: SOURCE, total: 0, conversationsWithUnread: 0 });
  let reads = 0;
  const connector = {
    id: SOURCE,
    kind: 'PROTOCOL',
    name: SOURCE,
    capabilities: { unreadCounts: true, realtime: 'WEBHOOK' },
    openSession: () => ({
      unreadCount: () => {
        reads++;
        return read();
      },
    }),
  } as unknown as Connector;
  return {
    connector,
    /** How many unread reads were made. */
    reads: () => reads,
    answer(total: number) {
      read = async () => ({ sourceId: SOURCE, total, conversationsWithUnread: total > 0 ? 1 : 0 });
    },
    fail(code: ErrorCode = ErrorCode.SOURCE_UNAVAILABLE) {
      read = async () => {
        throw new GatewayError(code, `Source "${SOURCE}" failed (${code}).`, { source: SOURCE });
      };
    },
    /** The next read waits for the test: resolve it with what this returns (a total, or an error it throws). */
    hold(): (outcome: number | GatewayError) => void {
      let settle!: (outcome: number | GatewayError) => void;
      const outcome = new Promise<number | GatewayError>((r) => (settle = r));
      read = async () => {
        const o = await outcome;
        if (o instanceof GatewayError) throw o;
        return { sourceId: SOURCE, total: o, conversationsWithUnread: o > 0 ? 1 : 0 };
      };
      return settle;
    },
  };
}

/** One gateway instance's unread totals of SOURCE over a shared pub/sub and coordination, with what it told. */
export async function unreadInstance(pubsub: PubSubTransport, coordination: LiveCoordination) {
  const source = scriptedConnector();
  const ctx = createLiveContext({ connectors: [source.connector], pubsub, coordination });
  const totals = new UnreadTotals(ctx);
  await totals.ready;
  const told: string[] = [];
  totals.listen(
    [SOURCE],
    (v) => told.push(`value ${v.total}`),
    (_s, e) => told.push(`failure ${e.code}`),
  );
  ctx.watchers.add(SOURCE);
  return {
    source,
    totals,
    /** Every call of the listeners, in order (`value <total>`, `failure <code>`), repeats included. */
    told,
    /**
     * What the listeners were told, a repeat of the same state right after itself left out as unreadCountChanged
     * does (its `lastSent` key, src/schema/resolvers/Subscription.ts): the recovering instance hears its value from
     * its own read and again from its publication, which subscribers never see twice.
     */
    get heard(): string[] {
      return told.filter((h, i) => h !== told[i - 1]);
    },
    /** One read that works (`total`) or fails (`fail`), its rejection swallowed. */
    async read(outcome: number | 'fail') {
      if (outcome === 'fail') source.fail();
      else source.answer(outcome);
      await totals.refresh(SOURCE).catch(() => undefined);
    },
    async close() {
      ctx.close();
      totals.stopRepairs();
      await totals.settled();
      await Promise.all((await totals.close()).map((u) => u()));
    },
  };
}

/** Memory coordination on a clock the test sets (`at`, the shared clock `asOf` is measured on), from 1,000. */
export function clockedCoordination(): LiveCoordination & { at: number } {
  const inner = createMemoryCoordination();
  const c = { ...inner, at: 1_000, now: async () => c.at };
  return c;
}

/** One instance of {@link unreadInstance}. */
export type UnreadInstance = Awaited<ReturnType<typeof unreadInstance>>;

/**
 * `count` instances over one {@link heldPubSub} and one {@link clockedCoordination}, made one after the other;
 * `close` closes them in that order.
 */
export async function heldInstances(count: number) {
  const pubsub = heldPubSub();
  const coordination = clockedCoordination();
  const instances: UnreadInstance[] = [];
  for (let i = 0; i < count; i++) instances.push(await unreadInstance(pubsub.transport, coordination));
  return {
    pubsub,
    coordination,
    instances,
    async close() {
      for (const i of instances) await i.close();
    },
  };
}
