import { mapLimit } from './concurrency';
import { backgroundScope } from './fairShare';
import type {
  CatalogSnapshot,
  CatalogStore,
  ConversationModel,
  MessageModel,
  RequestScope,
  SourceChange,
} from './types';

/**
 * # The conversation catalog
 *
 * Some vendors cannot list conversations in the inbox order: Monica sorts only by created or updated time, and
 * a new message does not touch `updated_at` (docs/vendors/monica.md); Protocol has no sort at all and no unread count
 * (docs/vendors/protocol.md). Chatwoot does sort by activity but has no account-wide unread count, only a per-conversation
 * one (docs/vendors/chatwoot.md). For those, the connector keeps a catalog: a snapshot of every conversation of the source as
 * a canonical model (summary fields, participants, last message, unread count, searchable text), sorted in the
 * inbox order. An inbox page is then a slice of the catalog and costs no upstream request at all, and so does a
 * source's unread total.
 *
 * Freshness, per source:
 * - a full sync (the connector reads every page once) when the snapshot is missing or older than `maxAgeMs`;
 *   one sync at a time per source across every instance sharing the store (a lease), the others keep serving
 *   the previous snapshot meanwhile;
 * - `upsert` / `remove` from the gateway's own mutations and from webhooks, at once.
 *
 * Stores: in memory (one process) or Redis (several gateway instances share one catalog per source).
 */
// The store contract lives in ./types.ts beside ConnectorDeps, which hands a store to every connector.
export type { CatalogSnapshot, CatalogStore };

/** One catalog per source, bound to a store; connectors hold one each. */
export class ConversationCatalog {
  private syncing: Promise<CatalogSnapshot> | null = null;

  constructor(
    private readonly store: CatalogStore,
    readonly sourceId: string,
    /** A snapshot older than this is re-synced on the next read. */
    readonly maxAgeMs: number,
  ) {}

  /**
   * Every conversation of the source. Serves the snapshot while it is fresh; otherwise runs `sync` (a full
   * read) once, shared by every concurrent caller of this process, under the store's lease across processes.
   * A stale snapshot is served while another instance holds the lease; with no snapshot at all the caller
   * syncs itself.
   */
  async all(sync: () => Promise<ConversationModel[]>): Promise<ConversationModel[]> {
    const snap = await this.store.read(this.sourceId);
    if (snap && Date.now() - snap.syncedAt < this.maxAgeMs) return snap.items;
    return (await (this.syncing ?? this.startSync(sync, snap))).items;
  }

  /**
   * Runs one full sync, tracked as this process's running sync (concurrent reads share it), under the store's
   * lease when it is free. `fallback`: served instead when another instance holds the lease (a read can make do
   * with a stale snapshot; a poll passes null and syncs anyway, both instances then store a complete snapshot).
   */
  private startSync(
    sync: () => Promise<ConversationModel[]>,
    fallback: CatalogSnapshot | null,
  ): Promise<CatalogSnapshot> {
    const tracked: Promise<CatalogSnapshot> = (async () => {
      const leased = await this.store.acquireSync(this.sourceId, 60_000);
      if (!leased && fallback) return fallback;
      try {
        const fresh = { syncedAt: Date.now(), items: await sync() };
        await this.store.write(this.sourceId, fresh);
        return fresh;
      } finally {
        if (leased) await this.store.releaseSync(this.sourceId);
      }
    })().finally(() => {
      if (this.syncing === tracked) this.syncing = null;
    });
    this.syncing = tracked;
    return tracked;
  }

  /**
   * Resolves once the full sync this process is running (if any) has stored its snapshot, whether it succeeded
   * or not. That write replaces the whole snapshot, so a patch or an invalidation made while it runs would be
   * lost: callers that patch from outside a read (webhooks) wait here first.
   */
  async settled(): Promise<void> {
    await this.syncing?.catch(() => undefined);
  }

  /**
   * A full sync now, whatever the snapshot's age (a poll). It is shared with this process's concurrent reads like
   * the sync of {@link all}, and runs under the store's lease when that is free (a sync another instance runs at
   * the same moment is not waited for: both store a complete snapshot). Returns the stored items before the sync
   * (null before the first one) and after it, for the caller to diff; when a sync of this process is already
   * running, its result is the "after".
   */
  async resync(
    sync: () => Promise<ConversationModel[]>,
  ): Promise<{ before: ConversationModel[] | null; after: ConversationModel[] }> {
    await this.settled();
    const before = await this.store.read(this.sourceId);
    const after = await (this.syncing ?? this.startSync(sync, null));
    return { before: before?.items ?? null, after: after.items };
  }

  // Every write below waits for a running sync first: its snapshot replaces the whole store, so a patch or an
  // invalidation made meanwhile would be lost.

  /** Forces the next read to sync (a poll that saw changes it cannot patch). */
  async invalidate(): Promise<void> {
    await this.settled();
    const snap = await this.store.read(this.sourceId);
    if (snap) await this.store.write(this.sourceId, { ...snap, syncedAt: 0 });
  }

  async upsert(...models: ConversationModel[]): Promise<void> {
    await this.settled();
    await this.store.patch(this.sourceId, models, []);
  }

  async remove(...nativeIds: string[]): Promise<void> {
    await this.settled();
    await this.store.patch(this.sourceId, [], nativeIds);
  }

  /** The stored items as they are, without syncing (after a running sync has stored its own); null before the first. */
  async peek(): Promise<ConversationModel[] | null> {
    await this.settled();
    return (await this.store.read(this.sourceId))?.items ?? null;
  }

  /** The snapshot's age in ms (after a running sync has stored its own), or null without one. */
  async age(): Promise<number | null> {
    await this.settled();
    const snap = await this.store.read(this.sourceId);
    return snap ? Date.now() - snap.syncedAt : null;
  }

  /**
   * Webhook changes into the catalog (the contract's `Connector.applyChanges`): a change that names no
   * conversation makes the snapshot untrustworthy, so the next read re-syncs; otherwise each named conversation
   * is re-read once by `refresh` (which upserts or removes it), at most `concurrency` at a time.
   */
  async applyChanges(
    changes: SourceChange[],
    refresh: (nativeId: string) => Promise<void>,
    concurrency = 4,
  ): Promise<void> {
    if (changes.some((c) => c.conversationNativeId === null)) return this.invalidate();
    const ids = [...new Set(changes.map((c) => c.conversationNativeId as string))];
    await mapLimit(ids, concurrency, refresh);
  }
}

/**
 * How a vendor reads its conversations for the catalog (`<vendor>/catalog.ts`), with its client directly: no
 * session owns the sync. `Cache` is what one call's reads share (Protocol: its DataLoaders, so that the account's
 * own contact is read once for several conversations); a session that holds one already passes its own, so a
 * write's re-read reuses what the operation fetched.
 */
export interface CatalogReader<Cache = undefined> {
  /** Every conversation of the source as a catalog model (the full sync). */
  readAll(scope: RequestScope, cache: Cache): Promise<ConversationModel[]>;
  /**
   * One conversation as the source has it now, as a catalog model; null when it is gone (removed from the
   * catalog); undefined when it could not be read (the catalog keeps what it has).
   */
  readOne(scope: RequestScope, nativeId: string, cache: Cache): Promise<ConversationModel | null | undefined>;
  /** A cache for one call, when the caller brings none. */
  cache(scope: RequestScope): Cache;
}

/**
 * The one owner of a source's catalog sync, built once per source by its connector (connectors/vendor.ts
 * `createCatalogSync`) over the source's {@link ConversationCatalog} and the vendor's {@link CatalogReader}.
 * Sessions, the connector's `applyChanges` and its poller all call it; none of them opens a session to reach it.
 */
export class CatalogSync<Cache = undefined> {
  constructor(
    readonly catalog: ConversationCatalog,
    private readonly reader: CatalogReader<Cache>,
    private readonly options: {
      /** Conversations re-read at once by {@link refresh}. @default 4 */
      concurrency?: number;
      /** What changed between two snapshots (the vendor's rule), for {@link reconcile}. */
      diff?: (before: ConversationModel[], after: ConversationModel[]) => SourceChange[];
    } = {},
  ) {}

  /**
   * Every conversation of the source: the fresh snapshot, or a full read (connectors/catalog.ts freshness) sharing
   * `cache` when given (a session's, which then holds what the read fetched).
   */
  all(scope: RequestScope, cache?: Cache): Promise<ConversationModel[]> {
    // A sync serves every key: its pages come out of the background's share of the budget (connectors/fairShare.ts).
    return this.catalog.all(() => this.reader.readAll(backgroundScope(scope), this.cacheFor(scope, cache)));
  }

  /** A full sync now, whatever the snapshot's age: the items before (null before the first sync) and after. */
  resync(
    scope: RequestScope,
    cache?: Cache,
  ): Promise<{ before: ConversationModel[] | null; after: ConversationModel[] }> {
    return this.catalog.resync(() => this.reader.readAll(backgroundScope(scope), this.cacheFor(scope, cache)));
  }

  /** True once the source has a snapshot (writes patch it only then). */
  async synced(): Promise<boolean> {
    return (await this.catalog.age()) !== null;
  }

  /**
   * A poll: a full sync now, diffed by the vendor's rule into changes that carry their models. The first one,
   * with no snapshot before it, only sets the baseline (no change).
   */
  async reconcile(scope: RequestScope): Promise<{ changes: SourceChange[]; size: number }> {
    const { before, after } = await this.resync(scope);
    const diff = this.options.diff;
    if (!diff) throw new Error(`The catalog of source "${this.catalog.sourceId}" has no diff rule.`);
    return { changes: before ? diff(before, after) : [], size: after.length };
  }

  /**
   * Re-reads the named conversations into the catalog (upserted, or removed when gone), at most `concurrency` at a
   * time, sharing `cache` (a new one for this call when none is given). Does nothing before the first sync.
   */
  async refresh(scope: RequestScope, nativeIds: readonly string[], cache?: Cache): Promise<void> {
    if ((await this.catalog.age()) === null) return;
    const shared = this.cacheFor(scope, cache);
    await mapLimit([...new Set(nativeIds)], this.options.concurrency ?? 4, async (id) => {
      const model = await this.reader.readOne(scope, id, shared);
      if (model) await this.catalog.upsert(model);
      else if (model === null) await this.catalog.remove(id);
    });
  }

  /**
   * Webhook changes into the catalog (the contract's `Connector.applyChanges`): a change that names no
   * conversation makes the snapshot untrustworthy, so the next read re-syncs; otherwise each named conversation
   * is re-read once, in the engine's scope.
   */
  async applyChanges(changes: SourceChange[], scope: RequestScope): Promise<void> {
    if (changes.some((c) => c.conversationNativeId === null)) return this.catalog.invalidate();
    await this.refresh(
      scope,
      changes.map((c) => c.conversationNativeId as string),
    );
  }

  private cacheFor(scope: RequestScope, cache: Cache | undefined): Cache {
    return cache === undefined ? this.reader.cache(scope) : cache;
  }

  /** The gateway's own writes, at once. */
  upsert(...models: ConversationModel[]): Promise<void> {
    return this.catalog.upsert(...models);
  }

  remove(...nativeIds: string[]): Promise<void> {
    return this.catalog.remove(...nativeIds);
  }
}

// ---- JSON round trip (Redis) ----

const date = (v: unknown): Date | null => (typeof v === 'string' || typeof v === 'number' ? new Date(v) : null);

function reviveMessage(m: MessageModel): MessageModel {
  return { ...m, sentAt: date(m.sentAt), readAt: date(m.readAt) };
}

/** Turns a JSON-parsed model back into one with Dates. */
export function reviveConversation(c: ConversationModel): ConversationModel {
  return {
    ...c,
    createdAt: date(c.createdAt),
    updatedAt: date(c.updatedAt),
    lastMessageAt: date(c.lastMessageAt),
    lastMessage: c.lastMessage === undefined || c.lastMessage === null ? c.lastMessage : reviveMessage(c.lastMessage),
  };
}

/**
 * Conversations that differ between two catalog snapshots (appeared, changed by the vendor's `fingerprint`, or
 * gone), each vendor's diff rule being its fingerprint: what subscribers and the inbox see of a conversation.
 * Pure. The catalog models are complete (participants, last message), so subscribers need no further request.
 */
export function diffSnapshots(
  sourceId: string,
  before: ConversationModel[],
  after: ConversationModel[],
  fingerprint: (c: ConversationModel) => string,
): SourceChange[] {
  const old = new Map(before.map((c) => [c.nativeId, fingerprint(c)]));
  const changes: SourceChange[] = [];
  for (const c of after) {
    if (old.get(c.nativeId) !== fingerprint(c))
      changes.push({ sourceId, conversationNativeId: c.nativeId, conversation: c });
    old.delete(c.nativeId);
  }
  for (const gone of old.keys()) changes.push({ sourceId, conversationNativeId: gone });
  return changes;
}
