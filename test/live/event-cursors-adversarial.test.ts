import { decodeCursor, type DeliveredEvent, type ThreadEvents } from '../../src/live/events';
import { memoryThreadEvents, sourceMessageEvent as event } from '../utils/eventLogFixtures';

/**
 * Adversarial probes of shared cursors (07c578c, issue 14 fan-out lever 1; docs/live.md "Cursors"): one encoded
 * cursor per (event, source set, positions). Subscribers that get the same event object with other source sets,
 * in another order, or at other positions of the same set (one still replaying another source) must each get a
 * cursor that resumes, on a fresh subscription of their set, with exactly the events they got after it.
 */
const label = (e: DeliveredEvent) =>
  e.kind === 'ResyncRequired' ? `resync:${e.reason}` : `${e.event.sourceId}:${e.event.at / 1000}`;

/** Each source's events in the order given (a replay goes source by source: docs/live.md "Cursors"). */
const bySource = (labels: string[]) => {
  const out: Record<string, string[]> = {};
  for (const l of labels) (out[l.split(':')[0]!] ??= []).push(l);
  return out;
};

describe('shared thread event cursors, adversarial (docs/live.md "Cursors"; issue 14 fan-out)', () => {
  let events: ThreadEvents;
  const stops: Array<() => void> = [];
  beforeEach(async () => {
    ({ events } = await memoryThreadEvents(['s', 't'], 50));
  });
  afterEach(async () => {
    stops.splice(0).forEach((stop) => stop());
    await events.close();
  });
  const watch = (sourceIds: string[], after: string | null = null) => {
    const got: DeliveredEvent[] = [];
    stops.push(events.watch(sourceIds, after, (e) => got.push(e)));
    return got;
  };
  const publish = async (...es: Array<[string, number]>) => {
    for (const [s, n] of es) await events.publish([event(s, n)]);
  };

  /** Every cursor a subscriber of `sourceIds` got resumes with exactly the events it got after that one. */
  const expectEachCursorResumes = (name: string, sourceIds: string[], got: DeliveredEvent[]) => {
    got.forEach((e, i) => {
      const resumed = watch(sourceIds, e.cursor).map(label);
      expect({ name, after: label(e), resumed: bySource(resumed) }).toEqual({
        name,
        after: label(e),
        resumed: bySource(got.slice(i + 1).map(label)),
      });
    });
  };

  it('subscribers of other source sets and orders at the same events each get cursors that resume exactly', async () => {
    const onS = watch(['s']);
    const onT = watch(['t']);
    const onST = watch(['s', 't']);
    const onTS = watch(['t', 's']);
    await publish(['s', 1], ['t', 1], ['s', 2], ['t', 2], ['s', 3]);
    expect(onS.map(label)).toEqual(['s:1', 's:2', 's:3']);
    expect(onT.map(label)).toEqual(['t:1', 't:2']);
    expect(onST.map(label)).toEqual(['s:1', 't:1', 's:2', 't:2', 's:3']);
    expect(onTS.map(label)).toEqual(['s:1', 't:1', 's:2', 't:2', 's:3']);
    // The same event object, three source sets: three cursors, each naming its own sources.
    expect(new Set([onS[0]!.cursor, onST[0]!.cursor, onTS[0]!.cursor]).size).toBe(3);
    expect(decodeCursor(onS[1]!.cursor)!.p).toEqual({ s: 2 });
    expect(decodeCursor(onST[2]!.cursor)!.p).toEqual({ s: 2, t: 1 });
    expectEachCursorResumes('s', ['s'], onS);
    expectEachCursorResumes('t', ['t'], onT);
    expectEachCursorResumes('s,t', ['s', 't'], onST);
    expectEachCursorResumes('t,s', ['t', 's'], onTS);
  });

  it('a subscriber still replaying one source gets its own cursor for an event a live subscriber of its set got at other positions', async () => {
    const live = watch(['s', 't']);
    await publish(['s', 1], ['t', 1], ['s', 2], ['t', 2]);
    // Resumed after s:1 (t at 0): the replay goes source by source, so it gets s:2 while its t is still at 0,
    // where the live subscriber got s:2 with t at 1.
    const resumed = watch(['s', 't'], live[0]!.cursor);
    expect(resumed.map(label)).toEqual(['s:2', 't:1', 't:2']);
    expect(decodeCursor(resumed[0]!.cursor)!.p).toEqual({ s: 2, t: 0 });
    expect(decodeCursor(live[2]!.cursor)!.p).toEqual({ s: 2, t: 1 });
    // Leaving right after s:2 and coming back with its cursor: t:1 and t:2 are what it missed.
    expect(watch(['s', 't'], resumed[0]!.cursor).map(label)).toEqual(['t:1', 't:2']);
    expectEachCursorResumes('resumed', ['s', 't'], resumed);
    // And it carries on live at the others' positions: the next event's cursor is the one the live subscriber got.
    await publish(['s', 3]);
    expect(resumed.at(-1)!.cursor).toBe(live.at(-1)!.cursor);
    expectEachCursorResumes('live', ['s', 't'], live);
  });

  it('a subscriber of a subset and one of a superset at the same event never swap cursors (a missed event of the other source)', async () => {
    const onS = watch(['s']);
    await publish(['t', 1]);
    const onST = watch(['s', 't']);
    await publish(['s', 1]);
    // Encoded first for `s` alone; the subscriber of both must not get a cursor without `t` (t:2 would be lost).
    expect(decodeCursor(onS[0]!.cursor)!.p).toEqual({ s: 1 });
    expect(decodeCursor(onST[0]!.cursor)!.p).toEqual({ s: 1, t: 1 });
    await publish(['t', 2], ['s', 2]);
    expect(watch(['s', 't'], onST[0]!.cursor).map(label)).toEqual(['s:2', 't:2']);
    expect(watch(['s'], onS[0]!.cursor).map(label)).toEqual(['s:2']);
  });
});
