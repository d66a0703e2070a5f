import { Redis } from 'ioredis';
import { startTestGateway, type TestGateway } from '../utils/gateway';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * server/services.ts: a gateway with Redis opens one connection set, `<prefix>commands` (catalogs, idempotency,
 * live leases and event ids, persisted queries, publishing) and `<prefix>subscriber` (pub/sub), and closes both.
 */
describe('the Redis connection set', () => {
  const prefix = `test-services-${process.pid}-${Date.now()}:`;
  let admin: Redis;
  let t: TestGateway | undefined;
  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await t?.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  /** The names of Redis clients that belong to this test's gateway. */
  const ours = async () =>
    ((await admin.call('CLIENT', 'LIST')) as string)
      .split('\n')
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith(prefix))
      .sort();

  it('is two named connections, opened at start and closed with the gateway', async () => {
    t = await startTestGateway({
      kinds: ['MONICA', 'PROTOCOL'],
      redisUrl: REDIS_URL,
      configure: (c) => ({ ...c, redis: { url: REDIS_URL, keyPrefix: prefix } }),
    });
    // The catalog (Monica lists from it) writes through the commands connection.
    const inbox = await t.gql<{ conversations: { edges: unknown[] } }>(
      '{ conversations(first: 5) { edges { cursor } } }',
    );
    expect(inbox.body.errors).toBeUndefined();
    expect((await admin.keys(`${prefix}catalog:*`)).length).toBeGreaterThan(0);
    expect(await ours()).toEqual([`${prefix}commands`, `${prefix}subscriber`]);

    await t.close();
    t = undefined;
    expect(await ours()).toEqual([]);
  });
});
