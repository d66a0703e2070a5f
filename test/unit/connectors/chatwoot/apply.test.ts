import { ConversationCatalog } from '../../../../src/connectors/catalog';
import { createMemoryCatalogStore } from '../../../../src/connectors/catalog-stores/memory';
import {
  applyChatwootChanges,
  diffCatalog,
  reconcileCatalog,
  WebhookVersions,
} from '../../../../src/connectors/chatwoot/apply';
import type { ConversationModel } from '../../../../src/connectors/types';

const row = (nativeId: string, over: Partial<ConversationModel> = {}): ConversationModel => ({
  sourceId: 'cw',
  nativeId,
  subject: null,
  status: 'OPEN',
  channel: null,
  createdAt: null,
  updatedAt: new Date(1_000_000),
  lastMessageAt: new Date(1_000_000),
  unreadCount: 0,
  muted: false,
  pinned: false,
  archived: false,
  labels: [],
  participants: [],
  lastMessage: null,
  ...over,
});
const change = (id: string | null) => ({ sourceId: 'cw', conversationNativeId: id });

describe('chatwoot webhook application (apply.ts)', () => {
  async function catalogWith(items: ConversationModel[], maxAgeMs = 60_000) {
    const catalog = new ConversationCatalog(createMemoryCatalogStore(), 'cw', maxAgeMs);
    await catalog.all(async () => items);
    return catalog;
  }

  it('re-reads a conversation only when an event is newer than the catalog’s copy, or a message event came', async () => {
    const catalog = await catalogWith([row('1:1'), row('1:2'), row('1:3'), row('1:4')]);
    const versions = new WebhookVersions();
    versions.observe({ conversationNativeId: '1:1', updatedAt: 1_000_000, message: false }); // already held
    versions.observe({ conversationNativeId: '1:1', updatedAt: 999_000, message: false }); // an older, late one
    versions.observe({ conversationNativeId: '1:2', updatedAt: 1_000_500, message: false }); // newer than held
    versions.observe({ conversationNativeId: '1:3', updatedAt: 1_000_000, message: false });
    versions.observe({ conversationNativeId: '1:3', updatedAt: null, message: true }); // a message: always
    const refreshed: string[] = [];
    const refresh = async (id: string) => {
      refreshed.push(id);
    };
    // The engine keeps one change per conversation (here the last one); what was seen is kept per conversation.
    await applyChatwootChanges(
      catalog,
      versions,
      [change('1:1'), change('1:2'), change('1:3'), change('1:4'), change('1:9')],
      refresh,
      4,
    );
    // 1:4 and 1:9 were never seen by the parser (a gateway write, a change from elsewhere): re-read as before.
    expect(refreshed.sort()).toEqual(['1:2', '1:3', '1:4', '1:9']);
    // What was seen is forgotten once applied: the next change of 1:1 without an event is re-read.
    refreshed.length = 0;
    await applyChatwootChanges(catalog, versions, [change('1:1')], refresh, 4);
    expect(refreshed).toEqual(['1:1']);
  });

  it('invalidates the catalog for a change without a conversation, and does nothing when every change is held', async () => {
    const catalog = await catalogWith([row('1:1')]);
    const versions = new WebhookVersions();
    versions.observe({ conversationNativeId: '1:1', updatedAt: 1_000_000, message: false });
    const refreshed: string[] = [];
    await applyChatwootChanges(catalog, versions, [change('1:1')], async (id) => void refreshed.push(id), 4);
    expect(refreshed).toEqual([]);
    expect(await catalog.age()).toBeLessThan(60_000);
    await applyChatwootChanges(catalog, versions, [change(null)], async (id) => void refreshed.push(id), 4);
    expect(await catalog.age()).toBeGreaterThan(60_000);
  });

  it('skips the echo of a message the catalog shows as its last one, and waits for a send still patching it', async () => {
    const message = (nativeId: string, sentAt: number) => ({
      sourceId: 'cw',
      nativeId,
      conversationNativeId: nativeId.split('/')[0]!,
      content: 'hi',
      sentAt: new Date(sentAt),
      readAt: null,
      direction: 'OUTGOING' as const,
      private: false,
      sender: null,
      attachments: [],
    });
    const catalog = await catalogWith([row('1:1'), row('1:2'), row('1:3'), row('1:4')]);
    const versions = new WebhookVersions();
    const created = (id: string, m: string, sentAt: number) =>
      versions.observe({
        conversationNativeId: id,
        updatedAt: null,
        message: true,
        created: { messageNativeId: m, sentAt },
      });
    // 1:1: a send of this process, still patching the catalog from its answer when the echo is applied.
    let patched!: () => void;
    const sending = catalog.track('1:1', async () => {
      await new Promise<void>((resolve) => (patched = resolve));
      await catalog.amend('1:1', (held) => ({
        ...held,
        lastMessage: message('1:1/50', 2_000_000),
        lastMessageAt: new Date(2_000_000),
      }));
    });
    created('1:1', '1:1/50', 2_000_000);
    // 1:2: the echo plus another event of the same batch (a status change newer than the catalog's copy).
    await catalog.amend('1:2', (held) => ({ ...held, lastMessage: message('1:2/60', 2_000_000) }));
    created('1:2', '1:2/60', 2_000_000);
    versions.observe({ conversationNativeId: '1:2', updatedAt: 2_000_000, message: false });
    // 1:3: a message the catalog does not show (somebody else's); 1:4: a message_updated (always re-read).
    created('1:3', '1:3/70', 2_000_000);
    versions.observe({ conversationNativeId: '1:4', updatedAt: null, message: true });
    const refreshed: string[] = [];
    const applied = applyChatwootChanges(
      catalog,
      versions,
      [change('1:1'), change('1:2'), change('1:3'), change('1:4')],
      async (id) => void refreshed.push(id),
      4,
    );
    patched();
    await Promise.all([sending, applied]);
    expect(refreshed.sort()).toEqual(['1:2', '1:3', '1:4']);
  });

  it('reports conversations that appeared, changed or went away between two snapshots, with the new model', () => {
    const before = [row('1:1'), row('1:2', { unreadCount: 2 }), row('1:3')];
    const after = [row('1:1'), row('1:2', { unreadCount: 0 }), row('1:4', { status: 'PENDING' }), row('1:5')];
    const changes = diffCatalog('cw', before, after);
    expect(changes.map((c) => [c.conversationNativeId, c.conversation?.nativeId ?? null])).toEqual([
      ['1:2', '1:2'],
      ['1:4', '1:4'],
      ['1:5', '1:5'],
      ['1:3', null],
    ]);
    for (const field of [
      { status: 'RESOLVED' as const },
      { muted: true },
      { labels: ['vip'] },
      { lastMessageAt: new Date(2_000_000) },
      { updatedAt: new Date(2_000_000) },
    ]) {
      expect(diffCatalog('cw', [row('1:1')], [row('1:1', field)])).toHaveLength(1);
    }
  });

  it('reconciles only a catalog older than its maximum age (no sync while fresh or before the first one)', async () => {
    let syncs = 0;
    const resync = (catalog: ConversationCatalog, items: ConversationModel[]) => () =>
      catalog.resync(async () => {
        syncs++;
        return items;
      });
    const empty = new ConversationCatalog(createMemoryCatalogStore(), 'cw', 1);
    expect(await reconcileCatalog('cw', empty, resync(empty, [row('1:1')]))).toEqual([]);
    const fresh = await catalogWith([row('1:1')]);
    expect(await reconcileCatalog('cw', fresh, resync(fresh, [row('1:1', { unreadCount: 1 })]))).toEqual([]);
    expect(syncs).toBe(0);
    const stale = await catalogWith([row('1:1')], 1);
    await new Promise((r) => setTimeout(r, 5));
    const changes = await reconcileCatalog('cw', stale, resync(stale, [row('1:1', { unreadCount: 1 })]));
    expect(syncs).toBe(1);
    expect(changes.map((c) => c.conversationNativeId)).toEqual(['1:1']);
  });
});
