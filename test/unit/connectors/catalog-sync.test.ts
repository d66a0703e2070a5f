import { CatalogSync, ConversationCatalog, type CatalogReader } from '../../../src/connectors/catalog';
import type { ConversationModel, RequestScope, SourceChange } from '../../../src/connectors/types';
import { catalogStores, conversationModel as conv } from '../../utils/catalog-stores';
import { BACKENDS, type Backend } from '../../utils/redis';

/**
 * The one owner of a source's catalog sync (src/connectors/catalog.ts `CatalogSync`), over both stores: what it
 * reads through the vendor's reader, what one call's reads share, and what a webhook change or a poll does to the
 * catalog. The reader here is a vendor's side written down (a table of conversations), with each call recorded.
 */
interface Cache {
  id: number;
}

function tableReader(rows: Map<string, ConversationModel>) {
  let caches = 0;
  const calls: string[] = [];
  const reader: CatalogReader<Cache> = {
    readAll: async (scope, cache) => {
      calls.push(`all ${scope.requestId} cache${cache.id}`);
      return [...rows.values()];
    },
    readOne: async (scope, id, cache) => {
      calls.push(`one ${id} ${scope.requestId} cache${cache.id}`);
      if (id === 'unreadable') return undefined;
      return rows.get(id) ?? null;
    },
    cache: () => ({ id: ++caches }),
  };
  return { reader, calls };
}

const ids = (items: readonly ConversationModel[] | null) => (items ? items.map((c) => c.nativeId).sort() : null);
const scope = (requestId: string): RequestScope => ({ requestId });

describe.each<Backend>(BACKENDS)('catalog sync over the %s store', (backend) => {
  let stores: ReturnType<typeof catalogStores>;
  let catalog: ConversationCatalog;
  let rows: Map<string, ConversationModel>;
  let table: ReturnType<typeof tableReader>;
  let sync: CatalogSync<Cache>;
  const diff = (before: ConversationModel[], after: ConversationModel[]): SourceChange[] =>
    after
      .filter((c) => !before.some((b) => b.nativeId === c.nativeId))
      .map((c) => ({ sourceId: 's', conversationNativeId: c.nativeId, conversation: c }));

  beforeEach(() => {
    stores = catalogStores(backend);
    catalog = new ConversationCatalog(stores.instance(), 's', 60_000);
    rows = new Map([
      ['a', conv('a')],
      ['b', conv('b')],
    ]);
    table = tableReader(rows);
    sync = new CatalogSync(catalog, table.reader, { diff });
  });
  afterEach(() => stores.close());

  it('reads every conversation once through the reader, in the caller’s scope and with the caller’s cache', async () => {
    expect(ids(await sync.all(scope('r1'), { id: 99 }))).toEqual(['a', 'b']);
    expect(ids(await sync.all(scope('r2')))).toEqual(['a', 'b']);
    expect(table.calls).toEqual(['all r1 cache99']);
  });

  it('re-reads nothing before the first sync, then upserts what is there, removes what is gone, keeps what cannot be read', async () => {
    await sync.refresh(scope('w0'), ['a']);
    expect(table.calls).toEqual([]);
    rows.set('unreadable', conv('unreadable'));
    await sync.all(scope('r1'));
    rows.set('a', { ...conv('a'), subject: 'changed' });
    rows.delete('b');
    rows.set('c', conv('c'));
    await sync.refresh(scope('w1'), ['a', 'b', 'c', 'a', 'unreadable']);
    // One cache for the whole call, each id once.
    expect(table.calls.slice(1).sort()).toEqual(
      ['one a w1 cache2', 'one b w1 cache2', 'one c w1 cache2', 'one unreadable w1 cache2'].sort(),
    );
    const items = (await catalog.peek()) ?? [];
    expect(ids(items)).toEqual(['a', 'c', 'unreadable']);
    expect(items.find((c) => c.nativeId === 'a')?.subject).toBe('changed');
  });

  it('applies webhook changes in the engine’s scope: named ones are re-read, one without a conversation invalidates', async () => {
    await sync.all(scope('r1'));
    await sync.applyChanges(
      [
        { sourceId: 's', conversationNativeId: 'a' },
        { sourceId: 's', conversationNativeId: 'a' },
      ],
      scope('live-s-1'),
    );
    expect(table.calls).toEqual(['all r1 cache1', 'one a live-s-1 cache2']);
    await sync.applyChanges([{ sourceId: 's', conversationNativeId: null }], scope('live-s-2'));
    expect(await catalog.age()).toBeGreaterThan(60_000);
    await sync.all(scope('r2'));
    expect(table.calls).toEqual(['all r1 cache1', 'one a live-s-1 cache2', 'all r2 cache3']);
  });

  it('reconciles by a full sync diffed by the vendor’s rule; the first one only sets the baseline', async () => {
    expect(await sync.reconcile(scope('p1'))).toEqual({ changes: [], size: 2 });
    rows.set('c', conv('c'));
    const { changes, size } = await sync.reconcile(scope('p2'));
    expect(size).toBe(3);
    expect(changes.map((c) => [c.conversationNativeId, c.conversation?.nativeId])).toEqual([['c', 'c']]);
    expect(ids(await catalog.peek())).toEqual(['a', 'b', 'c']);
  });
});
