import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  createMemoryIdempotencyStore,
  createRedisIdempotencyStore,
  decodeResult,
  encodeResult,
  type IdempotencyStore,
} from '../../src/server/idempotency';
import { ErrorCode, GatewayError } from '../../src/errors';
import { randomPrefix, redisClients } from '../utils/redis';

/**
 * The idempotency stores: one run per key however many callers (and, with Redis, however many instances),
 * the same result for all, a failure releases the key, another input under the same key is refused.
 */
const message = {
  sourceId: 'pixieset',
  nativeId: 'msg_1',
  conversationNativeId: 'conv_1',
  content: 'Hi',
  sentAt: new Date('2025-08-07T10:30:00.123Z'),
  readAt: null,
  direction: 'OUTGOING',
  private: false,
  sender: {
    sourceId: 'pixieset',
    nativeId: 'u1',
    name: 'Ann',
    email: null,
    phone: null,
    kind: 'AGENT',
    avatarUrl: null,
    avatarColor: null,
  },
  attachments: [
    { sourceId: 'pixieset', nativeId: 'a1', filename: 'x.pdf', contentType: 'application/pdf', size: 3, url: null },
  ],
  nested: [{ at: new Date('2024-01-01T00:00:00.000Z') }],
};

describe('stored results', () => {
  it('survive JSON and come back with their Dates', () => {
    const back = decodeResult<typeof message>(encodeResult(message));
    expect(back).toEqual(message);
    expect(back.sentAt).toBeInstanceOf(Date);
    expect(back.nested[0]!.at).toBeInstanceOf(Date);
  });
});

async function behavesIdempotently(stores: IdempotencyStore[]) {
  const key = `k-${randomUUID()}`;
  let calls = 0;
  const fn = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 50));
    return { ...message, nativeId: `msg_${calls}` };
  };
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.run(key, 'f1', fn)),
  );
  expect(calls).toBe(1);
  for (const r of results) expect(r).toEqual(results[0]);
  expect(results[0]!.sentAt).toBeInstanceOf(Date);
  // Later repeats, on every store, get the same result without running.
  for (const s of stores) expect(await s.run(key, 'f1', fn)).toEqual(results[0]);
  expect(calls).toBe(1);
  // Another input under the same key is refused.
  await expect(stores[0]!.run(key, 'f2', fn)).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });

  // A failure is not a result: it releases the key.
  const key2 = `k-${randomUUID()}`;
  await expect(
    stores[0]!.run(key2, 'f', () =>
      Promise.reject(new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'down', { source: 'x' })),
    ),
  ).rejects.toMatchObject({
    code: ErrorCode.SOURCE_UNAVAILABLE,
  });
  expect(await stores[stores.length - 1]!.run(key2, 'f', async () => 'second try')).toBe('second try');
}

describe('idempotency stores', () => {
  it('in memory: one run for 50 concurrent callers, the same result, failures release the key', async () => {
    await behavesIdempotently([createMemoryIdempotencyStore()]);
  });

  describe('in Redis', () => {
    const clients = redisClients();
    const conns: Redis[] = [];
    const prefix = randomPrefix('idem');
    afterAll(() => clients.closeAll(prefix));
    const store = () => {
      const c = clients.open();
      conns.push(c);
      return createRedisIdempotencyStore(c, { prefix });
    };

    it('across two instances: one run for 50 concurrent callers, the same result, failures release the key', async () => {
      await behavesIdempotently([store(), store()]);
    });

    it("keeps results for 24 hours and lets a dead instance's claim expire", async () => {
      const [a, b] = [store(), store()];
      const key = `k-${randomUUID()}`;
      await a.run(key, 'f', async () => 1);
      const ttl = await conns[0]!.pttl(`${prefix}idem:${createHash('sha256').update(key).digest('hex')}`);
      expect(ttl).toBeGreaterThan(86_000_000);

      // An instance that claims and never finishes: after its lease another instance runs.
      const short = createRedisIdempotencyStore(conns[0]!, { prefix, leaseMs: 200 });
      const key2 = `k-${randomUUID()}`;
      void short.run(key2, 'f', () => new Promise<number>(() => undefined));
      await new Promise((r) => setTimeout(r, 20));
      expect(await b.run(key2, 'f', async () => 2)).toBe(2);
    });
  });
});
