import { MemoryEventLog } from '../../src/live/eventLog';
import { decodeCursor, fromWire, type DeliveredEvent, type ThreadEvent } from '../../src/live/events';
import { memoryThreadEvents, messageEvent as event } from '../utils/eventLogFixtures';

/**
 * docs/live.md "Event log" and "Cursors": the bounded log per source, replay after a cursor, and the reasons a
 * gap cannot be filled. The same over a live gateway: test/live/behaviour.test.ts "conversationEvents".
 */
const content = (e: ThreadEvent) => ('message' in e ? e.message.content : e.kind);

describe('MemoryEventLog', () => {
  it('numbers events per source and gives those after a position, oldest first', () => {
    const log = new MemoryEventLog<ThreadEvent>({ maxLength: 10, maxAgeMs: 60_000 });
    expect(log.head('s')).toBe(0);
    for (let n = 1; n <= 3; n++) log.append('s', event(n));
    log.append('other', event(9));
    expect(log.head('s')).toBe(3);
    expect(log.since('s', 1)).toEqual({
      events: [expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 3 })],
    });
    expect(log.since('s', 3)).toEqual({ events: [] });
    expect(log.since('s', 0)).toEqual({ events: expect.arrayContaining([expect.objectContaining({ seq: 1 })]) });
  });

  it('keeps at most maxLength events and none older than maxAgeMs; a position before them is a gap', () => {
    let now = 0;
    const log = new MemoryEventLog<ThreadEvent>({ maxLength: 2, maxAgeMs: 1_000, now: () => now });
    for (let n = 1; n <= 3; n++) log.append('s', event(n));
    expect(log.since('s', 0)).toEqual({ gap: 'TRIMMED' });
    expect(log.since('s', 1)).toEqual({
      events: [expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 3 })],
    });
    now = 1_001;
    expect(log.since('s', 2)).toEqual({ gap: 'TRIMMED' });
    expect(log.since('s', 3)).toEqual({ events: [] });
    expect(log.since('s', 4)).toEqual({ gap: 'UNKNOWN_CURSOR' });
  });
});

describe('ThreadEvents', () => {
  const setup = async (maxLength = 10) => {
    const { events, pubsub } = await memoryThreadEvents(['s'], maxLength);
    const got: DeliveredEvent[] = [];
    const texts = () => got.map((e) => (e.kind === 'ResyncRequired' ? `resync:${e.reason}` : content(e.event)));
    return { pubsub, events, got, texts };
  };

  it('publishes each identity once (the send and its echo), and replays what followed a cursor, then live ones', async () => {
    const { pubsub, events, got, texts } = await setup();
    const stop = events.watch(['s'], null, (e) => got.push(e));
    await events.publish([event(1)]);
    await events.publish([event(1)]);
    expect(texts()).toEqual(['message 1']);
    const cursor = got[0]!.cursor;
    stop();
    await events.publish([event(2), event(3)]);
    const resumed: DeliveredEvent[] = [];
    events.watch(['s'], cursor, (e) => resumed.push(e));
    await events.publish([event(4)]);
    expect(resumed.map((e) => (e.kind === 'ResyncRequired' ? e.reason : content(e.event)))).toEqual([
      'message 2',
      'message 3',
      'message 4',
    ]);
    expect(decodeCursor(resumed.at(-1)!.cursor)?.p).toEqual({ s: 4 });
    await events.close();
    await pubsub.close();
  });

  it('starts with ResyncRequired when the cursor is trimmed, unknown or not a cursor', async () => {
    const { pubsub, events } = await setup(1);
    const first: DeliveredEvent[] = [];
    events.watch(['s'], null, (e) => first.push(e));
    await events.publish([event(1), event(2), event(3)]);
    const reasons = (after: string) => {
      const got: DeliveredEvent[] = [];
      events.watch(['s'], after, (e) => got.push(e));
      return got.map((e) => (e.kind === 'ResyncRequired' ? e.reason : e.kind));
    };
    expect(reasons(first[0]!.cursor)).toEqual(['TRIMMED']);
    // The log keeps one event (the third): after the second, it is all that was missed.
    expect(reasons(first[1]!.cursor)).toEqual(['MessageAdded']);
    expect(reasons(first[2]!.cursor)).toEqual([]);
    expect(reasons(Buffer.from(JSON.stringify({ e: 'another', p: { s: 1 } })).toString('base64url'))).toEqual([
      'UNKNOWN_CURSOR',
    ]);
    expect(reasons('garbage')).toEqual(['INVALID_CURSOR']);
    await events.close();
    await pubsub.close();
  });
  it('publishes each conversation event of a write (no echo to drop), and revives dates from the JSON a topic carries', async () => {
    const { pubsub, events, texts, got } = await setup();
    events.watch(['s'], null, (e) => got.push(e));
    // A read has no identity (no vendor webhook reports one): each is published.
    const read = {
      kind: 'ConversationRead',
      sourceId: 's',
      conversationNativeId: 'c1',
      conversation: { sourceId: 's', nativeId: 'c1', createdAt: null, updatedAt: null, lastMessageAt: null },
      at: 5,
    } as unknown as ThreadEvent;
    await events.publish([read]);
    await events.publish([read]);
    expect(texts()).toEqual(['ConversationRead', 'ConversationRead']);
    const wire = JSON.parse(JSON.stringify(event(7))) as unknown;
    const revived = fromWire('s', wire);
    expect(revived && 'message' in revived ? revived.message.sentAt : null).toEqual(new Date(7000));
    expect(fromWire('other', wire)).toBeNull();
    expect(fromWire('s', { ...(wire as object), kind: 'Unknown' })).toBeNull();
    await events.close();
    await pubsub.close();
  });
});
