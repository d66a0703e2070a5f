import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/schema';
import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { sha256Hex } from '../../src/server/persisted';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';

/**
 * Issue 12 item 5: automatic persisted-query registration cannot fill Redis: a registrable document has a size
 * cap (server.persistedQueries.maxQueryBytes), and each API key may register only so many new documents per
 * window (registrationsPerKey / registrationWindowMs), refused with LIMIT_EXCEEDED before anything is stored.
 */
type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const post = async (t: TestGateway, body: unknown, key = t.apiKey) => {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
};
const apq = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
const register = (t: TestGateway, query: string, key?: string) => post(t, { query, ...apq(sha256Hex(query)) }, key);

describe('persisted-query registration limits (item 5), with Redis', () => {
  let embedded: Embedded;
  let redis: Redis;
  const keyPrefix = randomPrefix('apq-limits');
  const clients = redisClients();
  const withRedis =
    (pq: NonNullable<Config['server']['persistedQueries']> = {}) =>
    (c: Config): Config => ({
      ...c,
      redis: { url: REDIS_URL, keyPrefix },
      server: { ...c.server, persistedQueries: pq },
    });
  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET'] });
    redis = clients.open();
  });
  afterAll(async () => {
    await embedded.sandbox.close();
    await clients.closeAll(keyPrefix);
  });

  it('refuses to register a 900 KB document (a string literal is one token) with 413 LIMIT_EXCEEDED, storing nothing', async () => {
    const t = await startTestGateway({ embedded, configure: withRedis() });
    try {
      const query = `{ node(id: "${'x'.repeat(900_000)}") { id } }`;
      const hash = sha256Hex(query);
      const r = await register(t, query);
      expect(r.status).toBe(413);
      expect(r.body.errors).toEqual([
        {
          message: `The persisted query is ${Buffer.byteLength(query)} bytes; at most 65536 bytes may be registered.`,
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'server.persistedQueries.maxQueryBytes', maxSize: 65_536 },
        },
      ]);
      expect(await redis.exists(`${keyPrefix}apq:${hash}`)).toBe(0);
      expect((await post(t, apq(hash))).body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      // A document under the cap registers as before.
      const small = `{ sources { id } }`;
      expect((await register(t, small)).body).toEqual({ data: { sources: [{ id: 'pixieset' }] } });
      expect(await redis.get(`${keyPrefix}apq:${sha256Hex(small)}`)).toBe(small);
    } finally {
      await t.close();
    }
  });

  it('counts new registrations per API key across instances: past the cap, 429 LIMIT_EXCEEDED with retryAfter', async () => {
    const pq = { registrationsPerKey: 3, registrationWindowMs: 60_000 };
    const a = await startTestGateway({ embedded, configure: withRedis(pq) });
    const b = await startTestGateway({ embedded, configure: withRedis(pq) });
    try {
      const q = (i: number) => `query Reg${i}_${randomUUID().replace(/-/g, '')} { sources { id } }`;
      const first = [q(1), q(2), q(3)];
      expect((await register(a, first[0]!)).status).toBe(200);
      expect((await register(b, first[1]!)).status).toBe(200);
      expect((await register(a, first[2]!)).status).toBe(200);
      const fourth = q(4);
      const refused = await register(b, fourth);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body.errors).toEqual([
        {
          message: 'This API key registered 3 persisted queries within 60 s, the most allowed; retry later.',
          extensions: {
            code: 'LIMIT_EXCEEDED',
            limit: 'server.persistedQueries.registrationsPerKey',
            retryAfter: expect.any(Number),
          },
        },
      ]);
      expect(await redis.exists(`${keyPrefix}apq:${sha256Hex(fourth)}`)).toBe(0);
      // Re-sending a registered query is no new registration; running by hash is not limited.
      expect((await register(b, first[0]!)).status).toBe(200);
      expect((await post(a, apq(sha256Hex(first[1]!)))).status).toBe(200);
      // Another key has its own count.
      expect((await register(a, fourth, a.limitedKey)).status).toBe(200);
      // A plain query (no registration) still runs.
      expect((await post(a, { query: fourth })).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('persisted-query registration limits (item 5), in memory', () => {
  it('applies the size cap and the per-key count without Redis too', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({
        ...c,
        server: { ...c.server, persistedQueries: { maxQueryBytes: 2048, registrationsPerKey: 1 } },
      }),
    });
    try {
      const big = `{ node(id: "${'y'.repeat(3000)}") { id } }`;
      expect((await register(t, big)).body.errors?.[0]?.extensions).toEqual({
        code: 'LIMIT_EXCEEDED',
        limit: 'server.persistedQueries.maxQueryBytes',
        maxSize: 2048,
      });
      expect((await register(t, `query One { sources { id } }`)).status).toBe(200);
      expect((await register(t, `query Two { sources { id } }`)).status).toBe(429);
      expect((await register(t, `query One { sources { id } }`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
