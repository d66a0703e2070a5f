import { indexById, markInboxOrder, type CatalogSnapshot, type CatalogStore } from '../catalog';
import {
  compareConversations,
  type AttachmentModel,
  type ConversationModel,
  type MessageModel,
  type ParticipantModel,
} from '../types';

/**
 * The catalog in this process only: the embedded default and single-instance deployments.
 *
 * Each source keeps its conversations twice over the same objects: by native id, and as one array in the inbox order
 * (the sorted index). A full sync sorts once; a patch moves each conversation it touches by binary search (one
 * removal and one insertion, no re-sort), so a read costs nothing and hands out the same array until something
 * changes. Readers must not modify the array or its models: they are the store's.
 *
 * Memory (issue 13 target 5): what the vendors' mappers build is mostly the same few things again and again — the
 * account user and the contacts appear in every conversation they take part in, as participants and as last-message
 * senders; the source id, status, channel and label sets repeat; the last message's time is the conversation's
 * activity time. The store keeps one object for each equal participant, label set and string, and one Date for equal
 * times of one conversation ({@link createInterner}); the models read back are equal (`toEqual`) to those written.
 */
export function createMemoryCatalogStore(): CatalogStore {
  const sources = new Map<string, SourceIndex>();
  const leases = new Map<string, number>();
  return {
    async read(sourceId) {
      const s = sources.get(sourceId);
      return s ? { syncedAt: s.syncedAt, items: s.sorted } : null;
    },
    async write(sourceId, snapshot: CatalogSnapshot) {
      const current = sources.get(sourceId);
      if (current && snapshot.items === current.sorted) {
        // The snapshot as it is with a new syncedAt (an invalidation, an incremental refresh): nothing to rebuild.
        current.syncedAt = snapshot.syncedAt;
        return;
      }
      const intern = createInterner();
      const byId = new Map<string, ConversationModel>();
      for (const c of snapshot.items) byId.set(c.nativeId, intern.conversation(c));
      sources.set(sourceId, {
        syncedAt: snapshot.syncedAt,
        byId,
        sorted: indexById(markInboxOrder([...byId.values()].sort(compareConversations)), byId),
        intern,
      });
    },
    async touch(sourceId, syncedAt) {
      const s = sources.get(sourceId);
      if (s) s.syncedAt = syncedAt;
    },
    async patch(sourceId, upserts, removals) {
      const s = sources.get(sourceId);
      if (!s) return; // nothing synced yet: the first sync reads everything anyway
      // A new array per patch: a reader still walking the previous one sees a consistent snapshot.
      const sorted = s.sorted.slice();
      for (const raw of upserts) {
        const c = s.intern.conversation(raw);
        const old = s.byId.get(c.nativeId);
        if (!old || !replaceInPlace(sorted, old, c)) {
          if (old) removeSorted(sorted, old);
          insertSorted(sorted, c);
        }
        s.byId.set(c.nativeId, c);
      }
      for (const id of removals) {
        const old = s.byId.get(id);
        if (!old) continue;
        removeSorted(sorted, old);
        s.byId.delete(id);
      }
      // The catalog's lookups by id use this store's own map (no map of the whole catalog per patch).
      s.sorted = indexById(markInboxOrder(sorted), s.byId);
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

interface SourceIndex {
  syncedAt: number;
  byId: Map<string, ConversationModel>;
  /** Every conversation of `byId`, in the inbox order (compareConversations). */
  sorted: ConversationModel[];
  intern: Interner;
}

// ---- the sorted index ----

/** The first index whose conversation sorts at or after `c` (binary search; the array is in the inbox order). */
export function lowerBound(sorted: readonly ConversationModel[], c: ConversationModel): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareConversations(sorted[mid] as ConversationModel, c) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `c` at its place in the inbox order. */
export function insertSorted(sorted: ConversationModel[], c: ConversationModel): void {
  sorted.splice(lowerBound(sorted, c), 0, c);
}

/**
 * Removes the entry of `c`'s native id, found by binary search on `c`'s sort key (the key it was inserted
 * with). Native ids are unique in a source, so the key finds exactly that entry; a linear search is the
 * fallback should the key have changed under the store (a model modified after it was written).
 */
export function removeSorted(sorted: ConversationModel[], c: ConversationModel): void {
  const at = lowerBound(sorted, c);
  if (sorted[at]?.nativeId === c.nativeId) {
    sorted.splice(at, 1);
    return;
  }
  const i = sorted.findIndex((x) => x.nativeId === c.nativeId);
  if (i >= 0) sorted.splice(i, 1);
}

/**
 * Puts `c` where `old` (the same native id) is, when `c` sorts there too (its neighbours stay on either side): the
 * common case of a refresh that re-reads conversations whose activity did not move. False when it must move.
 */
export function replaceInPlace(sorted: ConversationModel[], old: ConversationModel, c: ConversationModel): boolean {
  const at = lowerBound(sorted, old);
  if (sorted[at]?.nativeId !== old.nativeId) return false;
  const before = sorted[at - 1];
  const after = sorted[at + 1];
  if (before && compareConversations(before, c) >= 0) return false;
  if (after && compareConversations(c, after) >= 0) return false;
  sorted[at] = c;
  return true;
}

// ---- the compact representation ----

export interface Interner {
  /** The same conversation, sharing every part equal to one seen before. */
  conversation(c: ConversationModel): ConversationModel;
}

/**
 * One source's shared parts (participants, label sets, attachment lists, repeated strings). Shared objects are
 * never modified by the store; a model's Dates are shared only within that model (its equal times).
 */
export function createInterner(): Interner {
  const strings = new Map<string, string>();
  /** Per native id, the distinct versions seen (a sender is often a participant with fewer fields filled in). */
  const participants = new Map<string, ParticipantModel[]>();
  const labelSets = new Map<string, string[]>();
  const noAttachments: AttachmentModel[] = [];

  const str = <T extends string | null | undefined>(s: T): T => {
    if (typeof s !== 'string') return s;
    const seen = strings.get(s);
    if (seen !== undefined) return seen as T;
    strings.set(s, s);
    return s;
  };
  const participant = (p: ParticipantModel): ParticipantModel => {
    let versions = participants.get(p.nativeId);
    const seen = versions?.find((v) => sameFields(v, p));
    if (seen) return seen;
    const fresh: ParticipantModel = { ...p, sourceId: str(p.sourceId), kind: str(p.kind) };
    if (!versions) participants.set(fresh.nativeId, (versions = []));
    // A few versions at most: a participant that keeps changing replaces its oldest one.
    if (versions.length >= 4) versions.shift();
    versions.push(fresh);
    return fresh;
  };
  const labels = (ls: string[]): string[] => {
    if (!Array.isArray(ls)) return ls;
    const key = ls.join('\n');
    let seen = labelSets.get(key);
    if (!seen) labelSets.set(key, (seen = ls.map((l) => str(l))));
    return seen;
  };
  const attachments = (as: AttachmentModel[]): AttachmentModel[] =>
    Array.isArray(as) && as.length === 0 ? noAttachments : as;
  return {
    conversation(c) {
      const times = new Map<number, Date>();
      const time = (d: Date | null | undefined): Date | null | undefined => {
        if (!(d instanceof Date)) return d;
        const ms = d.getTime();
        const seen = times.get(ms);
        if (seen) return seen;
        times.set(ms, d);
        return d;
      };
      const lastMessageAt = time(c.lastMessageAt) as Date | null;
      const out: ConversationModel = {
        ...c,
        sourceId: str(c.sourceId),
        status: str(c.status),
        channel: str(c.channel),
        createdAt: time(c.createdAt) as Date | null,
        updatedAt: time(c.updatedAt) as Date | null,
        lastMessageAt,
        labels: labels(c.labels),
        participants: c.participants ? c.participants.map(participant) : c.participants,
      };
      if (c.lastMessage) {
        const m: MessageModel = c.lastMessage;
        out.lastMessage = {
          ...m,
          sourceId: str(m.sourceId),
          conversationNativeId: m.conversationNativeId === c.nativeId ? c.nativeId : m.conversationNativeId,
          sentAt: time(m.sentAt) as Date | null,
          readAt: time(m.readAt) as Date | null,
          direction: str(m.direction),
          sender: m.sender ? participant(m.sender) : m.sender,
          attachments: attachments(m.attachments),
        };
        // The conversation's search text is often the last message's text: one string.
        if (out.searchText !== undefined && out.searchText === m.content) out.searchText = out.lastMessage.content!;
      }
      return out;
    },
  };
}

/** True when both have the same own keys with the same values. */
function sameFields(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false;
  return true;
}
