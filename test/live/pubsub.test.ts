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
