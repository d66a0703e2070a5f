import type { SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createMemoryCoordination } from '../../src/live/coordination';
import { Subscription } from '../../src/schema/resolvers/Subscription';
import { heldInstances, heldPubSub, SOURCE, unreadInstance as instance } from '../utils/unreadFakes';

/**
 * docs/live.md "Failure and repair": the order in which unread listeners hear of a source's values and failures.
 * Deterministic: a pub/sub whose deliveries the test releases (a network transport delivers when it does), a clock
 * the test sets, connectors whose `unreadCount` the test scripts.
 */

describe('unread failure notices and values (docs/live.md "Failure and repair")', () => {
  it('a failure notice from a read started in the same millisecond as one that answered is dropped, however late it arrives', async () => {
    const { pubsub, coordination, instances, close } = await heldInstances(2);
    const [a, b] = instances;
    try {
      a.source.answer(5);
      b.source.answer(5);
      await a.totals.refresh(SOURCE); // first record
      await b.totals.refresh(SOURCE); // same
      expect(await b.totals.current(SOURCE)).toMatchObject({ total: 5 });
      // Instance A's read fails, B's read of the same millisecond answers (nothing changed: nothing to publish).
      a.source.fail();
      await expect(a.totals.refresh(SOURCE)).rejects.toMatchObject({ code: ErrorCode.SOURCE_UNAVAILABLE });
      await b.totals.refresh(SOURCE);
      expect(pubsub.held).toEqual([
        expect.objectContaining({ sourceId: SOURCE, asOf: 1_000, failed: expect.anything() }),
      ]);
      // A's failure notice reaches B after B's read: older news than what B's listeners hold.
      pubsub.deliver();
      expect(a.told).toEqual(['failure SOURCE_UNAVAILABLE']);
      expect(b.told).toEqual([]);
      expect(b.totals.isFailing(SOURCE)).toBe(false);
      // A failure of a later read still reaches B.
      coordination.at = 1_001;
      a.source.fail();
      await a.totals.refresh(SOURCE).catch(() => undefined); // same episode on A: not published again
      a.source.answer(5);
      await a.totals.refresh(SOURCE); // A is back: ends its episode (and tells B, which never failed)
      coordination.at = 1_002;
      a.source.fail();
      await a.totals.refresh(SOURCE).catch(() => undefined); // a new episode on A, after B's last answer
      pubsub.deliver();
      expect(b.told).toEqual(['value 5', 'failure SOURCE_UNAVAILABLE']);
      // A's own value of 1,001 comes back after its failure of 1,002: kept, but its listeners stay told of the failure.
      expect(a.told).toEqual(['failure SOURCE_UNAVAILABLE', 'value 5', 'failure SOURCE_UNAVAILABLE']);
      expect(a.totals.isFailing(SOURCE)).toBe(true);
    } finally {
      await close();
    }
  });

  it('a read that fails after a newer value arrived from another instance tells its listeners nothing', async () => {
    const { pubsub, coordination, instances, close } = await heldInstances(2);
    const [a, b] = instances;
    try {
      a.source.answer(5);
      await a.totals.refresh(SOURCE);
      // A starts a read at 1,000 that hangs; B reads at 1,010, and its changed value reaches A first.
      const release = a.source.hold();
      const aRead = a.totals.refresh(SOURCE);
      await new Promise((r) => setImmediate(r));
      coordination.at = 1_010;
      b.source.answer(7);
      await b.totals.refresh(SOURCE);
      pubsub.deliver();
      expect(a.told).toEqual(['value 7']);
      // Then A's older read fails: the listeners keep the newer value, and nothing is published.
      release(new GatewayError(ErrorCode.SOURCE_TIMEOUT, 'timed out', { source: SOURCE }));
      await expect(aRead).rejects.toMatchObject({ code: ErrorCode.SOURCE_TIMEOUT });
      expect(pubsub.held).toEqual([]);
      expect(a.told).toEqual(['value 7']);
      expect(b.told).toEqual(['value 7']);
    } finally {
      await close();
    }
  });

  describe('repair while the source is refused by its circuit breaker', () => {
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
      // The middle of the jitter (0.5–1): delays of 750 ms × 2ⁿ.
      jest.spyOn(Math, 'random').mockReturnValue(0.5);
    });
    afterEach(() => {
      jest.useRealTimers();
      jest.restoreAllMocks();
    });

    /**
     * A webhook re-read fails with `code`, and so does every read for 10 s (fake clock); then the source answers 7.
     * Returns what the listeners heard and how many reads were made by `untilMs`.
     */
    async function repairAfterOutage(code: ErrorCode, untilMs: number) {
      const pubsub = heldPubSub();
      const i = await instance(pubsub.transport, createMemoryCoordination());
      try {
        i.source.answer(5);
        await i.totals.refresh(SOURCE);
        const backAt = Date.now() + 10_000;
        i.source.fail(code);
        await i.totals.refreshOrRepair(SOURCE); // fails: the repair starts
        for (let t = 0; t < untilMs; t += 250) {
          await jest.advanceTimersByTimeAsync(250);
          if (Date.now() >= backAt) i.source.answer(7);
          pubsub.deliver();
        }
        return { reads: i.source.reads(), heard: [...i.told] };
      } finally {
        await i.close();
      }
    }

    it('a refusal that made no call (CIRCUIT_OPEN) does not lengthen the wait: the value comes within one base delay of the half-open moment', async () => {
      // Attempts every 750 ms (2 reads before the repair: the first value, the failed re-read); the one at
      // 10,500 ms answers.
      const r = await repairAfterOutage(ErrorCode.CIRCUIT_OPEN, 10_750);
      expect(r.heard[0]).toBe('failure CIRCUIT_OPEN');
      expect(r.heard.at(-1)).toBe('value 7');
      expect(r.reads).toBe(2 + 14);
    });

    it('a failure that reached the source lengthens it (1 s · 2ⁿ, jittered)', async () => {
      // Attempts at 750, 2,250, 5,250 and 11,250 ms: by 10,750 ms three have failed and none has answered yet.
      const r = await repairAfterOutage(ErrorCode.SOURCE_UNAVAILABLE, 10_750);
      expect(r.heard).toEqual(['failure SOURCE_UNAVAILABLE']);
      expect(r.reads).toBe(2 + 3);
    });
  });
});

describe('unreadCountChanged: a failure heard while the first value is read', () => {
  it('leaves the source out of the first value (with its error entry) until its next value', async () => {
    let onValue!: (v: SourceUnreadModel) => void;
    let onFailure!: (s: string, e: GatewayError) => void;
    const error = new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'down', { source: SOURCE });
    const live = {
      watchUnread: async (_ids: string[], v: typeof onValue, f: typeof onFailure) => {
        onValue = v;
        onFailure = f;
        return async () => undefined;
      },
      // The current value was read, but a later read failed (and told the listeners) before it came back.
      current: async () => {
        onFailure(SOURCE, error);
        return { sourceId: SOURCE, total: 4, conversationsWithUnread: 1 };
      },
    };
    const ctx = {
      visibleSources: () => [{ id: SOURCE, capabilities: { unreadCounts: true } }],
      services: { live },
    };
    const { subscribe } = Subscription.unreadCountChanged as unknown as {
      subscribe: (
        p: unknown,
        a: { sources: string[] | null },
        c: unknown,
      ) => Promise<AsyncIterator<Record<string | symbol, unknown>>>;
    };
    const it = await subscribe({}, { sources: null }, ctx);
    const first = (await it.next()).value as Record<string | symbol, unknown>;
    expect(first.unreadCountChanged).toMatchObject({ total: 0, bySource: [] });
    const errors = Object.getOwnPropertySymbols(first).map((k) => first[k]);
    expect(errors).toEqual([[error]]);
    onValue({ sourceId: SOURCE, total: 6, conversationsWithUnread: 2 });
    const next = (await it.next()).value as Record<string | symbol, unknown>;
    expect(next.unreadCountChanged).toMatchObject({ total: 6 });
    expect(Object.getOwnPropertySymbols(next)).toEqual([]);
    await it.return?.();
  });
});
