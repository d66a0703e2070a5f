import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Config } from '../../src/config/schema';
import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { sha256Hex } from '../../src/server/persisted';
import { createWsClient } from '../utils/ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';

/**
 * Persisted operations: Apollo's automatic persisted queries (shared through Redis across instances), and the
 * safelist mode that accepts only the operations of a manifest.
 */
type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const post = async (t: TestGateway, body: unknown): Promise<{ status: number; body: Body }> => {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Body };
};
const apq = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });

describe('automatic persisted queries', () => {
  it('registers a query once, then runs it by hash', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    try {
      const query = `{ sources { id kind } }`;
      const hash = sha256Hex(query);
      const miss = await post(t, apq(hash));
      expect(miss.body.errors).toEqual([
        { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
      ]);
      const register = await post(t, { query, ...apq(hash) });
      expect(register.body).toEqual({ data: { sources: [{ id: 'pixieset', kind: 'PIXIESET' }] } });
      expect((await post(t, apq(hash))).body).toEqual(register.body);
      // A hash that does not match its query is refused.
      const wrong = await post(t, { query, ...apq(sha256Hex('{ sources { id } }')) });
      expect(wrong.body.errors).toEqual([
        { message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } },
      ]);
      const version = await post(t, { extensions: { persistedQuery: { version: 2, sha256Hash: hash } } });
      expect(version.body.errors).toEqual([
        { message: 'Unsupported persisted query version', extensions: { code: 'BAD_REQUEST' } },
      ]);
    } finally {
      await t.close();
    }
  });

  describe('with Redis', () => {
    let embedded: Embedded;
    const keyPrefix = randomPrefix('apq');
    const clients = redisClients();
    beforeAll(async () => {
      embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET'] });
    });
    afterAll(async () => {
      await embedded.sandbox.close();
      await clients.closeAll(keyPrefix);
    });

    it('shares registrations: registered on one instance, found by hash on another', async () => {
      const configure = (c: Config): Config => ({ ...c, redis: { url: REDIS_URL, keyPrefix } });
      const a = await startTestGateway({ embedded, configure });
      const b = await startTestGateway({ embedded, configure });
      try {
        const query = `query Shared { sources { id name } }`;
        const hash = sha256Hex(query);
        expect((await post(b, apq(hash))).body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
        expect((await post(a, { query, ...apq(hash) })).body.errors).toBeUndefined();
        expect((await post(b, apq(hash))).body).toEqual({
          data: { sources: [{ id: 'pixieset', name: 'Pixieset Studio' }] },
        });
        const redis = new Redis(REDIS_URL);
        try {
          expect(await redis.get(`${keyPrefix}apq:${hash}`)).toBe(query);
          expect(await redis.ttl(`${keyPrefix}apq:${hash}`)).toBeGreaterThan(0);
        } finally {
          await redis.quit();
        }
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

describe('safelist mode', () => {
  const registered = `query Badge { unreadCount { total } }`;
  const other = `{ sources { id } }`;
  let dir: string;
  let t: TestGateway;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'safelist-'));
    const manifest = join(dir, 'operations.json');
    writeFileSync(manifest, JSON.stringify({ [sha256Hex(registered)]: registered }));
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, server: { ...c.server, persistedQueries: { safelist: manifest } } }),
    });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs registered operations, by hash or in full', async () => {
    const byHash = await post(t, apq(sha256Hex(registered)));
    expect(byHash.body).toEqual({ data: { unreadCount: { total: expect.any(Number) } } });
    expect((await post(t, { query: registered })).body).toEqual(byHash.body);
    const get = await fetch(
      `${t.url}/graphql?extensions=${encodeURIComponent(JSON.stringify(apq(sha256Hex(registered)).extensions))}`,
      {
        headers: { authorization: `Bearer ${t.apiKey}` },
      },
    );
    expect(await get.json()).toEqual(byHash.body);
  });

  it('refuses any other operation with PERSISTED_QUERY_NOT_FOUND, and registers nothing new', async () => {
    const full = await post(t, { query: other });
    expect(full.status).toBe(400);
    expect(full.body.errors).toEqual([
      {
        message: `Only registered operations are accepted (safelist mode); this operation (sha256 ${sha256Hex(other)}) is not registered.`,
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
      },
    ]);
    expect((await post(t, { query: other, ...apq(sha256Hex(other)) })).body.errors?.[0]?.extensions?.code).toBe(
      'PERSISTED_QUERY_NOT_FOUND',
    );
    expect((await post(t, apq(sha256Hex(other)))).body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('applies over graphql-ws too', async () => {
    const client = createWsClient(t.wsUrl, t.apiKey);
    const run = (query: string) =>
      new Promise<unknown>((resolve) => {
        client.subscribe({ query }, { next: resolve, error: resolve, complete: () => undefined });
      });
    expect(await run(other)).toEqual([expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } })]);
    expect(await run(registered)).toEqual({ data: { unreadCount: { total: expect.any(Number) } } });
    await client.dispose();
  });

  it('refuses to start with a manifest whose hashes do not match their queries', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ [sha256Hex('{ a }')]: '{ b }' }));
    await expect(
      startTestGateway({
        embedded: t.embedded,
        configure: (c) => ({ ...c, server: { ...c.server, persistedQueries: { safelist: bad } } }),
      }),
    ).rejects.toThrow(/is not the sha256 of its query/);
  });
});
