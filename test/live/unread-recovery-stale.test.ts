import type { Connector, SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination, type LiveCoordination } from '../../src/live/coordination';
import type { PubSubTransport } from '../../src/live/pubsub';
import { UnreadTotals } from '../../src/live/unreadTotals';

/**
 * Found by helper D's review of 94a2316 (docs/live.md "Failure and repair", Topics: "When the source answers again
 * with the totals recorded before it failed, the instance that read them publishes them anyway, so that the others
 * correct their subscribers too"). A recovering read that the shared compare-and-set records as 'stale' (another
 * instance recorded a newer unchanged read meanwhile, and published nothing) was published by publishRecovered with
 * `lastAsOf`, the asOf of the totals recorded before the failure, not that of the read that answered (now the later
 * of the two). An instance that heard of the failure by notice took that value as read before the failure and kept
 * its subscribers told the source is missing (webhook source: until the totals change). Fakes copied from
 * test/live/unread-failure-order.test.ts.
 */
const SOURCE = 's1';

/** Pub/sub that holds every publication until the test delivers it (all, or those `which` picks, in order). */
function heldPubSub() {
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
    /** Every payload published so far, delivered or not. */
    published,
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

/** A connector of SOURCE whose unread read is whatever the test set last. */
function scriptedConnector() {
  let read: () => Promise<SourceUnreadModel> = async () => ({ sourceId: SOURCE, total: 0, conversationsWithUnread: 0 });
  const connector = {
    id: SOURCE,
    kind: 'PROTOCOL',
    name: SOURCE,
    capabilities: { unreadCounts: true, realtime: 'WEBHOOK' },
    openSession: () => ({ unreadCount: () => read() }),
  } as unknown as Connector;
  return {
    connector,
    answer(total: number) {
      read = async () => ({ sourceId: SOURCE, total, conversationsWithUnread: total > 0 ? 1 : 0 });
    },
    /** The next read waits until the test releases it with a total. */
    hold(): (total: number) => void {
      let release!: (total: number) => void;
      const outcome = new Promise<number>((r) => (release = r));
      read = async () => {
        const total = await outcome;
        return { sourceId: SOURCE, total, conversationsWithUnread: total > 0 ? 1 : 0 };
      };
      return release;
    },
    fail() {
      read = async () => {
        throw new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, `Source "${SOURCE}" failed.`, { source: SOURCE });
      };
    },
  };
}

/** One gateway instance's unread totals, with what its listeners heard. */
async function instance(pubsub: PubSubTransport, coordination: LiveCoordination) {
  const source = scriptedConnector();
  const ctx = createLiveContext({ connectors: [source.connector], pubsub, coordination });
  const totals = new UnreadTotals(ctx);
  await totals.ready;
  const all: string[] = [];
  totals.listen(
    [SOURCE],
    (v) => all.push(`value ${v.total}`),
    (_s, e) => all.push(`failure ${e.code}`),
  );
  ctx.watchers.add(SOURCE);
  return {
    source,
    totals,
    /**
     * What the listeners were told, a repeat of the same state right after itself left out as unreadCountChanged
     * does (its `lastSent` key, src/schema/resolvers/Subscription.ts): the recovering instance hears its value from
     * its own read and again from its publication, which subscribers never see twice.
     */
    get heard(): string[] {
      return all.filter((h, i) => h !== all[i - 1]);
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

function clockedCoordination(): LiveCoordination & { at: number } {
  const inner = createMemoryCoordination();
  const c = { ...inner, at: 1_000, now: async () => c.at };
  return c;
}

const FAILURE = 'failure SOURCE_UNAVAILABLE';

describe('unread recovery through a stale-recorded read (docs/live.md "Failure and repair")', () => {
  it("ends the episode on an instance that only heard of it, when the recovering read was overtaken by another instance's unchanged read", async () => {
    const pubsub = heldPubSub();
    const coordination = clockedCoordination();
    const a = await instance(pubsub.transport, coordination);
    const b = await instance(pubsub.transport, coordination);
    const c = await instance(pubsub.transport, coordination);
    try {
      // 1,000: every instance read 5 (first, then the same: nothing published).
      await a.read(5);
      await b.read(5);
      await c.read(5);
      // 1,002: A's read fails; its notice is on the way.
      coordination.at = 1_002;
      await a.read('fail');
      // 1,004: A reads again (the source is back) and the answer takes a while; 1,005: B reads the same totals
      // (B has not heard of the failure: nothing to publish).
      coordination.at = 1_004;
      const release = a.source.hold();
      const aRead = a.totals.refresh(SOURCE);
      await new Promise((r) => setImmediate(r));
      coordination.at = 1_005;
      await b.read(5);
      // A's read answers 5: recorded as stale (B's read of 1,005 is newer), A's listeners get the source back, and A
      // publishes the totals anyway so that the instances told of its failure correct their subscribers.
      release(5);
      await aRead;
      expect(a.heard).toEqual([FAILURE, 'value 5']);
      pubsub.deliver();
      // C heard of the failure (1,002) and of the source answering reads that started at 1,004 (A) and 1,005 (B):
      // its subscribers must not stay told the source is missing.
      expect(pubsub.published).toEqual([
        expect.objectContaining({ asOf: 1_002, failed: expect.anything() }),
        expect.objectContaining({ total: 5 }),
      ]);
      expect(c.heard).toEqual([FAILURE, 'value 5']);
      expect(c.totals.isFailing(SOURCE)).toBe(false);
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });
});
