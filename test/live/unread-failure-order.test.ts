import type { Connector, SourceUnreadModel } from '../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../src/errors';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination, type LiveCoordination } from '../../src/live/coordination';
import type { PubSubTransport } from '../../src/live/pubsub';
import { UnreadTotals } from '../../src/live/unreadTotals';

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

describe('unread failure notices and values (docs/live.md "Failure and repair")', () => {
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
