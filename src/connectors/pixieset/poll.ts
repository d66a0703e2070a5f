import { diffSnapshots } from '../catalog';
import type { ConversationModel, RequestScope, SourceChange } from '../types';
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
 */
export const PIXIESET_POLL_PAGE_SIZE = 100;

interface PollRow {
  lastMessageAt: number | null;
  unread: number | null;
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
  for (const c of page) rows.set(c.id, { lastMessageAt: time(c.last_message_at), unread: c.unread_count ?? null });
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
      if (before.lastMessageAt !== row.lastMessageAt || before.unread !== row.unread) changed.push(id);
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

const fingerprint = (c: ConversationModel) =>
  JSON.stringify([c.lastMessageAt?.getTime() ?? null, c.unreadCount, c.status, c.lastMessage?.nativeId ?? null]);

/** Fallback mode: what changed between two full catalog reads (pure). */
export function diffPixiesetCatalog(
  sourceId: string,
  before: ConversationModel[],
  after: ConversationModel[],
): SourceChange[] {
  return diffSnapshots(sourceId, before, after, fingerprint);
}

/** The connector's `poll`: the previous poll's snapshot lives here, per connector (so per gateway instance). */
export function createPixiesetPoller(
  options: PixiesetSessionOptions,
): (scope: RequestScope) => Promise<SourceChange[]> {
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
  return async (scope) => {
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
    prev = next;
    // The first poll only sets the baseline.
    return before ? diffPixieset(sourceId, before, next) : [];
  };
}

const toDate = (s: string | null | undefined): Date | null => {
  const t = time(s);
  return t === null ? null : new Date(t);
};
