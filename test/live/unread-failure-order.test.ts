import type { Connector, SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination, type LiveCoordination } from '../../src/live/coordination';
import type { PubSubTransport } from '../../src/live/pubsub';
import { UnreadTotals } from '../../src/live/unreadTotals';
import { Subscription } from '../../src/schema/resolvers/Subscription';

/**
 * docs/live.md "Failure and repair": the order in which unread listeners hear of a source's values and failures.
 * Deterministic: a pub/sub whose deliveries the test releases (a network transport delivers when it does), a clock
 * the test sets, connectors whose `unreadCount` the test scripts.
 */

const SOURCE = 's1';

/** Pub/sub that holds every publication until {@link deliver} (FIFO, as one Redis connection would). */
function heldPubSub(): PubSubTransport & { deliver(): void; held: unknown[] } {
  const subs = new Map<string, Set<(p: unknown) => void>>();
  const queue: Array<{ topic: string; json: string }> = [];
  return {
    get held() {
      return queue.map((q) => JSON.parse(q.json) as unknown);
    },
    async publish(topic, payload) {
      queue.push({ topic, json: JSON.stringify(payload) });
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
    deliver() {
      for (const { topic, json } of queue.splice(0)) for (const l of subs.get(topic) ?? []) l(JSON.parse(json));
    },
  };
}

type Read = () => Promise<SourceUnreadModel>;

/** A connector of SOURCE whose next unread read is whatever the test set last (`answer`, `fail`). */
function scriptedConnector() {
  let read: Read = async () => ({ sourceId: SOURCE, total: 0, conversationsWithUnread: 0 });
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
    reads: () => reads,
    answer(total: number) {
      read = async () => ({ sourceId: SOURCE, total, conversationsWithUnread: total > 0 ? 1 : 0 });
    },
    fail(code: ErrorCode = ErrorCode.SOURCE_UNAVAILABLE) {
      read = async () => {
        throw new GatewayError(code, `Source "${SOURCE}" failed (${code}).`, { source: SOURCE });
      };
    },
    /** The next read waits for the test: resolve it with `release` (a total or an error). */
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

/** One gateway instance's unread totals over a shared pub/sub and coordination, with what its listeners heard. */
async function instance(pubsub: PubSubTransport, coordination: LiveCoordination) {
  const source = scriptedConnector();
  const ctx = createLiveContext({ connectors: [source.connector], pubsub, coordination });
  const totals = new UnreadTotals(ctx);
  await totals.ready;
  const heard: string[] = [];
  totals.listen(
    [SOURCE],
    (v) => heard.push(`value ${v.total}`),
    (_s, e) => heard.push(`failure ${e.code}`),
  );
  ctx.watchers.add(SOURCE);
  return {
    source,
    totals,
    heard,
    async close() {
      ctx.close();
      totals.stopRepairs();
      await totals.settled();
      await Promise.all((await totals.close()).map((u) => u()));
    },
  };
}

/** Coordination on a clock the test sets (the shared clock `asOf` is measured on). */
function clockedCoordination(): LiveCoordination & { at: number } {
  const inner = createMemoryCoordination();
  const c = { ...inner, at: 1_000, now: async () => c.at };
  return c;
}

describe('unread failure notices and values (docs/live.md "Failure and repair")', () => {
  it('a failure notice from a read started in the same millisecond as one that answered is dropped, however late it arrives', async () => {
    const pubsub = heldPubSub();
    const coordination = clockedCoordination();
    const a = await instance(pubsub, coordination);
    const b = await instance(pubsub, coordination);
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
      expect(a.heard).toEqual(['failure SOURCE_UNAVAILABLE']);
      expect(b.heard).toEqual([]);
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
      expect(b.heard).toEqual(['value 5', 'failure SOURCE_UNAVAILABLE']);
      // A's own value of 1,001 comes back after its failure of 1,002: kept, but its listeners stay told of the failure.
      expect(a.heard).toEqual(['failure SOURCE_UNAVAILABLE', 'value 5', 'failure SOURCE_UNAVAILABLE']);
      expect(a.totals.isFailing(SOURCE)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a read that fails after a newer value arrived from another instance tells its listeners nothing', async () => {
    const pubsub = heldPubSub();
    const coordination = clockedCoordination();
    const a = await instance(pubsub, coordination);
    const b = await instance(pubsub, coordination);
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
      expect(a.heard).toEqual(['value 7']);
      // Then A's older read fails: the listeners keep the newer value, and nothing is published.
      release(new GatewayError(ErrorCode.SOURCE_TIMEOUT, 'timed out', { source: SOURCE }));
      await expect(aRead).rejects.toMatchObject({ code: ErrorCode.SOURCE_TIMEOUT });
      expect(pubsub.held).toEqual([]);
      expect(a.heard).toEqual(['value 7']);
      expect(b.heard).toEqual(['value 7']);
    } finally {
      await a.close();
      await b.close();
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
      const i = await instance(pubsub, createMemoryCoordination());
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
        return { reads: i.source.reads(), heard: [...i.heard] };
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
