import { decodeCursor, type DeliveredEvent } from '../../src/live/events';
import { memoryThreadEvents, sourceMessageEvent as event } from '../utils/eventLogFixtures';
import { eventually } from '../utils/wait';

/**
 * Adversarial probes of thread event delivery in slices (docs/live.md "Transports", issue 14 fan-out lever 3:
 * ThreadEvents.deliverSlice hands an entry to 500 listeners per turn of the event loop). Every probe has more than
 * 1,200 listeners, so each entry takes three turns, and acts while an entry is only partly handed out: further
 * events arriving, listeners leaving, subscribers joining (live and with `after`), the engine closing, and two
 * sources' entries queued behind each other. Each listener must see its events once, in log order, with no gap.
 */
const N = 1_234;

const label = (e: DeliveredEvent) =>
  e.kind === 'ResyncRequired' ? `resync:${e.reason}` : `${e.event.sourceId}:${e.event.at / 1000}`;

/** One turn of the event loop (a slice scheduled before this call runs first). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Sub {
  got: string[];
  cursors: string[];
  stop: () => void;
}

async function harness(sourceIds: string[]) {
  const { events } = await memoryThreadEvents(sourceIds, 100);
  const subs: Sub[] = [];
  let calls = 0;
  /** A subscriber of `ids` (resuming after `after`); `onEach` runs after each event it got. */
  const sub = (ids: string[], after: string | null = null, onEach?: (s: Sub) => void): Sub => {
    const s: Sub = { got: [], cursors: [], stop: () => undefined };
    s.stop = events.watch(ids, after, (e) => {
      calls++;
      s.got.push(label(e));
      s.cursors.push(e.cursor);
      onEach?.(s);
    });
    subs.push(s);
    return s;
  };
  return {
    events,
    sub,
    calls: () => calls,
    /** Publishes one event; when this resolves the log has fed it (and its first slice went out). */
    publish: (sourceId: string, n: number) => events.publish([event(sourceId, n)]),
    /** How many of `of` got `what` so far. */
    having: (of: Sub[], what: string) => of.filter((s) => s.got.includes(what)).length,
    async close() {
      subs.forEach((s) => s.stop());
      await events.close();
    },
  };
}

describe('thread event slices, adversarial (docs/live.md "Transports"; issue 14 fan-out)', () => {
  it('events 2 and 3 arriving while event 1 is still being handed out reach each of 1,234 listeners once, in order', async () => {
    const h = await harness(['s']);
    try {
      const subs = Array.from({ length: N }, () => h.sub(['s']));
      await h.publish('s', 1);
      // Event 1 is part way: event 2 arrives now, event 3 one slice later.
      const hadOneWhenTwoCame = h.having(subs, 's:1');
      await h.publish('s', 2);
      await turn();
      const hadOneWhenThreeCame = h.having(subs, 's:1');
      await h.publish('s', 3);
      expect(hadOneWhenTwoCame).toBeGreaterThan(0);
      expect(hadOneWhenTwoCame).toBeLessThan(N);
      expect(hadOneWhenThreeCame).toBeLessThan(N);
      await eventually(() => expect(h.having(subs, 's:3')).toBe(N));
      // A few more turns: nothing is handed out twice.
      for (let i = 0; i < 4; i++) await turn();
      expect(subs.filter((s) => s.got.join() !== 's:1,s:2,s:3')).toEqual([]);
      expect(h.calls()).toBe(3 * N);
      // Each listener's cursors are the positions of its events.
      expect(subs[N - 1]!.cursors.map((c) => decodeCursor(c)!.p)).toEqual([{ s: 1 }, { s: 2 }, { s: 3 }]);
    } finally {
      await h.close();
    }
  });

  it('a listener that leaves while an event is being handed out gets nothing after, whether reached yet or not', async () => {
    const h = await harness(['s']);
    try {
      const subs = Array.from({ length: N }, (_, i) =>
        // Listener 700 leaves from inside its own first call (event 1 still going to the rest, event 2 queued).
        h.sub(['s'], null, i === 700 ? (s) => s.stop() : undefined),
      );
      await h.publish('s', 1);
      await h.publish('s', 2);
      // Event 1 reached listener 100 (first slice), not listener 1,000; event 2 is queued for both.
      expect(subs[100]!.got).toEqual(['s:1']);
      expect(subs[1_000]!.got).toEqual([]);
      subs[100]!.stop();
      subs[1_000]!.stop();
      await eventually(() => expect(h.having(subs, 's:2')).toBe(N - 3));
      for (let i = 0; i < 4; i++) await turn();
      expect(subs[100]!.got).toEqual(['s:1']);
      expect(subs[700]!.got).toEqual(['s:1']);
      expect(subs[1_000]!.got).toEqual([]);
      const rest = subs.filter((_, i) => ![100, 700, 1_000].includes(i));
      expect(rest.filter((s) => s.got.join() !== 's:1,s:2')).toEqual([]);
      expect(h.calls()).toBe(2 * (N - 3) + 2);
    } finally {
      await h.close();
    }
  });

  it('a subscriber joining while events are being handed out gets no duplicate and no gap, live or with `after`', async () => {
    const h = await harness(['s']);
    try {
      const subs = Array.from({ length: N }, () => h.sub(['s']));
      await h.publish('s', 1);
      await eventually(() => expect(h.having(subs, 's:1')).toBe(N));
      const c1 = subs[0]!.cursors[0]!;

      await h.publish('s', 2);
      expect(h.having(subs, 's:2')).toBeLessThan(N); // event 2 part way
      const live2 = h.sub(['s']);
      const after1At2 = h.sub(['s'], c1);
      const c2 = subs[0]!.cursors[1]!; // listener 0 had event 2 in the first slice

      await h.publish('s', 3); // queued behind event 2
      expect(h.having(subs, 's:2')).toBeLessThan(N);
      const live3 = h.sub(['s']);
      const after1At3 = h.sub(['s'], c1);
      const after2At3 = h.sub(['s'], c2);

      await h.publish('s', 4);
      await eventually(() => expect(h.having(subs, 's:4')).toBe(N));
      for (let i = 0; i < 4; i++) await turn();
      expect({
        live2: live2.got,
        after1At2: after1At2.got,
        live3: live3.got,
        after1At3: after1At3.got,
        after2At3: after2At3.got,
      }).toEqual({
        live2: ['s:3', 's:4'],
        after1At2: ['s:2', 's:3', 's:4'],
        live3: ['s:4'],
        after1At3: ['s:2', 's:3', 's:4'],
        after2At3: ['s:3', 's:4'],
      });
      expect(subs.filter((s) => s.got.join() !== 's:1,s:2,s:3,s:4')).toEqual([]);
      // Every joiner ends at the position the others are at.
      for (const j of [live2, after1At2, live3, after1At3, after2At3])
        expect(decodeCursor(j.cursors.at(-1)!)!.p).toEqual({ s: 4 });
    } finally {
      await h.close();
    }
  });

  it('closing while an event is being handed out calls no listener afterwards and leaves no slice scheduled', async () => {
    const h = await harness(['s']);
    const subs = Array.from({ length: N }, () => h.sub(['s']));
    // The slices scheduled while the events are handed out (the engine's: nothing else runs meanwhile). Not the
    // process's active Immediates: under a full run, another suite's may be pending in the same worker.
    const scheduled: NodeJS.Immediate[] = [];
    const realSetImmediate = global.setImmediate;
    const spy = jest.spyOn(global, 'setImmediate').mockImplementation(((
      fn: (...a: unknown[]) => void,
      ...args: unknown[]
    ) => {
      const im = realSetImmediate(fn, ...args);
      scheduled.push(im);
      return im;
    }) as typeof setImmediate);
    try {
      await h.publish('s', 1);
      await h.publish('s', 2);
    } finally {
      spy.mockRestore();
    }
    const served = h.calls();
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(2 * N);
    const pending = () => scheduled.filter((im) => !(im as unknown as { _destroyed: boolean })._destroyed).length;
    expect(pending()).toBe(1);
    await h.events.close();
    // The pending slice is cancelled with the engine.
    expect(pending()).toBe(0);
    for (let i = 0; i < 5; i++) await turn();
    expect(h.calls()).toBe(served);
    expect(h.having(subs, 's:1')).toBeLessThan(N);
    await h.close();
  });

  it('closing from inside a listener calls no other listener of the slice afterwards', async () => {
    const h = await harness(['s']);
    let closing: Promise<unknown> | null = null;
    // The 10th subscriber closes the engine when its event reaches it (a slice holds 500: the rest are in it).
    Array.from({ length: 20 }, (_, i) =>
      h.sub(['s'], null, () => {
        if (i === 9) closing ??= h.events.close();
      }),
    );
    await h.publish('s', 1);
    await closing;
    for (let i = 0; i < 5; i++) await turn();
    expect(h.calls()).toBe(10);
    await h.close();
  });

  it("two sources' entries queued behind each other reach each listener in log order, once", async () => {
    const h = await harness(['a', 'b']);
    try {
      const onA = Array.from({ length: N }, () => h.sub(['a']));
      const onB = Array.from({ length: N }, () => h.sub(['b']));
      const onAB = Array.from({ length: 300 }, () => h.sub(['a', 'b']));
      const onBA = Array.from({ length: 300 }, () => h.sub(['b', 'a']));
      await h.publish('a', 1);
      await h.publish('b', 1);
      await turn();
      await h.publish('a', 2);
      expect(h.having(onB, 'b:1')).toBeLessThan(N); // b:1 still queued or part way when a:2 arrives
      await h.publish('b', 2);
      await eventually(() => expect(h.having(onB, 'b:2')).toBe(N));
      for (let i = 0; i < 4; i++) await turn();
      expect(onA.filter((s) => s.got.join() !== 'a:1,a:2')).toEqual([]);
      expect(onB.filter((s) => s.got.join() !== 'b:1,b:2')).toEqual([]);
      expect([...onAB, ...onBA].filter((s) => s.got.join() !== 'a:1,b:1,a:2,b:2')).toEqual([]);
      expect(h.calls()).toBe(2 * N + 2 * N + 4 * 600);
      // A cursor of both sources taken mid-way resumes with exactly what followed it (a replay goes source by
      // source: docs/live.md "Cursors", each source's events in order).
      const resumed = h.sub(['b', 'a'], onBA[299]!.cursors[1]!);
      expect([...resumed.got].sort()).toEqual(['a:2', 'b:2']);
    } finally {
      await h.close();
    }
  });
});
