import { createRedisCoordination } from '../../src/live/coordination';
import { createRedisPubSub } from '../../src/live/transports/redis';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { FAILURE, heldInstances, isFailure, SOURCE, unreadInstance as instance } from '../utils/unreadFakes';
import { eventually } from '../utils/wait';

/**
 * Adversarial probes of 94a2316 (docs/live.md "Failure and repair": failure notices and values weighed by the start
 * of their reads, `asOf`, not by arrival). Over a pub/sub whose deliveries the test releases (in the order it picks),
 * a clock it sets and connectors it scripts (test/utils/unreadFakes.ts, as test/live/unread-failure-order.test.ts),
 * and once over a real Redis (pub/sub, compare-and-set and clock).
 */

describe('unread failure notices and values, adversarial (docs/live.md "Failure and repair")', () => {
  it.each([
    ['the newer value first', (p: Record<string, unknown>) => !isFailure(p)],
    ['the older failure first', isFailure],
  ])(
    "another instance's failure notice older than a value is dropped, whichever arrives first (%s)",
    async (_order, first) => {
      const { pubsub, coordination, instances, close } = await heldInstances(2);
      const [a, b] = instances;
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
        await close();
      }
    },
  );

  it('a new failure after a recovery is announced again, once per instance, however often it recurs', async () => {
    const { pubsub, coordination, instances, close } = await heldInstances(2);
    const [a, b] = instances;
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
      await close();
    }
  });

  it("equal read start times favour the value: a failure of the same millisecond as a value is dropped, a value of the failure's millisecond ends it", async () => {
    const { pubsub, instances, close } = await heldInstances(2);
    const [a, b] = instances;
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
      await close();
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
