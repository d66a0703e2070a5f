import { MemoryEventLog } from '../../src/live/eventLog';
import { ThreadEvents, type DeliveredEvent, type ThreadEvent } from '../../src/live/events';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination } from '../../src/live/coordination';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { eventually } from '../utils/wait';
import { messageEvent as event } from '../utils/eventLogFixtures';

/**
 * Issue 14 fan-out: an event goes to a source's listeners a slice at a time (500 per turn of the event loop), so
 * the first subscribers' writes do not wait for the last ones' work; every listener still gets every event once
 * and in log order, even when the next event arrives while one is still being handed out.
 */

describe('thread event delivery in slices', () => {
  it('serves 1,200 listeners over several turns, each getting every event once and in order', async () => {
    const ctx = createLiveContext({
      connectors: [],
      pubsub: createInMemoryPubSub(),
      coordination: createMemoryCoordination(),
    });
    const events = new ThreadEvents(ctx, ['s'], new MemoryEventLog<ThreadEvent>({ maxLength: 10, maxAgeMs: 60_000 }));
    await events.ready;
    const N = 1_200;
    const got: string[][] = Array.from({ length: N }, () => []);
    let servedWhenFirstTurnEnded = -1;
    const stops = got.map((mine, i) =>
      events.watch(['s'], null, (e: DeliveredEvent) => {
        mine.push(e.kind === 'ResyncRequired' ? 'resync' : String(e.event.at / 1000));
        // The first listener's first event: how many have theirs once this turn (and its microtasks) is over.
        if (i === 0 && mine.length === 1)
          setImmediate(() => (servedWhenFirstTurnEnded = got.filter((g) => g.length > 0).length));
      }),
    );
    try {
      await events.publish([event(1), event(2), event(3)]);
      await eventually(() => expect(got.every((g) => g.length === 3)).toBe(true));
      expect(got.every((g) => g.join() === '1,2,3')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      // Not all at once: the first turn served a slice, the rest came on later turns.
      expect(servedWhenFirstTurnEnded).toBeGreaterThanOrEqual(500);
      expect(servedWhenFirstTurnEnded).toBeLessThan(N);
    } finally {
      stops.forEach((stop) => stop());
      await events.close();
    }
  });
});
