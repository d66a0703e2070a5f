import type { Connector, SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination, createRedisCoordination, type LiveCoordination } from '../../src/live/coordination';
import type { PubSubTransport } from '../../src/live/pubsub';
import { createRedisPubSub } from '../../src/live/transports/redis';
import { UnreadTotals } from '../../src/live/unreadTotals';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { eventually } from '../utils/wait';

/**
 * Adversarial probes of 94a2316 (docs/live.md "Failure and repair": failure notices and values weighed by the start
 * of their reads, `asOf`, not by arrival). Over a pub/sub whose deliveries the test releases (in the order it picks),
 * a clock it sets and connectors it scripts, as test/live/unread-failure-order.test.ts (whose fakes are copied
 * here: they are that file's own), and once over a real Redis (pub/sub, compare-and-set and clock).
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

const isFailure = (p: Record<string, unknown>) => 'failed' in p;

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

describe('unread failure notices and values, adversarial (docs/live.md "Failure and repair")', () => {
  it.each([
    ['the newer value first', (p: Record<string, unknown>) => !isFailure(p)],
    ['the older failure first', isFailure],
  ])(
    "another instance's failure notice older than a value is dropped, whichever arrives first (%s)",
    async (_order, first) => {
      const pubsub = heldPubSub();
      const coordination = clockedCoordination();
      const a = await instance(pubsub.transport, coordination);
      const b = await instance(pubsub.transport, coordination);
      try {
        await a.read(5);
        await b.read(5);
        coordination.at = 1_005;
        await b.read('fail'); // B's listeners are told at once; the notice (1,005) is held
        coordination.at = 1_010;
        await a.read(7); // changed: the value (1,010) is held
        expect(pubsub.published).toEqual([
          expect.objectContaining({ asOf: 1_005, failed: expect.anything() }),
          expect.objectContaining({ asOf: 1_010, total: 7 }),
        ]);
        pubsub.deliver(first);
        pubsub.deliver();
        expect(a.heard).toEqual(['value 7']);
        expect(b.heard).toEqual([FAILURE, 'value 7']);
        expect([a.totals.isFailing(SOURCE), b.totals.isFailing(SOURCE)]).toEqual([false, false]);
      } finally {
        await a.close();
        await b.close();
      }
    },
  );

  it('a new failure after a recovery is announced again, once per instance, however often it recurs', async () => {
    const pubsub = heldPubSub();
    const coordination = clockedCoordination();
    const a = await instance(pubsub.transport, coordination);
    const b = await instance(pubsub.transport, coordination);
    try {
      await a.read(5);
      await b.read(5);
      coordination.at = 1_002;
      await a.read('fail');
      pubsub.deliver();
      coordination.at = 1_003;
      await a.read(5); // back with the same totals: published anyway, so B ends its episode too
      pubsub.deliver();
      expect(a.heard).toEqual([FAILURE, 'value 5']);
      expect(b.heard).toEqual([FAILURE, 'value 5']);
      // A new episode: A fails twice, B fails too after hearing of it; each instance's listeners hear it once.
      coordination.at = 1_004;
      await a.read('fail');
      coordination.at = 1_005;
      await a.read('fail');
      pubsub.deliver();
      coordination.at = 1_006;
      await b.read('fail');
      pubsub.deliver();
      expect(a.heard).toEqual([FAILURE, 'value 5', FAILURE]);
      expect(b.heard).toEqual([FAILURE, 'value 5', FAILURE]);
      // Notices: one per episode across the instances (B's failure joined the episode it was told of).
      expect(pubsub.published.filter((p) => isFailure(p as Record<string, unknown>))).toEqual([
        expect.objectContaining({ asOf: 1_002 }),
        expect.objectContaining({ asOf: 1_004 }),
      ]);
      expect([a.totals.isFailing(SOURCE), b.totals.isFailing(SOURCE)]).toEqual([true, true]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("equal read start times favour the value: a failure of the same millisecond as a value is dropped, a value of the failure's millisecond ends it", async () => {
    const pubsub = heldPubSub();
    const coordination = clockedCoordination();
    const a = await instance(pubsub.transport, coordination);
    const b = await instance(pubsub.transport, coordination);
    try {
      await a.read(5); // at 1,000
      await b.read('fail'); // at 1,000 too: B's listeners are told
      pubsub.deliver();
      expect(a.heard).toEqual([]); // A's read of the same millisecond answered
      await a.read(6); // changed, at 1,000
      pubsub.deliver();
      expect(a.heard).toEqual(['value 6']);
      expect(b.heard).toEqual([FAILURE, 'value 6']);
      expect(b.totals.isFailing(SOURCE)).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  describe('two instances on Redis', () => {
    const prefix = randomPrefix('unread-order');
    const redis = redisClients();
    afterAll(async () => {
      await redis.closeAll(prefix);
    });

    it('one sees the outage, the other recovers: both are told once and both end it; a later outage is told once again', async () => {
      const pubsubs = [createRedisPubSub(REDIS_URL, prefix), createRedisPubSub(REDIS_URL, prefix)];
      const [a, b] = await Promise.all(pubsubs.map((p) => instance(p, createRedisCoordination(redis.open(), prefix))));
      try {
        await a!.read(5);
        await a!.read(6); // changed: published
        await eventually(() => expect([a!.heard, b!.heard]).toEqual([['value 6'], ['value 6']]));
        await a!.read('fail');
        await eventually(() => expect(b!.heard).toEqual(['value 6', FAILURE]));
        await b!.read(6); // B reads the same totals: published anyway, so A ends its episode too
        await eventually(() => expect(a!.heard).toEqual(['value 6', FAILURE, 'value 6']));
        expect(b!.heard).toEqual(['value 6', FAILURE, 'value 6']);
        // A later outage seen by A, twice: told once on each instance.
        await a!.read('fail');
        await a!.read('fail');
        await eventually(() => expect(b!.heard).toEqual(['value 6', FAILURE, 'value 6', FAILURE]));
        // Then B reads a change: its value follows whatever A published, and ends the episode everywhere.
        await b!.read(9);
        await eventually(() => expect(a!.heard.at(-1)).toBe('value 9'));
        await eventually(() => expect(b!.heard.at(-1)).toBe('value 9'));
        expect(a!.heard).toEqual(['value 6', FAILURE, 'value 6', FAILURE, 'value 9']);
        expect(b!.heard).toEqual(['value 6', FAILURE, 'value 6', FAILURE, 'value 9']);
        expect([a!.totals.isFailing(SOURCE), b!.totals.isFailing(SOURCE)]).toEqual([false, false]);
      } finally {
        await a?.close();
        await b?.close();
        await Promise.all(pubsubs.map((p) => p.close()));
      }
    });
  });
});
