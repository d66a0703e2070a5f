import { Redis } from 'ioredis';
import type { PubSubTransport } from '../../src/live/pubsub';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { createRedisPubSub } from '../../src/live/transports/redis';
import { BACKENDS, randomPrefix, REDIS_URL, type Backend } from '../utils/redis';
import { waitFor } from '../utils/wait';

/** One suite, both transports: they must be interchangeable. `a` publishes, `b` (another instance) subscribes. */
describe.each<Backend>(BACKENDS)('pub/sub over %s', (backend) => {
  let a: PubSubTransport;
  let b: PubSubTransport;
  beforeEach(() => {
    if (backend === 'in memory') {
      a = b = createInMemoryPubSub();
    } else {
      // Two Redis transports must share a prefix to talk.
      const prefix = randomPrefix('pubsub');
      a = createRedisPubSub(REDIS_URL, prefix);
      b = createRedisPubSub(REDIS_URL, prefix);
    }
  });
  afterEach(async () => {
    await a.close();
    if (b !== a) await b.close();
  });

  it('delivers a JSON payload published on one side to a subscriber on the other', async () => {
    const got: unknown[] = [];
    await b.subscribe('unread:x', (p) => got.push(p));
    await a.publish('unread:x', { sourceId: 'x', total: 3, conversationsWithUnread: 2 });
    await waitFor(() => got.length === 1);
    expect(got).toEqual([{ sourceId: 'x', total: 3, conversationsWithUnread: 2 }]);
  });

  it('keeps topics apart and preserves order within a topic', async () => {
    const x: number[] = [];
    const y: number[] = [];
    await b.subscribe('t:x', (p) => x.push(p as number));
    await b.subscribe('t:y', (p) => y.push(p as number));
    for (let i = 0; i < 50; i++) await a.publish(i % 2 ? 't:x' : 't:y', i);
    await waitFor(() => x.length === 25 && y.length === 25);
    expect(x).toEqual([...Array(25)].map((_, i) => i * 2 + 1));
    expect(y).toEqual([...Array(25)].map((_, i) => i * 2));
  });

  it('stops delivering after unsubscribe', async () => {
    const got: unknown[] = [];
    const off = await b.subscribe('t:z', (p) => got.push(p));
    await a.publish('t:z', 1);
    await waitFor(() => got.length === 1);
    await off();
    await a.publish('t:z', 2);
    const sentinel: unknown[] = [];
    await b.subscribe('t:z', (p) => sentinel.push(p));
    await a.publish('t:z', 3);
    await waitFor(() => sentinel.length === 1);
    expect(got).toEqual([1]);
  });
});

/** A Redis health stand-in that the test turns down and up (server/redisHealth.ts is the gateway's). */
function switchableHealth() {
  let down = false;
  return {
    isDown: () => down,
    guard: async <T>(run: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> => (down ? fallback() : run()),
    onChange: () => () => undefined,
    set(isDown: boolean) {
      down = isDown;
    },
  };
}

describe('Redis pub/sub while Redis is down (issue 12 item 2)', () => {
  const clients: Redis[] = [];
  const transports: PubSubTransport[] = [];
  afterEach(async () => {
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
    await Promise.allSettled(clients.splice(0).map((c) => c.quit()));
  });

  it("delivers a publish to this instance's own subscribers only, and a subscription made meanwhile joins Redis once its connection is back", async () => {
    const prefix = randomPrefix('pubsub-down');
    const health = switchableHealth();
    const publisher = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(publisher, subscriber);
    const a = createRedisPubSub({ publisher, subscriber }, prefix, { health });
    const b = createRedisPubSub(REDIS_URL, prefix);
    transports.push(a, b);
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    await b.subscribe('t', (p) => gotB.push(p));

    health.set(true);
    await a.subscribe('t', (p) => gotA.push(p)); // live here at once
    await a.publish('t', { n: 1 });
    await waitFor(() => gotA.length === 1, { what: 'the local delivery' });
    expect(gotA).toEqual([{ n: 1 }]);

    // Redis is back: the subscriber connection reconnects, and the channel subscribed meanwhile joins Redis.
    health.set(false);
    subscriber.disconnect(true);
    await waitFor(
      async () => {
        await b.publish('t', { n: 2 });
        return gotA.some((p) => (p as { n: number }).n === 2);
      },
      { everyMs: 50, what: "a publish of the other instance to reach this one's subscription" },
    );
    // The local delivery never went through Redis: the other instance only has its own publishes.
    expect(gotB.every((p) => (p as { n: number }).n === 2)).toBe(true);
  });
});
