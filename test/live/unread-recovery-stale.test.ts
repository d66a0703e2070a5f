import { FAILURE, heldInstances, SOURCE } from '../utils/unreadFakes';

/**
 * Found by helper D's review of 94a2316 (docs/live.md "Failure and repair", Topics: "When the source answers again
 * with the totals recorded before it failed, the instance that read them publishes them anyway, so that the others
 * correct their subscribers too"). A recovering read that the shared compare-and-set records as 'stale' (another
 * instance recorded a newer unchanged read meanwhile, and published nothing) was published by publishRecovered with
 * `lastAsOf`, the asOf of the totals recorded before the failure, not that of the read that answered (now the later
 * of the two). An instance that heard of the failure by notice took that value as read before the failure and kept
 * its subscribers told the source is missing (webhook source: until the totals change). Fakes of
 * test/utils/unreadFakes.ts, as test/live/unread-failure-order.test.ts.
 */

describe('unread recovery through a stale-recorded read (docs/live.md "Failure and repair")', () => {
  it("ends the episode on an instance that only heard of it, when the recovering read was overtaken by another instance's unchanged read", async () => {
    const { pubsub, coordination, instances, close } = await heldInstances(3);
    const [a, b, c] = instances;
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
      await close();
    }
  });
});
