import { mapLimit } from './concurrency';
import { backgroundScope } from './fairShare';
import {
  compareConversations,
  type CatalogSnapshot,
  type CatalogStore,
  type ConversationFilterInput,
  type ConversationModel,
  type ConversationPage,
  type MessageModel,
  type RequestScope,
  type SourceChange,
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

/**
 * What changed in a source since its stored snapshot, as an incremental refresh read it
 * ({@link CatalogReader.readChanges}): conversations to upsert (complete models) and native ids that are gone.
 */
export interface CatalogDelta {
  upserts: ConversationModel[];
  removals: string[];
}

/** An incremental refresh over the stored snapshot; null when a full sync is due instead. */
export type CatalogRefresh = (known: CatalogSnapshot) => Promise<CatalogDelta | null>;

/** A stored snapshot, and the delta that made it when it came from an incremental refresh. */
type Refreshed = CatalogSnapshot & { delta?: CatalogDelta };

// ---- the inbox order ----

/** Arrays known to be in the inbox order: each one maps to itself, an unsorted one to its sorted copy. */
const ordered = new WeakMap<readonly ConversationModel[], readonly ConversationModel[]>();

/**
 * Declares `items` to be in the inbox order (compareConversations) and never to change: a store that keeps its
 * snapshot sorted (catalog-stores/memory.ts) says so once per array, and {@link inInboxOrder} then costs nothing.
 */
export function markInboxOrder<T extends readonly ConversationModel[]>(items: T): T {
  ordered.set(items, items);
  return items;
}

/**
 * `items` in the inbox order: itself when it is known or found to be sorted, else a sorted copy. The answer is
 * remembered per array (a store hands out the same array while its snapshot does not change), so every page
 * after the first costs one lookup instead of a sort. The array must not be modified afterwards.
 */
export function inInboxOrder(items: readonly ConversationModel[]): readonly ConversationModel[] {
  const known = ordered.get(items);
  if (known) return known;
  let sorted = true;
  for (let i = 1; i < items.length && sorted; i++) {
    sorted = compareConversations(items[i - 1] as ConversationModel, items[i] as ConversationModel) <= 0;
  }
  const result = sorted ? items : markInboxOrder([...items].sort(compareConversations));
  ordered.set(items, result);
  return result;
}

/** True when a filter restricts nothing (the inbox's default page). */
export function filterIsEmpty(f: ConversationFilterInput): boolean {
  return (
    !(f.status && f.status.length > 0) &&
    !f.unreadOnly &&
    !(f.labels && f.labels.length > 0) &&
    !f.participantNativeId &&
    !f.search
  );
}

/**
 * One window of a catalog in the inbox order ({@link inInboxOrder}; what `ConversationCatalog.all` returns), for
 * `filter`: without one, a slice (no scan, no sort: the page costs the same at 100 or 100,000 conversations); with
 * one, a single pass in order that keeps only the window and counts the rest (no sort, no filtered copy).
 * `matches` is the session's own test of one conversation against `filter`.
 */
export function catalogPage(
  all: readonly ConversationModel[],
  filter: ConversationFilterInput,
  offset: number,
  limit: number,
  matches: (c: ConversationModel) => boolean,
): ConversationPage {
  const sorted = inInboxOrder(all);
  if (filterIsEmpty(filter)) return { items: sorted.slice(offset, offset + limit), total: sorted.length };
  const items: ConversationModel[] = [];
  let total = 0;
  const end = offset + limit;
  for (const c of sorted) {
    if (!matches(c)) continue;
    if (total >= offset && total < end) items.push(c);
    total++;
  }
  return { items, total };
}

/** Snapshot arrays indexed by native id, built once per array (a store hands out the same array while it holds still). */
const byIdIndex = new WeakMap<readonly ConversationModel[], ReadonlyMap<string, ConversationModel>>();

/**
 * Hands the catalog a store's own index by native id for `items` (catalog-stores/memory.ts keeps one), so that a
 * lookup after a patch (a new array) does not build a map of the whole catalog again. `byId` must hold exactly the
 * conversations of `items` while `items` is the store's current snapshot.
 */
export function indexById<T extends readonly ConversationModel[]>(
  items: T,
  byId: ReadonlyMap<string, ConversationModel>,
): T {
  byIdIndex.set(items, byId);
  return items;
}

function byIdOf(items: readonly ConversationModel[]): ReadonlyMap<string, ConversationModel> {
  let index = byIdIndex.get(items);
  if (!index) byIdIndex.set(items, (index = new Map(items.map((c) => [c.nativeId, c]))));
  return index;
}

/** One catalog per source, bound to a store; connectors hold one each. */
export class ConversationCatalog {
  private syncing: Promise<Refreshed> | null = null;
  /** How long this process's last full sync took (ms): the next lease lasts twice that, at least a minute. */
  private lastFullSyncMs = 0;

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
   * syncs itself. The answer is in the inbox order ({@link inInboxOrder}), ready for {@link catalogPage}.
   */
  async all(sync: () => Promise<ConversationModel[]>, refresh?: CatalogRefresh): Promise<ConversationModel[]> {
    const snap = await this.store.read(this.sourceId);
    const items =
      snap && Date.now() - snap.syncedAt < this.maxAgeMs ? snap.items : await this.synced(sync, snap, refresh);
    // The store's array (or its sorted copy), shared by every reader: never to be modified.
    return inInboxOrder(items) as ConversationModel[];
  }

  private async synced(
    sync: () => Promise<ConversationModel[]>,
    snap: CatalogSnapshot | null,
    refresh: CatalogRefresh | undefined,
  ): Promise<ConversationModel[]> {
    return (await (this.syncing ?? this.startSync(sync, snap, refresh))).items;
  }

  /**
   * Runs one full sync, tracked as this process's running sync (concurrent reads share it), under the store's
   * lease when it is free. `fallback`: served instead when another instance holds the lease (a read can make do
   * with a stale snapshot; a poll passes null and syncs anyway, both instances then store a complete snapshot).
   */
  private startSync(
    sync: () => Promise<ConversationModel[]>,
    fallback: CatalogSnapshot | null,
    refresh?: CatalogRefresh,
  ): Promise<Refreshed> {
    const tracked: Promise<Refreshed> = (async () => {
      // Long enough for a sync of the size seen last (100,000 Chatwoot conversations take minutes at its limit), so
      // that another instance does not start a second one meanwhile.
      const leased = await this.store.acquireSync(this.sourceId, Math.max(60_000, 2 * this.lastFullSyncMs));
      if (!leased && fallback) return fallback;
      try {
        const startedAt = Date.now();
        // Incremental when the reader can and a snapshot exists: only what changed, then the snapshot counts as
        // synced from this refresh's start (what changed after it is the next refresh's).
        const known = refresh ? await this.store.read(this.sourceId) : null;
        const delta = refresh && known ? await refresh(known) : null;
        if (known && delta) {
          // Only what changed is written (the Redis store neither rewrites nor re-parses the rest).
          await this.store.patch(this.sourceId, delta.upserts, delta.removals);
          await this.store.touch(this.sourceId, startedAt);
          const patched = (await this.store.read(this.sourceId)) ?? known;
          return { syncedAt: startedAt, items: patched.items, delta };
        }
        const fresh = { syncedAt: startedAt, items: await sync() };
        this.lastFullSyncMs = Date.now() - startedAt;
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
    refresh?: CatalogRefresh,
  ): Promise<{ before: ConversationModel[] | null; after: ConversationModel[]; delta?: CatalogDelta }> {
    await this.settled();
    const before = await this.store.read(this.sourceId);
    const after = await (this.syncing ?? this.startSync(sync, null, refresh));
    return { before: before?.items ?? null, after: after.items, delta: after.delta };
  }

  // Every write below waits for a running sync first: its snapshot replaces the whole store, so a patch or an
  // invalidation made meanwhile would be lost.

  /** Forces the next read to sync (a poll that saw changes it cannot patch). */
  async invalidate(): Promise<void> {
    await this.settled();
    await this.store.touch(this.sourceId, 0);
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

  // ---- one conversation without a request (issue 13 targets 1 and 2) ----

  /**
   * One conversation from a fresh snapshot, without a request (a thread's header and participants); undefined when
   * the snapshot is missing or older than `maxAgeMs`, or does not hold the conversation: the caller reads it then.
   * Never syncs.
   */
  async lookup(nativeId: string): Promise<ConversationModel | undefined> {
    const snap = await this.store.read(this.sourceId);
    if (!snap || Date.now() - snap.syncedAt >= this.maxAgeMs) return undefined;
    return byIdOf(snap.items).get(nativeId);
  }

  /**
   * Changes one stored conversation from what a write's answer says, instead of re-reading it (after a running sync
   * has stored its own). `update` gets the stored model and returns the new one, or undefined to leave it as it is.
   * False when the catalog does not hold the conversation (or has no snapshot): the caller re-reads it then.
   */
  async amend(nativeId: string, update: (held: ConversationModel) => ConversationModel | undefined): Promise<boolean> {
    await this.settled();
    const snap = await this.store.read(this.sourceId);
    const held = snap ? byIdOf(snap.items).get(nativeId) : undefined;
    if (!held) return false;
    const next = update(held);
    if (next) await this.store.patch(this.sourceId, [next], []);
    return true;
  }

  /** Writes of this process in flight, per conversation: see {@link track}. */
  private readonly writes = new Map<string, Set<Promise<unknown>>>();

  /**
   * Runs one write of this process to a conversation, with the catalog patch from its answer (`write`), known
   * meanwhile to {@link writesSettled}: the vendor's webhook for that very write (its echo) can arrive before the
   * answer was applied, and the connector's echo check waits for the write instead of re-reading the conversation.
   */
  async track<T>(nativeId: string, write: () => Promise<T>): Promise<T> {
    const running = write();
    let set = this.writes.get(nativeId);
    if (!set) this.writes.set(nativeId, (set = new Set()));
    set.add(running);
    try {
      return await running;
    } finally {
      set.delete(running);
      if (set.size === 0 && this.writes.get(nativeId) === set) this.writes.delete(nativeId);
    }
  }

  /** Resolves once every write of this process in flight to these conversations ({@link track}) has ended. */
  async writesSettled(nativeIds: Iterable<string>): Promise<void> {
    const running: Array<Promise<unknown>> = [];
    for (const id of nativeIds) for (const p of this.writes.get(id) ?? []) running.push(p);
    await Promise.allSettled(running);
  }

  /** One stored conversation as it is, fresh or not (after a running sync has stored its own); undefined when absent. */
  async peekOne(nativeId: string): Promise<ConversationModel | undefined> {
    await this.settled();
    const snap = await this.store.read(this.sourceId);
    return snap ? byIdOf(snap.items).get(nativeId) : undefined;
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
  /**
   * Optional, for sources too large to read in full at each refresh (issue 13 target 5): what changed since the
   * stored snapshot `known` (its `syncedAt` is when the refresh that stored it started), or null when a full read is
   * due instead (a small account, or a state the reader cannot continue from). Stale reads and polls use it.
   */
  readChanges?(scope: RequestScope, known: CatalogSnapshot, cache: Cache): Promise<CatalogDelta | null>;
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
    return this.catalog.all(
      () => this.reader.readAll(backgroundScope(scope), this.cacheFor(scope, cache)),
      this.incremental(scope, cache),
    );
  }

  /**
   * A sync now, whatever the snapshot's age: the items before (null before the first sync) and after. Full, unless
   * `incremental` and the reader reads changes (`readChanges`): then `delta` is what that refresh read.
   */
  resync(
    scope: RequestScope,
    cache?: Cache,
    incremental = false,
  ): Promise<{ before: ConversationModel[] | null; after: ConversationModel[]; delta?: CatalogDelta }> {
    return this.catalog.resync(
      () => this.reader.readAll(backgroundScope(scope), this.cacheFor(scope, cache)),
      incremental ? this.incremental(scope, cache) : undefined,
    );
  }

  /** The reader's incremental refresh in this scope (the background's, like a sync), when it has one. */
  private incremental(scope: RequestScope, cache: Cache | undefined): CatalogRefresh | undefined {
    const reader = this.reader;
    if (!reader.readChanges) return undefined;
    return (known) => reader.readChanges!(backgroundScope(scope), known, this.cacheFor(scope, cache));
  }

  /** True once the source has a snapshot (writes patch it only then). */
  async synced(): Promise<boolean> {
    return (await this.catalog.age()) !== null;
  }

  /**
   * A poll: a sync now, diffed by the vendor's rule into changes that carry their models. The first one, with no
   * snapshot before it, only sets the baseline (no change). Incremental when the reader reads changes
   * (`readChanges`): only the conversations it read are diffed, and those it found gone are reported removed.
   */
  async reconcile(scope: RequestScope): Promise<{ changes: SourceChange[]; size: number }> {
    const diff = this.options.diff;
    if (!diff) throw new Error(`The catalog of source "${this.catalog.sourceId}" has no diff rule.`);
    const { before, after, delta } = await this.resync(scope, undefined, true);
    if (!before) return { changes: [], size: after.length };
    if (!delta) return { changes: diff(before, after), size: after.length };
    // Incremental: the diff rule over the conversations the refresh read, then those it found gone.
    const read = new Set(delta.upserts.map((c) => c.nativeId));
    const had = new Set(before.map((c) => c.nativeId));
    const changes = diff(
      before.filter((c) => read.has(c.nativeId)),
      delta.upserts,
    );
    for (const id of new Set(delta.removals)) {
      if (had.has(id) && !read.has(id)) changes.push({ sourceId: this.catalog.sourceId, conversationNativeId: id });
    }
    return { changes, size: after.length };
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

/**
 * True when a stored conversation already shows this message as its last one, at least as recent as `sentAt` (epoch
 * ms; null: not compared): a webhook saying that the message was created has nothing to add then. That is the echo
 * of the gateway's own send (whose answer patched the catalog: ConversationCatalog.amend), or a message a later read
 * already saw. Pure.
 */
export function showsLastMessage(
  held: ConversationModel | undefined,
  messageNativeId: string,
  sentAt: number | null,
): boolean {
  if (!held?.lastMessage || held.lastMessage.nativeId !== messageNativeId) return false;
  return sentAt === null || (held.lastMessageAt?.getTime() ?? -Infinity) >= sentAt;
}

/**
 * A stored conversation with a message the gateway just sent as its last one (the write's answer instead of a
 * re-read): last message and activity time, and `searchText` from `search` (the vendor's rule). Undefined (leave
 * it) when the stored conversation shows a later message already. Unread counts and everything else stay: the
 * caller says where its vendor's send changes more.
 */
export function withSentMessage(
  held: ConversationModel,
  message: MessageModel,
  search: (held: ConversationModel, message: MessageModel) => string | undefined = () => held.searchText,
): ConversationModel | undefined {
  const at = message.sentAt?.getTime() ?? null;
  const heldAt = held.lastMessage?.sentAt?.getTime() ?? held.lastMessageAt?.getTime() ?? null;
  if (held.lastMessage?.nativeId === message.nativeId) return undefined;
  if (at !== null && heldAt !== null && heldAt > at) return undefined;
  const lastAt =
    held.lastMessageAt && at !== null && held.lastMessageAt.getTime() > at ? held.lastMessageAt : message.sentAt;
  const out: ConversationModel = { ...held, lastMessage: message, lastMessageAt: lastAt ?? held.lastMessageAt };
  const text = search(held, message);
  if (text === undefined) delete out.searchText;
  else out.searchText = text;
  return out;
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
