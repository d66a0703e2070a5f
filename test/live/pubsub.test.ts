import type { PubSubTransport } from '../../src/live/pubsub';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { createRedisPubSub } from '../../src/live/transports/redis';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const waitFor = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** One suite, both transports: they must be interchangeable. */
describe.each<[string, () => PubSubTransport[]]>([
  [
    'in memory',
    () => {
      const p = createInMemoryPubSub();
      return [p, p];
    },
  ],
  [
    'Redis',
    () => [
      createRedisPubSub(REDIS_URL, `test-${process.pid}-${Date.now()}:`),
      createRedisPubSub(REDIS_URL, `test-${process.pid}-${Date.now()}:`),
    ],
  ],
])('pub/sub over %s', (_name, make) => {
  let a: PubSubTransport;
  let b: PubSubTransport;
  beforeEach(() => {
    [a, b] = make();
    if (a !== b) {
      // Two Redis transports must share a prefix to talk: use a's for both.
      const prefix = `test-${process.pid}-${Math.random().toString(36).slice(2)}:`;
      void a.close();
      void b.close();
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
