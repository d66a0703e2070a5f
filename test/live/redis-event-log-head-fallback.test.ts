import type { RedisGuard } from '../../src/connectors/catalog-stores/redis';
import { RedisEventLog } from '../../src/live/redisEventLog';
import { randomPrefix, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';

/**
 * Found while chasing test/live/events-polling-instances.test.ts's flake (nothing reached the subscriber on the
 * standing-by instance although the polling instance had read the details and published).
 *
 * src/live/redisEventLog.ts: a reader's first read of a source's head (`start`) learns where the stream ends, "what
 * came before is not live news". When that read falls back (one command timed out while Redis is still up: the
 * health guard falls back without an outage, so no `onChange(up)` re-reads), the reader kept no position, and the
 * first notification it heard then read the head, already past the entries that woke it: they were never fed to
 * this instance's listeners. Now a notification heard before the head is known sets where live news starts (just
 * before the entry it names), and a read that fell back while Redis is up is made again after a second
 * (docs/live.md "Event log").
 */
describe('RedisEventLog: a first head read that fell back', () => {
  const redis = redisClients();
  const prefix = randomPrefix('head-fallback');
  afterAll(() => redis.closeAll(prefix));

  it('still feeds the entries appended after start, including those whose notification woke it', async () => {
    const client = redis.open();
    let fallBacks = 1;
    // One command falls back (a timeout) while Redis stays up: no onChange follows.
    const flaky: RedisGuard = {
      isDown: () => false,
      guard: async (run, fallback) => (fallBacks-- > 0 ? fallback() : run()),
      onChange: () => () => undefined,
    };
    type E = { n: number };
    const log = (health?: RedisGuard) =>
      new RedisEventLog<E>({
        redis: client,
        prefix,
        maxLength: 100,
        maxAgeMs: 600_000,
        decode: (_s, p) => p as E,
        health,
      });
    const writer = log();
    const reader = log(flaky);
    const fed: number[] = [];
    reader.feed((_s, e) => fed.push(e.event.n));
    try {
      await writer.start(['px']);
      await reader.start(['px']); // its head read falls back
      // Three events appended after the reader started, then their notifications.
      const marks = [];
      for (const n of [1, 2, 3]) marks.push(await writer.record('px', { n }));
      marks.forEach((mark, i) => reader.hear('px', { n: i + 1 }, mark));
      // A fourth one: once it is fed, every read the notifications started is done.
      reader.hear('px', { n: 4 }, await writer.record('px', { n: 4 }));
      await waitFor(() => fed.includes(4), { timeoutMs: 10_000, what: 'the fourth entry fed' });
      expect(fed).toEqual([1, 2, 3, 4]); // with the bug: [4]
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});
