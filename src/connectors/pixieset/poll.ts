import { ErrorCode, GatewayError } from '../../errors';
import { diffSnapshots } from '../catalog';
import { mapLimit } from '../concurrency';
import type {
  ConversationField,
  ConversationModel,
  PollOptions,
  RequestScope,
  SourceChange,
  ThreadEventChange,
} from '../types';
import { mapConversation, mapMessage } from './mapper';
import type { PixiesetSessionOptions } from './session';
import type { PixiesetConversationDto } from './types';

/**
 * Change detection for Pixieset, which sends no webhooks (docs/vendors/pixieset.md): each poll reads the unread count
 * endpoint and the first page of the list, which is in `last_message_at` order, newest first ([inferred] §1
 * "Ordering"), so a conversation with a new message comes to the top of it. Two requests a poll, whatever the
 * size of the account.
 *
 * A conversation changed when its `last_message_at` or `unread_count` differs from the previous poll, or when it
 * entered the page from below (new activity moved it above the previous page's oldest row, or the page was not
 * full). One that left a page that was not full is gone (deleted or hidden). A read in the Studio UI of a
 * conversation below the page shows only in the totals: then the poll reports a change without a conversation,
 * so the live engine re-reads the totals.
 *
 * All of that holds only while the list is in the inbox order, which is not documented: the poll checks the order
 * of its page like every list read (order.ts). Once it is broken, each poll re-reads the whole list into the
 * catalog instead (one request per 100 conversations, plus the unread count) and diffs the catalog before and after.
 *
 * Thread events (docs/live.md "Thread events", docs/vendors/pixieset.md "Thread events from polls"), from the second
 * poll on, attached to the changes:
 * - from what the poll reads anyway (no extra request): `ConversationRead` (unread count went from above 0 to 0),
 *   `ConversationUpdated` (status `active`/`archived`: STATUS and ARCHIVED; subject: SUBJECT), `ConversationDeleted`
 *   (gone from a page that held every conversation; in the fallback, gone from the catalog);
 * - with `PollOptions.events` (somebody here watches thread events): one detail read (`GET /conversations/{id}/`,
 *   every message) per conversation whose last message moved or that entered the page with new activity, giving a
 *   `MessageAdded` for each message sent after the previous poll's last one. The list embeds at most the newest
 *   message, and nothing says how many came. Pixieset has no edit or delete of messages: no MessageUpdated/Deleted.
 */
export const PIXIESET_POLL_PAGE_SIZE = 100;
/** Detail reads of one poll in flight at once (thread events). */
const DETAIL_CONCURRENCY = 4;

interface PollRow {
  lastMessageAt: number | null;
  unread: number | null;
  /** The list row as a conversation (no messages), for conversation events. */
  model: ConversationModel;
}

export interface PixiesetPollSnapshot {
  unreadTotal: number;
  conversationsWithUnread: number;
  rows: Map<string, PollRow>;
  /** The page held every conversation of the account. */
  complete: boolean;
  /** `last_message_at` of the page's oldest row (null when the page was empty or that row has none). */
  oldest: number | null;
}

const time = (s: string | null | undefined): number | null => {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
};

export function pixiesetSnapshot(
  unread: { unread_count: number; conversations_with_unread: number },
  page: PixiesetConversationDto[],
  pageSize: number,
): PixiesetPollSnapshot {
  const rows = new Map<string, PollRow>();
  for (const c of page)
    rows.set(c.id, {
      lastMessageAt: time(c.last_message_at),
      unread: c.unread_count ?? null,
      // Without the list's `sourceId`: pixiesetPollEvents sets it.
      model: mapConversation('', c),
    });
  const tail = page[page.length - 1];
  return {
    unreadTotal: unread.unread_count,
    conversationsWithUnread: unread.conversations_with_unread,
    rows,
    complete: page.length < pageSize,
    oldest: tail ? time(tail.last_message_at) : null,
  };
}

/** What changed from `prev` to `next` (pure; the unit tests drive it directly). */
export function diffPixieset(sourceId: string, prev: PixiesetPollSnapshot, next: PixiesetPollSnapshot): SourceChange[] {
  const changed: string[] = [];
  for (const [id, row] of next.rows) {
    const before = prev.rows.get(id);
    if (before) {
      if (
        before.lastMessageAt !== row.lastMessageAt ||
        before.unread !== row.unread ||
        conversationFieldsChanged(before.model, row.model).length > 0
      )
        changed.push(id);
    } else if (
      prev.complete ||
      prev.oldest === null ||
      (row.lastMessageAt !== null && row.lastMessageAt > prev.oldest)
    ) {
      // New, or moved up into the page by new activity (a row that only slid in from below when another one left
      // has an older last message than the previous page's oldest row).
      changed.push(id);
    }
  }
  if (prev.complete) for (const id of prev.rows.keys()) if (!next.rows.has(id)) changed.push(id);
  const changes: SourceChange[] = changed.map((conversationNativeId) => ({ sourceId, conversationNativeId }));
  const totalsMoved =
    prev.unreadTotal !== next.unreadTotal || prev.conversationsWithUnread !== next.conversationsWithUnread;
  if (changes.length === 0 && totalsMoved) changes.push({ sourceId, conversationNativeId: null });
  return changes;
}

/**
 * The conversations whose messages a poll with thread events reads (one detail read each): those whose last message
 * moved, and those that entered the page with new activity (diffPixieset's rule), each with the time after which
 * its messages are new (null: all of them, a conversation that did not exist at the previous poll). Pure.
 */
export function pixiesetMessageReads(
  prev: PixiesetPollSnapshot,
  next: PixiesetPollSnapshot,
): Array<{ id: string; after: number | null }> {
  const reads: Array<{ id: string; after: number | null }> = [];
  for (const [id, row] of next.rows) {
    const before = prev.rows.get(id);
    if (before) {
      if (row.lastMessageAt !== null && row.lastMessageAt !== before.lastMessageAt)
        reads.push({ id, after: before.lastMessageAt });
    } else if (prev.complete) reads.push({ id, after: null });
    else if (prev.oldest === null || (row.lastMessageAt !== null && row.lastMessageAt > prev.oldest))
      // It was below the previous page, so its last message then was not newer than that page's oldest row.
      reads.push({ id, after: prev.oldest });
  }
  return reads;
}

/** What a conversation's fields changed from one read to the next (ConversationUpdated.changedFields). Pure. */
export function conversationFieldsChanged(before: ConversationModel, after: ConversationModel): ConversationField[] {
  const fields: ConversationField[] = [];
  if (before.status !== after.status) fields.push('STATUS');
  if (before.archived !== after.archived) fields.push('ARCHIVED');
  if ((before.subject ?? null) !== (after.subject ?? null)) fields.push('SUBJECT');
  return fields;
}

/**
 * The conversation events between two reads of a conversation (pure): ConversationRead when its unread count went
 * from above 0 to 0, ConversationUpdated for changed fields. `at` is when the poll saw them (Pixieset says when
 * neither happened).
 */
export function pixiesetConversationEvents(
  before: ConversationModel,
  after: ConversationModel,
  at: number,
): ThreadEventChange[] {
  const events: ThreadEventChange[] = [];
  const fields = conversationFieldsChanged(before, after);
  if (fields.length > 0) events.push({ kind: 'ConversationUpdated', conversation: after, changedFields: fields, at });
  if ((before.unreadCount ?? 0) > 0 && after.unreadCount === 0)
    events.push({ kind: 'ConversationRead', conversation: after, at });
  return events;
}

/** The events of a page poll (pure but for the messages `details` read): attached to `changes`, which it returns. */
export function pixiesetPollEvents(
  sourceId: string,
  prev: PixiesetPollSnapshot,
  next: PixiesetPollSnapshot,
  changes: SourceChange[],
  details: Map<string, { dto: PixiesetConversationDto; after: number | null }>,
  at: number,
): SourceChange[] {
  const own = (c: ConversationModel): ConversationModel => ({ ...c, sourceId });
  const byId = new Map<string, ThreadEventChange[]>();
  const add = (id: string, e: ThreadEventChange[]) => {
    if (e.length > 0) byId.set(id, [...(byId.get(id) ?? []), ...e]);
  };
  for (const [id, { dto, after }] of details) {
    const conversation = mapConversation(sourceId, dto);
    const messages = (dto.messages ?? [])
      .map((m) => mapMessage(sourceId, m, dto.id, conversation.participants))
      .filter((m) => after === null || (m.sentAt !== null && m.sentAt.getTime() > after))
      .sort((a, b) => (a.sentAt?.getTime() ?? 0) - (b.sentAt?.getTime() ?? 0));
    add(
      id,
      messages.map((message) => ({ kind: 'MessageAdded' as const, message, at: message.sentAt?.getTime() ?? at })),
    );
  }
  for (const [id, row] of next.rows) {
    const before = prev.rows.get(id);
    const detail = details.get(id);
    // The detail, when read, also has the conversation's last message.
    const now = detail
      ? { ...mapConversation(sourceId, detail.dto), unreadCount: row.model.unreadCount }
      : own(row.model);
    if (before) add(id, pixiesetConversationEvents(own(before.model), now, at));
  }
  if (prev.complete)
    for (const id of prev.rows.keys())
      if (!next.rows.has(id)) add(id, [{ kind: 'ConversationDeleted', conversationNativeId: id, at }]);
  return attachEvents(sourceId, changes, byId);
}

/** Each conversation's events onto its change (a change is added for one that has none). */
function attachEvents(sourceId: string, changes: SourceChange[], byId: Map<string, ThreadEventChange[]>) {
  const out = changes.map((c) => {
    const events = c.conversationNativeId === null ? undefined : byId.get(c.conversationNativeId);
    if (events) byId.delete(c.conversationNativeId as string);
    return events ? { ...c, events } : c;
  });
  for (const [conversationNativeId, events] of byId) out.push({ sourceId, conversationNativeId, events });
  // A conversation named now makes the "somewhere" change redundant.
  return out.length > 1 ? out.filter((c) => c.conversationNativeId !== null) : out;
}

const fingerprint = (c: ConversationModel) =>
  JSON.stringify([
    c.lastMessageAt?.getTime() ?? null,
    c.unreadCount,
    c.status,
    c.subject ?? null,
    c.lastMessage?.nativeId ?? null,
  ]);

/**
 * Fallback mode: what changed between two full catalog reads (pure), with the conversation events it can tell
 * (read, updated, deleted; no message events: docs/vendors/pixieset.md "Thread events from polls").
 */
export function diffPixiesetCatalog(
  sourceId: string,
  before: ConversationModel[],
  after: ConversationModel[],
  at = Date.now(),
): SourceChange[] {
  const changes = diffSnapshots(sourceId, before, after, fingerprint);
  const was = new Map(before.map((c) => [c.nativeId, c]));
  const now = new Set(after.map((c) => c.nativeId));
  const byId = new Map<string, ThreadEventChange[]>();
  for (const c of after) {
    const b = was.get(c.nativeId);
    const events = b ? pixiesetConversationEvents(b, c, at) : [];
    if (events.length > 0) byId.set(c.nativeId, events);
  }
  for (const id of was.keys())
    if (!now.has(id)) byId.set(id, [{ kind: 'ConversationDeleted', conversationNativeId: id, at }]);
  return byId.size > 0 ? attachEvents(sourceId, changes, byId) : changes;
}

/** The connector's `poll`: the previous poll's snapshot lives here, per connector (so per gateway instance). */
export function createPixiesetPoller(
  options: PixiesetSessionOptions,
): (scope: RequestScope, pollOptions?: PollOptions) => Promise<SourceChange[]> {
  const { client } = options;
  const { guard } = options.shared;
  const sourceId = options.config.id;
  let prev: PixiesetPollSnapshot | null = null;
  let polled = false;
  const fromCatalog = async (scope: RequestScope, first: boolean): Promise<SourceChange[]> => {
    const { before, after } = await options.sync.resync(scope);
    if (before) return diffPixiesetCatalog(sourceId, before, after);
    // No catalog to compare with: a first poll sets the baseline; a later one (the switch from the page diff)
    // cannot name what moved since the last poll, so the engine re-reads the totals.
    return first ? [] : [{ sourceId, conversationNativeId: null }];
  };
  return async (scope, pollOptions = {}) => {
    const first = !polled;
    polled = true;
    if (guard.fallback) return fromCatalog(scope, first);
    const [unread, page] = await Promise.all([
      client.unread(scope),
      client.list(scope, { page: 1, pageSize: PIXIESET_POLL_PAGE_SIZE, withMessages: false }),
    ]);
    const rows = page.data.map((c) => ({ nativeId: c.id, lastMessageAt: toDate(c.last_message_at) }));
    if (
      !guard.checkPageSize(PIXIESET_POLL_PAGE_SIZE, page.meta.per_page, 'poll page 1') ||
      !guard.check(rows, 'poll page 1')
    )
      return fromCatalog(scope, first);
    const next = pixiesetSnapshot(unread, page.data, PIXIESET_POLL_PAGE_SIZE);
    const before = prev;
    // The first poll only sets the baseline.
    if (!before) {
      prev = next;
      return [];
    }
    const at = Date.now();
    // Message events cost a detail read per conversation with new messages: only while somebody watches them.
    // Read before the snapshot moves on, so a failed read leaves the next poll to find the same messages.
    const details = new Map<string, { dto: PixiesetConversationDto; after: number | null }>();
    if (pollOptions.events)
      await mapLimit(pixiesetMessageReads(before, next), DETAIL_CONCURRENCY, async ({ id, after }) => {
        try {
          details.set(id, { dto: await client.detail(scope, id), after });
        } catch (e) {
          // Gone since the list was read: the next poll reports it.
          if (!(e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND)) throw e;
        }
      });
    prev = next;
    return pixiesetPollEvents(sourceId, before, next, diffPixieset(sourceId, before, next), details, at);
  };
}

const toDate = (s: string | null | undefined): Date | null => {
  const t = time(s);
  return t === null ? null : new Date(t);
};
