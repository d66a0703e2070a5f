import { MemoryEventLog } from '../../src/live/eventLog';
import { decodeCursor, ThreadEvents, type DeliveredEvent, type ThreadEvent } from '../../src/live/events';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination } from '../../src/live/coordination';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { sourceMessageEvent as event } from '../utils/eventLogFixtures';

/**
 * docs/live.md "Cursors" (issue 14 fan-out): subscribers at the same positions of the same sources share one
 * encoded cursor per event; subscribers of other source sets or at other positions still get their own, each
 * one a position that resumes exactly after the event it came with.
 */

const texts = (got: DeliveredEvent[]) =>
  got.map((e) => (e.kind === 'ResyncRequired' ? `resync:${e.reason}` : `${e.event.sourceId}:${e.event.at / 1000}`));

describe('thread event cursors', () => {
  let events: ThreadEvents;
  const stops: Array<() => void> = [];
  beforeEach(async () => {
    const ctx = createLiveContext({
      connectors: [],
      pubsub: createInMemoryPubSub(),
      coordination: createMemoryCoordination(),
    });
    events = new ThreadEvents(ctx, ['s', 't'], new MemoryEventLog<ThreadEvent>({ maxLength: 10, maxAgeMs: 60_000 }));
    await events.ready;
  });
  afterEach(async () => {
    stops.splice(0).forEach((stop) => stop());
    await events.close();
  });
  /** Cursors encoded from now on (encodeCursor: the cursor's JSON to a Buffer, then base64url). */
  const encodings = () => {
    const from = jest.spyOn(Buffer, 'from');
    return () => {
      const n = from.mock.calls.filter(([v]) => typeof v === 'string' && v.startsWith('{"e":')).length;
      from.mockRestore();
      return n;
    };
  };
  const watch = (sourceIds: string[], after: string | null = null) => {
    const got: DeliveredEvent[] = [];
    stops.push(events.watch(sourceIds, after, (e) => got.push(e)));
    return got;
  };

  it('gives subscribers of one source set at one position the same cursor string, and others their own', async () => {
    const a = watch(['s']);
    const b = watch(['s']);
    const both = watch(['s', 't']);
    const reversed = watch(['t', 's']);
    const encoded = encodings();
    await events.publish([event('t', 1)]);
    await events.publish([event('s', 2)]);
    // Encoded once per (event, source set, positions): `t:1` for the two sets with `t`, `s:2` for three sets.
    expect(encoded()).toBe(5);
    expect(texts(a)).toEqual(['s:2']);
    expect(texts(both)).toEqual(['t:1', 's:2']);
    expect(texts(reversed)).toEqual(['t:1', 's:2']);

    // The two subscribers of `s` got the one string encoded for them.
    expect(b[0]!.cursor).toBe(a[0]!.cursor);
    expect(decodeCursor(a[0]!.cursor)!.p).toEqual({ s: 1 });
    // The other sets' cursors name their own sources and positions (`t` at its first event).
    expect(decodeCursor(both[1]!.cursor)!.p).toEqual({ s: 1, t: 1 });
    expect(decodeCursor(reversed[1]!.cursor)!.p).toEqual({ s: 1, t: 1 });
    expect(Object.keys(decodeCursor(reversed[1]!.cursor)!.p)).toEqual(['t', 's']);
    expect(both[1]!.cursor).not.toBe(a[0]!.cursor);

    // A subscriber that joins later, at the same positions, gets the cursor the others got with the same event.
    const late = watch(['s', 't']);
    const more = encodings();
    await events.publish([event('s', 3)]);
    expect(more()).toBe(3);
    expect(late[0]!.cursor).toBe(both[2]!.cursor);
    expect(decodeCursor(late[0]!.cursor)!.p).toEqual({ s: 2, t: 1 });
  });

  it('keeps each cursor a position to resume from: a replay after a shared cursor gives exactly what followed it', async () => {
    const a = watch(['s']);
    const b = watch(['s']);
    await events.publish([event('s', 1), event('s', 2), event('s', 3)]);
    expect(b.map((e) => e.cursor)).toEqual(a.map((e) => e.cursor));

    // Resumed from the first event's cursor: the two that followed, in order, each with the cursor the live
    // subscribers got with it (replay and live are at the same positions).
    const resumed = watch(['s'], a[0]!.cursor);
    expect(texts(resumed)).toEqual(['s:2', 's:3']);
    expect(resumed[1]!.cursor).toBe(a[2]!.cursor);

    // Resumed on `s` and `t` with a cursor of `s` alone: `t` was not watched then (nothing of it missed), so it
    // starts at its head; the next event of `t` comes with the cursor a subscriber of both that was there all
    // along gets, and decodes to both positions.
    const all = watch(['s', 't']);
    const fromS = watch(['s', 't'], a[2]!.cursor);
    expect(texts(fromS)).toEqual([]);
    await events.publish([event('t', 4)]);
    expect(texts(fromS)).toEqual(['t:4']);
    expect(fromS[0]!.cursor).toBe(all[0]!.cursor);
    expect(decodeCursor(fromS[0]!.cursor)!.p).toEqual({ s: 3, t: 1 });
    expect(texts(watch(['s', 't'], fromS[0]!.cursor))).toEqual([]);
    expect(texts(watch(['s', 't'], a[0]!.cursor))).toEqual(['s:2', 's:3']);
  });
});
