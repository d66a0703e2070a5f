import type { Redis } from 'ioredis';
import { createGateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';

/**
 * server/services.ts: a gateway with Redis opens one connection set, `<prefix>commands` (catalogs, idempotency,
 * live leases and event ids, persisted queries, publishing) and `<prefix>subscriber` (pub/sub), and closes both.
 */
describe('the Redis connection set', () => {
  const prefix = randomPrefix('services');
  const clients = redisClients();
  let admin: Redis;
  let t: TestGateway | undefined;
  beforeAll(() => {
    admin = clients.open();
  });
  afterAll(async () => {
    await t?.close();
    await clients.closeAll(prefix);
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

  it('is closed again when the gateway cannot listen', async () => {
    t = await startTestGateway({
      kinds: ['MONICA'],
      configure: (c) => ({ ...c, redis: { url: REDIS_URL, keyPrefix: prefix } }),
    });
    const taken = Number(new URL(t.url).port);
    await expect(
      createGateway({
        config: {
          ...t.embedded.config,
          server: { ...t.embedded.config.server, port: taken },
          redis: { url: REDIS_URL, keyPrefix: `${prefix}second:` },
        },
        logger: createLogger({ level: 'silent' }),
      }),
    ).rejects.toThrow(/EADDRINUSE/);
    // Connections still in their handshake would show up within a moment; give them one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await ours()).filter((n) => n.startsWith(`${prefix}second:`))).toEqual([]);
  });
});
