import { diffSnapshots } from '../catalog';
import type { ConversationModel, PollOptions, RequestScope, SourceChange, ThreadEventChange } from '../types';
import { MONICA_MAX_LIMIT } from './client';
import { MONICA_INCREMENTAL_ABOVE, MONICA_INCREMENTAL_COST } from './catalog';
import { createMonicaLoaders } from './loaders';
import { mapMessages, parseTimestamp } from './mapper';
import type { MonicaSessionOptions } from './session';
import type { MonicaConversationDto } from './types';

/**
 * Change detection for Monica, which sends no webhooks and whose list order says nothing about new messages
 * (docs/vendors/monica.md "Ordering"): each poll re-syncs the conversation catalog (connectors/catalog.ts) in full and
 * diffs the snapshot before against the one after. The catalog is shared by every instance (Redis), so the diff
 * stays right when another instance takes the poll lease over.
 *
 * A conversation changed when its last message time, its last message (id and text: a new, edited or deleted
 * last message), the text of its messages (any edit or deletion), or its `updated_at` (a new `happened_at`)
 * differ; a conversation that appeared or disappeared changed too. The first poll after start, with no snapshot
 * yet, only sets the baseline.
 *
 * Above MONICA_INCREMENTAL_ABOVE conversations a full re-sync per poll does not fit the budget (100,000: 1,001
 * requests), so the poll is the catalog's incremental refresh (catalog.ts `readChanges`: the `-updated_at` head and
 * one rolling page), diffed over what it read.
 *
 * Thread events (docs/live.md "Thread events", docs/vendors/monica.md "Thread events from polls") cost no request:
 * a conversation answer embeds every message with its own `created_at` and `updated_at` (Monica's clock, whole
 * seconds). The poller keeps a mark, the newest message `updated_at` it has read, with the ids at that second; at
 * the next poll a message created after the mark (or at it, and not one of those ids) is a `MessageAdded`, one
 * only updated after it a `MessageUpdated`. A subject that changed (`happened_at`'s day or the medium) is a
 * `ConversationUpdated` [SUBJECT]; a conversation gone from the catalog a `ConversationDeleted`. Monica has no read
 * state, status, labels, mute, pin or archive of conversations: no other conversation events. The mark is this
 * process's: its first poll (and the first after another instance polled) sets it and reports no message event.
 */

/** Share of that budget the poller may spend; the rest stays for queries and mutations through the gateway. */
export const MONICA_POLL_BUDGET_SHARE = 0.5;

/**
 * Requests of one poll: every page of 100 conversations (at least one) plus `GET /me`; above
 * MONICA_INCREMENTAL_ABOVE conversations, the incremental refresh's head page and rolling page (catalog.ts).
 */
export function monicaPollCost(conversations: number): number {
  if (conversations > MONICA_INCREMENTAL_ABOVE) return MONICA_INCREMENTAL_COST;
  return Math.max(1, Math.ceil(conversations / MONICA_MAX_LIMIT)) + 1;
}

/**
 * The shortest interval between polls that keeps them within their share of the per-minute budget at the
 * account's current size: with 60 a minute and half of it for polling, 2 requests (up to 100 conversations)
 * allow a poll every 4 s, 11 requests (1,000 conversations) every 22 s. The engine polls at
 * max(pollIntervalMs, this). `ratePerMinute` null means no cap (a self-hosted Monica without its limiter).
 */
export function monicaMinPollIntervalMs(conversations: number, ratePerMinute: number | null): number {
  if (!ratePerMinute) return 0;
  return Math.ceil((monicaPollCost(conversations) * 60_000) / (ratePerMinute * MONICA_POLL_BUDGET_SHARE));
}

function fingerprint(c: ConversationModel): string {
  return JSON.stringify([
    c.lastMessageAt?.getTime() ?? null,
    c.lastMessage?.nativeId ?? null,
    c.lastMessage?.content ?? null,
    c.searchText ?? null,
    c.updatedAt?.getTime() ?? null,
  ]);
}

/** What changed from one catalog snapshot to the next (pure; the unit tests drive it directly). */
export function diffMonica(sourceId: string, before: ConversationModel[], after: ConversationModel[]): SourceChange[] {
  return diffSnapshots(sourceId, before, after, fingerprint);
}

/** The poller's mark (see above): the newest message `updated_at` read, and the ids of messages at that time. */
export interface MonicaMessageMark {
  at: number;
  ids: Set<number>;
}

/**
 * The message events in conversations a poll read, since `mark` (pure): each conversation's messages in their
 * order (written_at, then id), and the mark to keep. A null mark only sets the next one.
 */
export function monicaMessageEvents(
  sourceId: string,
  read: readonly MonicaConversationDto[],
  mark: MonicaMessageMark | null,
): { events: Map<string, ThreadEventChange[]>; mark: MonicaMessageMark | null } {
  const events = new Map<string, ThreadEventChange[]>();
  let next = mark ? { at: mark.at, ids: new Set(mark.ids) } : null;
  const after = (t: number | null, id: number) =>
    mark !== null && t !== null && (t > mark.at || (t === mark.at && !mark.ids.has(id)));
  for (const dto of read) {
    const byId = new Map(dto.messages.map((m) => [m.id, m]));
    const list: ThreadEventChange[] = [];
    for (const message of mapMessages(sourceId, dto)) {
      const m = byId.get(Number(message.nativeId.split('/')[1]));
      if (!m) continue;
      const created = parseTimestamp(m.created_at)?.getTime() ?? null;
      const updated = parseTimestamp(m.updated_at)?.getTime() ?? created;
      if (after(created, m.id)) list.push({ kind: 'MessageAdded', message, at: message.sentAt?.getTime() ?? created! });
      else if (after(updated, m.id)) list.push({ kind: 'MessageUpdated', message, at: updated! });
      if (updated === null) continue;
      if (!next || updated > next.at) next = { at: updated, ids: new Set([m.id]) };
      else if (updated === next.at) next.ids.add(m.id);
    }
    if (list.length > 0) events.set(String(dto.id), list);
  }
  return { events, mark: next };
}

/**
 * The conversation events between two catalog snapshots of what a poll read (pure): ConversationUpdated [SUBJECT]
 * for a new subject, ConversationDeleted for each of `removed` that the catalog had.
 */
export function monicaConversationEvents(
  before: readonly ConversationModel[],
  read: readonly ConversationModel[],
  removed: readonly string[],
  at: number,
): Map<string, ThreadEventChange[]> {
  const was = new Map(before.map((c) => [c.nativeId, c]));
  const events = new Map<string, ThreadEventChange[]>();
  for (const c of read) {
    const b = was.get(c.nativeId);
    if (b && (b.subject ?? null) !== (c.subject ?? null))
      events.set(c.nativeId, [
        { kind: 'ConversationUpdated', conversation: c, changedFields: ['SUBJECT'], at: c.updatedAt?.getTime() ?? at },
      ]);
  }
  for (const id of removed)
    if (was.has(id)) events.set(id, [{ kind: 'ConversationDeleted', conversationNativeId: id, at }]);
  return events;
}

/** Each conversation's events onto its change, in the order given (a change is added for one that has none). */
function attachEvents(sourceId: string, changes: SourceChange[], byId: Map<string, ThreadEventChange[]>) {
  const left = new Map(byId);
  const out = changes.map((c) => {
    const events = c.conversationNativeId === null ? undefined : left.get(c.conversationNativeId);
    if (events) left.delete(c.conversationNativeId as string);
    return events ? { ...c, events } : c;
  });
  for (const [conversationNativeId, events] of left) out.push({ sourceId, conversationNativeId, events });
  return out;
}

/** The connector's `poll` and `minPollIntervalMs`. */
export function createMonicaPoller(options: MonicaSessionOptions): {
  poll(scope: RequestScope, pollOptions?: PollOptions): Promise<SourceChange[]>;
  minPollIntervalMs(): number;
} {
  const { config, profile, sync, client } = options;
  const sourceId = config.id;
  // The source's budget: its config, else Monica's (profile.ts); null means no cap.
  const ratePerMinute =
    config.rateLimitPerMinute === undefined ? profile.limits.rateLimitPerMinute : config.rateLimitPerMinute;
  /** Conversations at the last poll (until the first one, assume one page). */
  let size = 0;
  let mark: MonicaMessageMark | null = null;
  return {
    // Thread events cost nothing here (every message comes with the list): `pollOptions.events` changes nothing.
    async poll(scope) {
      // CatalogSync.reconcile with loaders of its own, which keep what the sync read (each conversation with
      // every message): the conversations this poll read, for their message events.
      const loaders = createMonicaLoaders(client, scope);
      const read = new Map<number, MonicaConversationDto>();
      const prime = loaders.conversations.prime.bind(loaders.conversations);
      loaders.conversations.prime = (id, dto) => {
        if (dto && !(dto instanceof Error) && !('then' in dto)) read.set(id, dto);
        return prime(id, dto);
      };
      const { before, after, delta } = await sync.resync(scope, loaders, true);
      size = after.length;
      const messages = monicaMessageEvents(sourceId, [...read.values()], mark);
      mark = messages.mark;
      if (!before) return [];
      let changes: SourceChange[];
      let readModels: ConversationModel[];
      let removed: string[];
      if (!delta) {
        changes = diffMonica(sourceId, before, after);
        readModels = after;
        const now = new Set(after.map((c) => c.nativeId));
        removed = before.map((c) => c.nativeId).filter((id) => !now.has(id));
      } else {
        // Incremental: the diff over the conversations the refresh read, then those it found gone.
        const ids = new Set(delta.upserts.map((c) => c.nativeId));
        const had = new Set(before.map((c) => c.nativeId));
        changes = diffMonica(
          sourceId,
          before.filter((c) => ids.has(c.nativeId)),
          delta.upserts,
        );
        removed = [...new Set(delta.removals)].filter((id) => had.has(id) && !ids.has(id));
        for (const id of removed) changes.push({ sourceId, conversationNativeId: id });
        readModels = delta.upserts;
      }
      const events = monicaConversationEvents(before, readModels, removed, Date.now());
      for (const [id, list] of messages.events) events.set(id, [...list, ...(events.get(id) ?? [])]);
      return attachEvents(sourceId, changes, events);
    },
    minPollIntervalMs: () => monicaMinPollIntervalMs(size, ratePerMinute),
  };
}
