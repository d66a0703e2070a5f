import { LRUCache } from 'lru-cache';

/**
 * # The read cache's store (README "Read cache")
 *
 * One bounded LRU of upstream answers for every cached source of a gateway instance. Each answer belongs to a
 * **group**: the conversation it is about (a message page, the conversation's details, its participants, last
 * message or unread count), or {@link SOURCE_GROUP} (a participant looked up by id, a message that could not be
 * placed). A change drops the group it names, or the whole source when it names none.
 *
 * Correctness rules, in this file:
 * - **Dropped on change.** `invalidate(source, conversation | null)` removes the group's answers (or the
 *   source's) at once; the caller (readCache/index.ts) calls it for every change the gateway hears of.
 * - **No stale fill.** A read that was in flight while its group (or its source) was invalidated is answered but
 *   not stored: each invalidation takes a number from a per-source sequence, and a fill stores only when no
 *   invalidation of its group or source took a number after the fill started.
 * - **Bounded age.** An answer is served at most `trustedMaxAgeMs` after its read started (the source's catalog
 *   age: the catalog itself is at most that old when no change signal arrives) while the source has a trusted
 *   change signal that began before that read, and at most `ttlMs` otherwise (0: such answers are not stored).
 */

/** The group of answers that are not about one conversation (participants by id): dropped by any source-wide change. */
export const SOURCE_GROUP = '\u0000source';

/** What the store needs to know about a source. */
export interface CachedSourcePolicy {
  sourceId: string;
  /** The longest an answer may be served while a trusted change signal covers it: the catalog's max age. */
  trustedMaxAgeMs: number;
  /**
   * Since when (this process's clock, ms) changes of the source reach the cache, or null when nothing tells it
   * now: answers whose read started after it are trusted. Asked on every hit.
   */
  trustedSince(): number | null;
}

export interface ReadCacheStoreOptions {
  /** Answers of sources without a trusted change signal are served at most this long (ms); 0: not stored. */
  ttlMs: number;
  /** Estimated bytes of all answers together. */
  maxBytes: number;
  /** @default Date.now */
  now?: () => number;
  /** Counters, per source. */
  metrics?: ReadCacheMetrics;
}

export interface ReadCacheMetrics {
  hit?(sourceId: string): void;
  miss?(sourceId: string): void;
  /** An invalidation that dropped at least one answer. */
  invalidation?(sourceId: string): void;
}

interface Entry {
  sourceId: string;
  group: string;
  value: unknown;
  bytes: number;
  /** When the read that produced it started. */
  readAt: number;
}

interface SourceState {
  policy: CachedSourcePolicy;
  /** Keys of each group, for invalidation. */
  groups: Map<string, Set<string>>;
  entries: number;
  bytes: number;
  /** The invalidation sequence of this source. */
  seq: number;
  /** The sequence number of the last source-wide invalidation. */
  wholeAt: number;
  /** The sequence number of each group's last invalidation (bounded; the forgotten ones raise {@link floor}). */
  groupAt: LRUCache<string, number>;
  /** The highest sequence number {@link groupAt} forgot: a group it does not know counts as invalidated then. */
  floor: number;
}

/** A fill in progress: the sequence number it started at and the time its read started. */
export interface FillTicket {
  seq: number;
  readAt: number;
}

/** Group invalidation numbers remembered per source (a fill in flight longer than this many invalidations is not stored). */
const GROUP_MEMORY = 10_000;

export class ReadCacheStore {
  private readonly sources = new Map<string, SourceState>();
  private readonly lru: LRUCache<string, Entry>;
  private readonly now: () => number;

  constructor(private readonly opts: ReadCacheStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.lru = new LRUCache<string, Entry>({
      maxSize: opts.maxBytes,
      sizeCalculation: (e) => e.bytes,
      dispose: (e, key) => this.unindex(e, key),
    });
  }

  /** Registers a source; its answers are cached from now on. */
  addSource(policy: CachedSourcePolicy): void {
    const state: SourceState = {
      policy,
      groups: new Map(),
      entries: 0,
      bytes: 0,
      seq: 0,
      wholeAt: 0,
      floor: 0,
      groupAt: new LRUCache<string, number>({
        max: GROUP_MEMORY,
        dispose: (n) => {
          state.floor = Math.max(state.floor, n);
        },
      }),
    };
    this.sources.set(policy.sourceId, state);
  }

  has(sourceId: string): boolean {
    return this.sources.has(sourceId);
  }

  /** The answer under `key` if it may still be served; counts a hit or a miss. */
  get(sourceId: string, key: string): { value: unknown } | undefined {
    const state = this.sources.get(sourceId);
    if (!state) return undefined;
    const e = this.lru.get(key);
    if (e && this.now() - e.readAt < this.maxAge(state, e.readAt)) {
      this.opts.metrics?.hit?.(sourceId);
      return { value: e.value };
    }
    if (e) this.lru.delete(key);
    this.opts.metrics?.miss?.(sourceId);
    return undefined;
  }

  /** Call before the upstream read; hand the ticket to {@link set}. */
  ticket(sourceId: string): FillTicket {
    return { seq: this.sources.get(sourceId)?.seq ?? 0, readAt: this.now() };
  }

  /**
   * Stores an answer read since `ticket`, unless its group or source was invalidated meanwhile or the source has
   * no trusted change signal and `ttlMs` is 0.
   */
  set(sourceId: string, key: string, group: string, value: unknown, ticket: FillTicket): void {
    const state = this.sources.get(sourceId);
    if (!state) return;
    if (state.wholeAt > ticket.seq) return;
    if ((state.groupAt.get(group) ?? state.floor) > ticket.seq) return;
    if (this.maxAge(state, ticket.readAt) <= 0) return;
    const bytes = estimateBytes(value);
    if (bytes > this.opts.maxBytes) return;
    // Replacing an entry disposes the old one (unindexed) before the new one is indexed.
    this.lru.set(key, { sourceId, group, value, bytes, readAt: ticket.readAt });
    if (!this.lru.has(key)) return;
    let keys = state.groups.get(group);
    if (!keys) {
      keys = new Set();
      state.groups.set(group, keys);
    }
    keys.add(key);
    state.entries++;
    state.bytes += bytes;
  }

  /** The group an answer under `key` belongs to, if it is cached (for a write that names only a message). */
  groupOf(key: string): string | undefined {
    return this.lru.peek(key)?.group;
  }

  /** Drops a conversation's answers, or every answer of the source (`null`), and stops fills in flight from storing. */
  invalidate(sourceId: string, conversationNativeId: string | null): void {
    const state = this.sources.get(sourceId);
    if (!state) return;
    const seq = ++state.seq;
    let dropped = false;
    if (conversationNativeId === null) {
      state.wholeAt = seq;
      for (const keys of [...state.groups.values()])
        for (const key of [...keys]) dropped = this.lru.delete(key) || dropped;
    } else {
      state.groupAt.set(conversationNativeId, seq);
      for (const key of [...(state.groups.get(conversationNativeId) ?? [])]) dropped = this.lru.delete(key) || dropped;
    }
    if (dropped) this.opts.metrics?.invalidation?.(sourceId);
  }

  /** Answers and their estimated bytes, per source (for /metrics). */
  size(): Array<{ sourceId: string; entries: number; bytes: number }> {
    return [...this.sources.values()].map((s) => ({
      sourceId: s.policy.sourceId,
      entries: s.entries,
      bytes: s.bytes,
    }));
  }

  clear(): void {
    this.lru.clear();
  }

  /** How long an answer whose read started at `readAt` may be served now. */
  private maxAge(state: SourceState, readAt: number): number {
    const since = state.policy.trustedSince();
    // Strictly after: a read in the very millisecond the signal began may have started before it.
    if (since !== null && readAt > since) return state.policy.trustedMaxAgeMs;
    return Math.min(this.opts.ttlMs, state.policy.trustedMaxAgeMs);
  }

  private unindex(e: Entry, key: string) {
    const state = this.sources.get(e.sourceId);
    if (!state) return;
    const keys = state.groups.get(e.group);
    if (!keys?.delete(key)) return;
    if (keys.size === 0) state.groups.delete(e.group);
    state.entries--;
    state.bytes -= e.bytes;
  }
}

/** Estimated memory of an answer: its JSON length plus a fixed overhead (objects cost more than their text). */
export function estimateBytes(value: unknown): number {
  try {
    return 256 + 2 * (JSON.stringify(value)?.length ?? 0);
  } catch {
    return 4096;
  }
}
