import { ErrorCode, GatewayError } from '../../src/errors';
import { memoryThreadEvents, messageEvent, sourceMessageEvent } from '../utils/eventLogFixtures';
import { capturedLogger } from '../utils/logLines';
import { heldInstances, heldPubSub, scriptedConnector, SOURCE } from '../utils/unreadFakes';

/** The test kit's fixtures (test/utils/README.md) do what the suites that share them rely on. */

describe('test kit: unreadFakes', () => {
  it('heldPubSub holds publications until delivered: the picked ones first, the rest in publication order', async () => {
    const pubsub = heldPubSub();
    const got: unknown[] = [];
    await pubsub.transport.subscribe('t', (p) => got.push(p));
    for (const n of [1, 2, 3]) await pubsub.transport.publish('t', n % 2 ? { n } : { n, failed: true });
    expect(got).toEqual([]);
    expect(pubsub.held).toEqual([{ n: 1 }, { n: 2, failed: true }, { n: 3 }]);
    pubsub.deliver((p) => 'failed' in p);
    expect(got).toEqual([{ n: 2, failed: true }]);
    pubsub.deliver();
    expect(got).toEqual([{ n: 2, failed: true }, { n: 1 }, { n: 3 }]);
    expect(pubsub.held).toEqual([]);
    expect(pubsub.published).toEqual([{ n: 1 }, { n: 2, failed: true }, { n: 3 }]);
    await pubsub.transport.close();
  });

  it('scriptedConnector answers, fails with the code given and holds a read until released, counting reads', async () => {
    const s = scriptedConnector();
    const session = s.connector.openSession({ requestId: 'r' });
    s.answer(3);
    await expect(session.unreadCount!()).resolves.toEqual({ sourceId: SOURCE, total: 3, conversationsWithUnread: 1 });
    s.fail(ErrorCode.CIRCUIT_OPEN);
    await expect(session.unreadCount!()).rejects.toMatchObject({ code: ErrorCode.CIRCUIT_OPEN });
    const release = s.hold();
    const held = session.unreadCount!();
    release(new GatewayError(ErrorCode.SOURCE_TIMEOUT, 'late', { source: SOURCE }));
    await expect(held).rejects.toMatchObject({ code: ErrorCode.SOURCE_TIMEOUT });
    expect(s.reads()).toBe(3);
  });

  it("heldInstances: an instance's changed value reaches the others only when delivered; told keeps repeats, heard folds them", async () => {
    const { pubsub, coordination, instances, close } = await heldInstances(2);
    const [a, b] = instances;
    try {
      await a.read(4);
      await a.read(5);
      expect([a.told, b.told]).toEqual([[], []]);
      pubsub.deliver();
      // The first read records the totals (nothing to publish), the second changes them: published.
      expect([a.told, b.told]).toEqual([['value 5'], ['value 5']]);
      coordination.at = 1_001;
      await a.read('fail');
      coordination.at = 1_002;
      await a.read(5); // back with the same totals: told by the read, and again by its publication
      pubsub.deliver();
      expect(a.told).toEqual(['value 5', 'failure SOURCE_UNAVAILABLE', 'value 5', 'value 5']);
      expect(a.heard).toEqual(['value 5', 'failure SOURCE_UNAVAILABLE', 'value 5']);
    } finally {
      await close();
    }
  });
});

describe('test kit: eventLogFixtures', () => {
  it('builds distinct messages per number and source, and ThreadEvents that deliver them', async () => {
    expect(messageEvent(2, 'c9')).toMatchObject({
      sourceId: 's',
      conversationNativeId: 'c9',
      message: { nativeId: 'm2', content: 'message 2', sentAt: new Date(2000) },
      at: 2000,
    });
    expect(sourceMessageEvent('t', 3)).toMatchObject({ sourceId: 't', message: { nativeId: 't-m3' }, at: 3000 });
    const { events, pubsub } = await memoryThreadEvents(['s', 't'], 2);
    const got: string[] = [];
    events.watch(['s', 't'], null, (e) => got.push(e.kind === 'MessageAdded' ? e.event.sourceId : e.kind));
    await events.publish([sourceMessageEvent('t', 1)]);
    await events.publish([messageEvent(1)]);
    expect(got).toEqual(['t', 's']);
    await events.close();
    await pubsub.close();
  });
});

describe('test kit: logLines', () => {
  it('capturedLogger keeps every line written at its level or above, parsed, in order', () => {
    const { logger, lines } = capturedLogger('info');
    logger.debug('not kept');
    logger.info({ requestId: 'r1' }, 'first');
    logger.warn('second');
    expect(lines.map((l) => [l.msg, l.requestId, l.level])).toEqual([
      ['first', 'r1', 30],
      ['second', undefined, 40],
    ]);
  });
});
