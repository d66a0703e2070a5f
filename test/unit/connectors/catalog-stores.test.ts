import type { CatalogStore } from '../../../src/connectors/catalog';
import { CATALOG_CHANGES_KEPT, createRedisCatalogStore } from '../../../src/connectors/catalog-stores/redis';
import { compareConversations, type ConversationModel } from '../../../src/connectors/types';
import { catalogStores, conversationModel as conv, messageModel } from '../../utils/catalog-stores';
import { BACKENDS, randomPrefix, redisClients, redisUrl, type Backend } from '../../utils/redis';
import { waitFor } from '../../utils/wait';

/**
 * One suite, both catalog stores: the CatalogStore contract (src/connectors/types.ts) must hold alike in memory
 * and in Redis (the server picks one by configuration, server/services.ts). `other` is a second gateway
 * instance on the same backend (in memory, the process's one store).
 */
const byInboxOrder = (items: readonly ConversationModel[]) => [...items].sort(compareConversations);
const ids = (items: readonly ConversationModel[] | undefined) => byInboxOrder(items ?? []).map((c) => c.nativeId);

describe.each<Backend>(BACKENDS)('catalog store %s', (backend) => {
  let stores: ReturnType<typeof catalogStores>;
  let store: CatalogStore;
  let other: CatalogStore;
  beforeEach(() => {
    stores = catalogStores(backend);
    store = stores.instance();
    other = stores.instance();
  });
  afterEach(() => stores.close());

  describe('snapshots', () => {
    it('has no snapshot for a source before its first write', async () => {
      expect(await store.read('s')).toBeNull();
    });

    it('reads back what was written: syncedAt and every conversation, with its Dates, last message and sender', async () => {
      const items = [
        conv('a'),
        conv('b', {
          lastMessageAt: null,
          createdAt: null,
          lastMessage: null,
          unreadCount: null,
          status: 'RESOLVED',
          labels: [],
        }),
        conv('c', { lastMessage: messageModel('c', { readAt: new Date('2026-01-03T00:00:00.000Z') }) }),
      ];
      await store.write('s', { syncedAt: 1234, items });
      for (const reader of [store, other]) {
        const snap = await reader.read('s');
        expect(snap?.syncedAt).toBe(1234);
        expect(byInboxOrder(snap!.items)).toEqual(byInboxOrder(items));
        const a = snap!.items.find((c) => c.nativeId === 'a')!;
        expect(a.lastMessageAt).toBeInstanceOf(Date);
        expect(a.lastMessage?.sentAt).toBeInstanceOf(Date);
        expect(snap!.items.find((c) => c.nativeId === 'c')!.lastMessage?.readAt).toEqual(
          new Date('2026-01-03T00:00:00.000Z'),
        );
      }
    });

    it('keeps "ask the connector" fields unset: an undefined last message or unread count stays undefined', async () => {
      await store.write('s', { syncedAt: 1, items: [conv('p', { lastMessage: undefined, unreadCount: undefined })] });
      const [p] = (await other.read('s'))!.items;
      expect(p!.lastMessage).toBeUndefined();
      expect(p!.unreadCount).toBeUndefined();
    });

    it('replaces the whole snapshot on write: conversations the new one lacks are gone', async () => {
      await store.write('s', { syncedAt: 1, items: [conv('a'), conv('b')] });
      await other.write('s', { syncedAt: 2, items: [conv('b', { subject: 'new' }), conv('c')] });
      const snap = await store.read('s');
      expect(snap?.syncedAt).toBe(2);
      expect(ids(snap?.items)).toEqual(['b', 'c']);
      expect(snap!.items.find((c) => c.nativeId === 'b')!.subject).toBe('new');
    });

    it('stores an empty source as an empty snapshot, not as none', async () => {
      await store.write('s', { syncedAt: 5, items: [conv('a')] });
      await store.write('s', { syncedAt: 6, items: [] });
      expect(await other.read('s')).toEqual({ syncedAt: 6, items: [] });
    });

    it('keeps sources apart', async () => {
      await store.write('s1', { syncedAt: 1, items: [conv('a')] });
      await store.write('s2', { syncedAt: 2, items: [conv('b')] });
      await store.patch('s1', [conv('x')], ['a']);
      expect(ids((await other.read('s1'))?.items)).toEqual(['x']);
      expect(ids((await other.read('s2'))?.items)).toEqual(['b']);
      expect(await other.read('s3')).toBeNull();
    });
  });

  describe('patches', () => {
    it('upserts and removes single conversations without touching syncedAt', async () => {
      await store.write('s', { syncedAt: 100, items: [conv('a'), conv('b'), conv('c')] });
      await other.patch('s', [conv('b', { unreadCount: 7 }), conv('d')], ['c']);
      const snap = await store.read('s');
      expect(snap?.syncedAt).toBe(100);
      expect(ids(snap?.items)).toEqual(['a', 'b', 'd']);
      expect(snap!.items.find((c) => c.nativeId === 'b')!.unreadCount).toBe(7);
    });

    it('ignores a patch before the first write (the first sync reads everything anyway)', async () => {
      await store.patch('s', [conv('a')], ['b']);
      expect(await other.read('s')).toBeNull();
    });

    it('ignores removals of conversations it does not hold', async () => {
      await store.write('s', { syncedAt: 1, items: [conv('a')] });
      await store.patch('s', [], ['zz']);
      expect(ids((await other.read('s'))?.items)).toEqual(['a']);
    });
  });

  describe('versions', () => {
    it('serves the same parsed snapshot while nothing changed, and a new one after each write or patch', async () => {
      await store.write('s', { syncedAt: 1, items: [conv('a')] });
      const first = (await store.read('s'))!.items;
      expect((await store.read('s'))!.items).toBe(first);

      await other.patch('s', [conv('b')], []);
      const patched = (await store.read('s'))!.items;
      expect(patched).not.toBe(first);
      expect(ids(patched)).toEqual(['a', 'b']);
      expect((await store.read('s'))!.items).toBe(patched);

      await other.write('s', { syncedAt: 2, items: [conv('c')] });
      expect(ids((await store.read('s'))!.items)).toEqual(['c']);
    });
  });

  describe('sync lease', () => {
    it('grants a free lease once: every other caller, the holder included, is refused until it is released', async () => {
      expect(await store.acquireSync('s', 60_000)).toBe(true);
      expect(await other.acquireSync('s', 60_000)).toBe(false);
      expect(await store.acquireSync('s', 60_000)).toBe(false);
      await store.releaseSync('s');
      expect(await other.acquireSync('s', 60_000)).toBe(true);
      await other.releaseSync('s');
    });

    it('holds one lease per source', async () => {
      expect(await store.acquireSync('s1', 60_000)).toBe(true);
      expect(await other.acquireSync('s2', 60_000)).toBe(true);
      await store.releaseSync('s1');
      await other.releaseSync('s2');
    });

    it('frees a lease its holder never released once its time to live has passed', async () => {
      expect(await store.acquireSync('s', 50)).toBe(true);
      expect(await other.acquireSync('s', 60_000)).toBe(false);
      await waitFor(() => other.acquireSync('s', 60_000), { timeoutMs: 5000, what: 'the expired lease' });
      await other.releaseSync('s');
    });

    it('takes a release of a lease it does not hold as a no-op', async () => {
      await expect(store.releaseSync('never-taken')).resolves.toBeUndefined();
      expect(await other.acquireSync('never-taken', 60_000)).toBe(true);
      await other.releaseSync('never-taken');
    });
  });
});

describe('the Redis catalog store', () => {
  const clients = redisClients();
  let prefix: string;
  beforeEach(() => {
    prefix = randomPrefix('catalog');
  });
  afterEach(() => clients.closeAll(prefix));

  it('reads the items again only when the version moved: one HMGET a read while nothing changes', async () => {
    const redis = clients.open();
    const store = createRedisCatalogStore(redis, prefix);
    await store.write('s', { syncedAt: 1, items: [conv('a'), conv('b')] });
    // Another instance's write: this one has to parse the items once.
    await createRedisCatalogStore(clients.open(), prefix).write('s', { syncedAt: 1, items: [conv('a'), conv('b')] });
    const hmget = jest.spyOn(redis, 'hmget');
    const hvals = jest.spyOn(redis, 'hvals');
    await store.read('s');
    await store.read('s');
    await store.read('s');
    expect([hmget.mock.calls.length, hvals.mock.calls.length]).toEqual([3, 1]);
    await store.patch('s', [conv('c')], []);
    await store.read('s');
    // The patch is caught up from the change list: one more HMGET of the meta, one of the patched row, no HVALS.
    expect([hmget.mock.calls.length, hvals.mock.calls.length]).toEqual([5, 1]);
    await store.write('s', { syncedAt: 2, items: [conv('a')] });
    await store.read('s');
    // Its own full write is the snapshot of the new version: nothing to parse either.
    expect([hmget.mock.calls.length, hvals.mock.calls.length]).toEqual([6, 1]);
  });

  it('catches another instance up on patches with the touched rows only (issue 13 target 5), and on touch with nothing', async () => {
    const writer = createRedisCatalogStore(clients.open(), prefix);
    const redis = clients.open();
    const reader = createRedisCatalogStore(redis, prefix);
    const items = Array.from({ length: 100 }, (_, i) => conv(`c${i}`));
    await writer.write('s', { syncedAt: 1, items });
    expect((await reader.read('s'))?.items).toHaveLength(100);
    const hvals = jest.spyOn(redis, 'hvals');
    const hmget = jest.spyOn(redis, 'hmget');
    await writer.patch('s', [conv('c1', { subject: 'changed' }), conv('new')], ['c2']);
    await writer.patch('s', [conv('c3', { subject: 'changed too' })], []);
    await writer.touch('s', 99);
    const snap = await reader.read('s');
    expect(hvals).not.toHaveBeenCalled();
    // The meta, then the four touched rows in one HMGET.
    expect(hmget.mock.calls.map((c) => c.slice(1))).toEqual([
      ['syncedAt', 'version', 'base'],
      ['c1', 'new', 'c2', 'c3'],
    ]);
    expect(snap?.syncedAt).toBe(99);
    expect(ids(snap?.items)).toEqual(ids((await createRedisCatalogStore(clients.open(), prefix).read('s'))?.items));
    expect(snap?.items).toHaveLength(100);
    expect(snap?.items.find((c) => c.nativeId === 'c1')?.subject).toBe('changed');
    expect(snap?.items.find((c) => c.nativeId === 'c2')).toBeUndefined();

    // A touch alone moves no version: the next read parses nothing.
    hmget.mockClear();
    await writer.touch('s', 100);
    expect((await reader.read('s'))?.syncedAt).toBe(100);
    expect(hmget).toHaveBeenCalledTimes(1);
  });

  it('reads everything again when the change list no longer reaches back to its version, or after a full write', async () => {
    const writer = createRedisCatalogStore(clients.open(), prefix);
    const redis = clients.open();
    const reader = createRedisCatalogStore(redis, prefix);
    await writer.write('s', { syncedAt: 1, items: [conv('a')] });
    await reader.read('s');
    const hvals = jest.spyOn(redis, 'hvals');
    for (let i = 0; i <= CATALOG_CHANGES_KEPT; i += 100) {
      const n = Math.min(100, CATALOG_CHANGES_KEPT + 1 - i);
      await Promise.all(Array.from({ length: n }, (_, j) => writer.patch('s', [conv(`p${(i + j) % 5}`)], [])));
    }
    expect(await redis.llen(`${prefix}catalog:s:changes`)).toBe(CATALOG_CHANGES_KEPT);
    expect(ids((await reader.read('s'))?.items)).toEqual(
      ids([conv('a'), ...[0, 1, 2, 3, 4].map((i) => conv(`p${i}`))]),
    );
    expect(hvals).toHaveBeenCalledTimes(1);
    await writer.write('s', { syncedAt: 2, items: [conv('z')] });
    expect(ids((await reader.read('s'))?.items)).toEqual(['z']);
    expect(hvals).toHaveBeenCalledTimes(2);
    expect(await redis.exists(`${prefix}catalog:s:changes`)).toBe(0);
  });

  it('keeps the layout it documents: items hash, meta hash (syncedAt, version, base), change list and the lease key', async () => {
    const redis = clients.open();
    const store = createRedisCatalogStore(redis, prefix);
    await store.write('s', { syncedAt: 42, items: [conv('a')] });
    await store.patch('s', [conv('b')], []);
    expect(await redis.hkeys(`${prefix}catalog:s:items`)).toEqual(expect.arrayContaining(['a', 'b']));
    expect(await redis.hgetall(`${prefix}catalog:s:meta`)).toEqual({ syncedAt: '42', version: '2', base: '1' });
    expect(await redis.lrange(`${prefix}catalog:s:changes`, 0, -1)).toEqual(['2|["b"]']);
    expect(await store.acquireSync('s', 60_000)).toBe(true);
    expect(await redis.pttl(`${prefix}catalog:s:sync`)).toBeGreaterThan(0);
    await store.releaseSync('s');
    expect(await redis.exists(`${prefix}catalog:s:sync`)).toBe(0);
  });

  it('releases only its own lease: one that expired and was taken by another instance stays with that one', async () => {
    const a = createRedisCatalogStore(clients.open(), prefix);
    const b = createRedisCatalogStore(clients.open(), prefix);
    expect(await a.acquireSync('s', 50)).toBe(true);
    await waitFor(() => b.acquireSync('s', 60_000), { timeoutMs: 5000, what: 'the expired lease' });
    await a.releaseSync('s');
    expect(await a.acquireSync('s', 60_000)).toBe(false);
    await b.releaseSync('s');
    expect(await a.acquireSync('s', 60_000)).toBe(true);
    await a.releaseSync('s');
  });

  it('closes a connection it opened from a URL, and leaves a connection it was given open', async () => {
    const given = clients.open();
    await createRedisCatalogStore(given, prefix).close();
    expect(await given.ping()).toBe('PONG');

    const owned = createRedisCatalogStore(redisUrl(), prefix);
    await owned.write('s', { syncedAt: 1, items: [] });
    await owned.close();
    await expect(owned.read('s')).rejects.toThrow(/closed/i);
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

describe('the Redis catalog store while Redis is down (issue 12 item 2)', () => {
  const clients = redisClients();
  let prefix: string;
  beforeEach(() => {
    prefix = randomPrefix('catalog-down');
  });
  afterEach(() => clients.closeAll(prefix));

  it('serves and patches its own copy of the last snapshot, and marks the source stale in Redis when it returns', async () => {
    const health = switchableHealth();
    const store = createRedisCatalogStore(clients.open(), prefix, { health });
    const other = createRedisCatalogStore(clients.open(), prefix); // another instance, on Redis only
    await store.write('s', { syncedAt: 1000, items: [conv('a'), conv('b')] });

    health.set(true);
    expect(ids((await store.read('s'))?.items)).toEqual(ids([conv('a'), conv('b')]));
    expect((await store.read('s'))?.syncedAt).toBe(1000);
    await store.patch('s', [conv('c')], ['a']);
    expect(ids((await store.read('s'))?.items)).toEqual(ids([conv('b'), conv('c')]));
    expect(ids((await other.read('s'))?.items)).toEqual(ids([conv('a'), conv('b')])); // Redis did not get it

    // Back: what Redis holds misses the patch, so the source is stale there and the next read re-syncs it.
    health.set(false);
    expect((await store.read('s'))?.syncedAt).toBe(0);
    expect((await other.read('s'))?.syncedAt).toBe(0);
    await store.write('s', { syncedAt: 2000, items: [conv('b'), conv('c')] });
    expect(ids((await other.read('s'))?.items)).toEqual(ids([conv('b'), conv('c')]));
  });

  it('with no copy (started during the outage) has no snapshot, so the catalog syncs from the vendor, under a local lease', async () => {
    const health = switchableHealth();
    health.set(true);
    const store = createRedisCatalogStore(clients.open(), prefix, { health });
    expect(await store.read('s')).toBeNull();
    expect(await store.acquireSync('s', 60_000)).toBe(true);
    expect(await store.acquireSync('s', 60_000)).toBe(false);
    await store.write('s', { syncedAt: 5, items: [conv('a')] });
    await store.releaseSync('s');
    expect(ids((await store.read('s'))?.items)).toEqual(['a']);
    expect(await store.acquireSync('s', 60_000)).toBe(true);
    await store.releaseSync('s');
    // Nothing reached Redis.
    const redis = clients.open();
    expect(await redis.exists(`${prefix}catalog:s:meta`, `${prefix}catalog:s:sync`)).toBe(0);
  });
});
