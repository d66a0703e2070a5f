import {
  ConversationCatalog,
  showsLastMessage,
  withSentMessage,
  type CatalogStore,
} from '../../../src/connectors/catalog';
import type { ConversationModel } from '../../../src/connectors/types';
import { catalogStores, conversationModel as conv, messageModel } from '../../utils/catalog-stores';
import { BACKENDS, type Backend } from '../../utils/redis';
import { deferred, sleep, waitFor } from '../../utils/wait';

/**
 * One suite, both stores: the conversation catalog (src/connectors/catalog.ts) keeps the same freshness, lease and
 * patch behaviour whether its store is in memory or in Redis. `here` and `there` are two gateway instances on the
 * same backend, each with its own catalog of source `s`.
 */
const ids = (items: readonly ConversationModel[] | null) => (items ? items.map((c) => c.nativeId).sort() : null);

/** A full sync that returns `items` and counts its calls. */
function syncOf(...items: ConversationModel[]) {
  const fn = jest.fn(async () => items);
  return fn;
}

describe.each<Backend>(BACKENDS)('conversation catalog over the %s store', (backend) => {
  let stores: ReturnType<typeof catalogStores>;
  let hereStore: CatalogStore;
  let thereStore: CatalogStore;
  let here: ConversationCatalog;
  let there: ConversationCatalog;
  beforeEach(() => {
    stores = catalogStores(backend);
    hereStore = stores.instance();
    thereStore = stores.instance();
    here = new ConversationCatalog(hereStore, 's', 60_000);
    there = new ConversationCatalog(thereStore, 's', 60_000);
  });
  afterEach(() => stores.close());

  describe('reads', () => {
    it('syncs on the first read, then serves the snapshot while it is fresh, on every instance', async () => {
      const sync = syncOf(conv('a'), conv('b'));
      expect(ids(await here.all(sync))).toEqual(['a', 'b']);
      expect(ids(await here.all(sync))).toEqual(['a', 'b']);
      expect(ids(await there.all(sync))).toEqual(['a', 'b']);
      expect(sync).toHaveBeenCalledTimes(1);
    });

    it('syncs again once the snapshot is older than maxAgeMs', async () => {
      await hereStore.write('s', { syncedAt: Date.now() - 61_000, items: [conv('old')] });
      const sync = syncOf(conv('new'));
      expect(ids(await here.all(sync))).toEqual(['new']);
      expect(sync).toHaveBeenCalledTimes(1);
      expect(ids(await there.peek())).toEqual(['new']);
    });

    it('shares one running sync between the concurrent reads of an instance', async () => {
      const gate = deferred<ConversationModel[]>();
      const sync = jest.fn(() => gate.promise);
      const reads = [here.all(sync), here.all(sync), here.all(sync)];
      await started(sync);
      gate.resolve([conv('a')]);
      expect((await Promise.all(reads)).map(ids)).toEqual([['a'], ['a'], ['a']]);
      expect(sync).toHaveBeenCalledTimes(1);
    });

    it('serves the stale snapshot, without syncing, while another instance holds the sync lease', async () => {
      await hereStore.write('s', { syncedAt: 1, items: [conv('stale')] });
      const gate = deferred<ConversationModel[]>();
      const hereSync = jest.fn(() => gate.promise);
      const hereRead = here.all(hereSync);
      await started(hereSync);
      expect(await thereStore.acquireSync('s', 60_000)).toBe(false);
      const thereSync = syncOf(conv('other'));
      expect(ids(await there.all(thereSync))).toEqual(['stale']);
      expect(thereSync).not.toHaveBeenCalled();
      gate.resolve([conv('fresh')]);
      expect(ids(await hereRead)).toEqual(['fresh']);
      expect(ids(await there.all(thereSync))).toEqual(['fresh']);
      expect(thereSync).not.toHaveBeenCalled();
    });

    it('syncs itself when there is no snapshot at all, even while another instance holds the lease', async () => {
      const gate = deferred<ConversationModel[]>();
      const hereSync = jest.fn(() => gate.promise);
      const hereRead = here.all(hereSync);
      await started(hereSync);
      expect(await thereStore.acquireSync('s', 60_000)).toBe(false);
      const thereSync = syncOf(conv('mine'));
      expect(ids(await there.all(thereSync))).toEqual(['mine']);
      expect(thereSync).toHaveBeenCalledTimes(1);
      gate.resolve([conv('theirs')]);
      await hereRead;
    });

    it('releases the lease after a sync, a failed one included, and tries again on the next read', async () => {
      const failing = jest.fn(async (): Promise<ConversationModel[]> => {
        throw new Error('vendor down');
      });
      await expect(here.all(failing)).rejects.toThrow('vendor down');
      expect(await thereStore.acquireSync('s', 60_000)).toBe(true);
      await thereStore.releaseSync('s');
      const sync = syncOf(conv('a'));
      expect(ids(await here.all(sync))).toEqual(['a']);
      expect(await thereStore.acquireSync('s', 60_000)).toBe(true);
      await thereStore.releaseSync('s');
    });
  });

  describe('patches', () => {
    it('upserts and removes conversations without a sync and without ageing the snapshot', async () => {
      await here.all(syncOf(conv('a'), conv('b')));
      const syncedAt = (await hereStore.read('s'))!.syncedAt;
      await there.upsert(conv('c'), conv('a', { subject: 'changed' }));
      await there.remove('b');
      const sync = syncOf(conv('never'));
      const items = await here.all(sync);
      expect(ids(items)).toEqual(['a', 'c']);
      expect(items.find((c) => c.nativeId === 'a')!.subject).toBe('changed');
      expect(sync).not.toHaveBeenCalled();
      expect((await hereStore.read('s'))!.syncedAt).toBe(syncedAt);
    });

    it('drops patches before the first sync (the first sync reads everything anyway)', async () => {
      await here.upsert(conv('a'));
      await here.remove('b');
      expect(await there.peek()).toBeNull();
      expect(await there.age()).toBeNull();
    });

    it('keeps a patch made while a sync runs: the patch waits for the sync to store its snapshot', async () => {
      const gate = deferred<ConversationModel[]>();
      const sync = jest.fn(() => gate.promise);
      const read = here.all(sync);
      await started(sync);
      let patched = false;
      const patch = here.upsert(conv('late')).then(() => (patched = true));
      await sleep(20);
      expect(patched).toBe(false);
      gate.resolve([conv('a')]);
      await Promise.all([read, patch]);
      expect(ids(await there.peek())).toEqual(['a', 'late']);
    });

    it('invalidates: the next read syncs again, and the stored items stay until then', async () => {
      await here.all(syncOf(conv('a')));
      await there.invalidate();
      expect(ids(await here.peek())).toEqual(['a']);
      expect(await here.age()).toBeGreaterThan(60_000);
      const sync = syncOf(conv('b'));
      expect(ids(await here.all(sync))).toEqual(['b']);
      expect(sync).toHaveBeenCalledTimes(1);
    });
  });

  describe('resync (polls)', () => {
    it('syncs whatever the age, and returns the items before (null before the first sync) and after', async () => {
      expect(await here.resync(syncOf(conv('a')))).toEqual({ before: null, after: [conv('a')] });
      const second = await there.resync(syncOf(conv('b')));
      expect(ids(second.before)).toEqual(['a']);
      expect(ids(second.after)).toEqual(['b']);
      expect(ids(await here.peek())).toEqual(['b']);
    });

    it('syncs and stores even while another instance holds the lease', async () => {
      await hereStore.write('s', { syncedAt: Date.now(), items: [conv('a')] });
      expect(await thereStore.acquireSync('s', 60_000)).toBe(true);
      const sync = syncOf(conv('b'));
      expect(ids((await here.resync(sync)).after)).toEqual(['b']);
      expect(sync).toHaveBeenCalledTimes(1);
      expect(ids(await there.peek())).toEqual(['b']);
      await thereStore.releaseSync('s');
    });
  });

  describe('webhook changes', () => {
    it('re-reads each named conversation once, at most `concurrency` at a time', async () => {
      await here.all(syncOf(conv('a')));
      let inFlight = 0;
      let most = 0;
      const refreshed: string[] = [];
      const refresh = async (id: string) => {
        most = Math.max(most, ++inFlight);
        await sleep(5);
        refreshed.push(id);
        inFlight--;
      };
      const changes = ['a', 'b', 'a', 'c', 'd', 'e', 'b'].map((id) => ({ sourceId: 's', conversationNativeId: id }));
      await here.applyChanges(changes, refresh, 2);
      expect(refreshed.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(most).toBe(2);
    });

    it('invalidates the snapshot for a change that names no conversation, re-reading none', async () => {
      await here.all(syncOf(conv('a')));
      const refresh = jest.fn(async () => undefined);
      await there.applyChanges(
        [
          { sourceId: 's', conversationNativeId: 'a' },
          { sourceId: 's', conversationNativeId: null },
        ],
        refresh,
      );
      expect(refresh).not.toHaveBeenCalled();
      const sync = syncOf(conv('b'));
      expect(ids(await here.all(sync))).toEqual(['b']);
      expect(sync).toHaveBeenCalledTimes(1);
    });
  });
});

/** Waits until a sync function was called: its read holds the sync lease from then on. */
async function started(sync: jest.Mock): Promise<void> {
  await waitFor(() => sync.mock.calls.length > 0, { what: 'the sync to start' });
}

describe.each<Backend>(BACKENDS)('one conversation of the catalog over the %s store (issue 13)', (backend) => {
  let stores: ReturnType<typeof catalogStores>;
  let here: ConversationCatalog;
  let there: ConversationCatalog;
  let hereStore: CatalogStore;
  beforeEach(() => {
    stores = catalogStores(backend);
    hereStore = stores.instance();
    here = new ConversationCatalog(hereStore, 's', 60_000);
    there = new ConversationCatalog(stores.instance(), 's', 60_000);
  });
  afterEach(() => stores.close());

  it('looks a conversation up in a fresh snapshot only, without ever syncing', async () => {
    expect(await here.lookup('a')).toBeUndefined(); // no snapshot
    const sync = syncOf(conv('a'), conv('b'));
    await here.all(sync);
    expect((await here.lookup('a'))?.subject).toBe('Subject a');
    expect((await there.lookup('b'))?.nativeId).toBe('b');
    expect(await here.lookup('gone')).toBeUndefined(); // not held: the caller reads it
    await hereStore.write('s', { syncedAt: Date.now() - 61_000, items: [conv('a')] });
    expect(await here.lookup('a')).toBeUndefined(); // stale
    expect(sync).toHaveBeenCalledTimes(1);
  });

  it('amends a held conversation from a write answer, seen by every instance; false when it is not held', async () => {
    await here.all(syncOf(conv('a')));
    const sent = messageModel('a', { nativeId: 'a:m2', content: 'sent', sentAt: new Date('2026-01-03T00:00:00Z') });
    expect(await here.amend('a', (held) => withSentMessage(held, sent))).toBe(true);
    const seen = await there.peekOne('a');
    expect(seen?.lastMessage?.content).toBe('sent');
    expect(seen?.lastMessageAt?.toISOString()).toBe('2026-01-03T00:00:00.000Z');
    expect(seen?.unreadCount).toBe(1); // the vendor decides: left as it was
    expect(showsLastMessage(seen, 'a:m2', Date.parse('2026-01-03T00:00:00Z'))).toBe(true);
    expect(showsLastMessage(seen, 'a:m2', Date.parse('2026-01-03T00:00:01Z'))).toBe(false);
    expect(showsLastMessage(seen, 'a:m1', null)).toBe(false);
    // An older send does not replace a newer last message.
    const older = messageModel('a', { nativeId: 'a:m0', sentAt: new Date('2026-01-01T00:00:00Z') });
    expect(withSentMessage(seen!, older)).toBeUndefined();
    expect(await here.amend('b', () => conv('b'))).toBe(false);
    expect(await there.peekOne('b')).toBeUndefined();
  });

  it('lets an echo check wait for the writes of this instance in flight to a conversation', async () => {
    const gate = deferred();
    const write = here.track('a', () => gate.promise);
    let settled = false;
    const waiting = here.writesSettled(['a']).then(() => (settled = true));
    await here.writesSettled(['b']); // nothing in flight there: resolves at once, while 'a' still waits
    expect(settled).toBe(false);
    gate.resolve();
    await Promise.all([write, waiting]);
    expect(settled).toBe(true);
  });
});
