import type { CatalogSnapshot, CatalogStore } from '../catalog';
import { compareConversations, type ConversationModel } from '../types';

/** The catalog in this process only: the embedded default and single-instance deployments. */
export function createMemoryCatalogStore(): CatalogStore {
  const sources = new Map<
    string,
    { syncedAt: number; items: Map<string, ConversationModel>; list: ConversationModel[] | null }
  >();
  const leases = new Map<string, number>();
  return {
    async read(sourceId) {
      const s = sources.get(sourceId);
      if (!s) return null;
      // Kept in the inbox order, so that each page's sort (paging.ts pageFromAll) finds one sorted run
      // instead of sorting the whole catalog again (issue 7's inbox profile).
      s.list ??= [...s.items.values()].sort(compareConversations);
      return { syncedAt: s.syncedAt, items: s.list };
    },
    async write(sourceId, snapshot: CatalogSnapshot) {
      sources.set(sourceId, {
        syncedAt: snapshot.syncedAt,
        items: new Map(snapshot.items.map((c) => [c.nativeId, c])),
        list: null,
      });
    },
    async patch(sourceId, upserts, removals) {
      const s = sources.get(sourceId);
      if (!s) return; // nothing synced yet: the first sync reads everything anyway
      for (const c of upserts) s.items.set(c.nativeId, c);
      for (const id of removals) s.items.delete(id);
      s.list = null;
    },
    async acquireSync(sourceId, ttlMs) {
      const until = leases.get(sourceId);
      if (until && until > Date.now()) return false;
      leases.set(sourceId, Date.now() + ttlMs);
      return true;
    },
    async releaseSync(sourceId) {
      leases.delete(sourceId);
    },
    async close() {
      sources.clear();
    },
  };
}
