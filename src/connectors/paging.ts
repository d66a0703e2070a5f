import { badInput } from '../errors';
import {
  compareConversations,
  type ConversationFilterInput,
  type ConversationModel,
  type ConversationPage,
  type MessageModel,
  type MessagePage,
  type MessagePageRequest,
  type ParticipantModel,
} from './types';

/**
 * Relay paging over a complete, oldest-first message list (vendors that return every message at once:
 * Pixieset's detail, Monica's embedded list). Cursors are the message's index, opaque to clients.
 */
export function paginateMessages(all: MessageModel[], req: MessagePageRequest): MessagePage {
  const index = (cursor: string, name: string) => {
    const n = /^i:(\d+)$/.exec(cursor);
    if (!n) throw badInput(`The "${name}" cursor is not a cursor of this conversation's messages.`, name);
    return Number(n[1]);
  };
  let start = 0;
  let end = all.length;
  if (req.after) start = Math.max(start, index(req.after, 'after') + 1);
  if (req.before) end = Math.min(end, index(req.before, 'before'));
  if (end < start) end = start;
  let from = start;
  let to = end;
  if (req.first != null) to = Math.min(to, from + req.first);
  if (req.last != null) from = Math.max(from, to - req.last);
  return {
    items: all.slice(from, to).map((message, i) => ({ cursor: `i:${from + i}`, message })),
    hasPreviousPage: from > 0,
    hasNextPage: to < all.length,
    totalCount: all.length,
  };
}

const norm = (s: string | null | undefined) => (s ?? '').toLowerCase();

/** True when a participant matches free text. */
export function participantMatches(p: ParticipantModel, text: string): boolean {
  return norm(p.name).includes(text) || norm(p.email).includes(text) || norm(p.phone).includes(text);
}

/**
 * Applies a filter in memory, for the fields a vendor cannot filter itself. `participants` must be loaded
 * for participant and search filters; `extraText` adds searchable text the caller has (message contents).
 */
export function matchesFilter(
  c: ConversationModel,
  f: ConversationFilterInput,
  participants: ParticipantModel[] = c.participants ?? [],
  extraText: string[] = [],
): boolean {
  if (f.status && f.status.length > 0 && !f.status.includes(c.status)) return false;
  if (f.unreadOnly && !((c.unreadCount ?? 0) > 0)) return false;
  if (f.labels && f.labels.length > 0 && !f.labels.some((l) => c.labels.includes(l))) return false;
  if (f.participantNativeId && !participants.some((p) => p.nativeId === f.participantNativeId)) return false;
  if (f.search) {
    const text = f.search.toLowerCase();
    const hit =
      norm(c.subject).includes(text) ||
      participants.some((p) => participantMatches(p, text)) ||
      extraText.some((t) => norm(t).includes(text));
    if (!hit) return false;
  }
  return true;
}

/** Sorts into the inbox order and slices one window: for sources the connector has read completely. */
export function pageFromAll(all: ConversationModel[], offset: number, limit: number): ConversationPage {
  const sorted = [...all].sort(compareConversations);
  return { items: sorted.slice(offset, offset + limit), total: sorted.length };
}

/**
 * For page-number APIs with a choosable page size: the page size and page numbers (1-based) that cover
 * [offset, offset + limit) in as few requests as possible, preferring one request.
 */
export function planPages(offset: number, limit: number, maxPageSize = 100): { pageSize: number; pages: number[] } {
  const want = Math.max(1, limit);
  for (let size = Math.min(want, maxPageSize); size <= maxPageSize; size++) {
    if (Math.floor(offset / size) === Math.floor((offset + want - 1) / size)) {
      return { pageSize: size, pages: [Math.floor(offset / size) + 1] };
    }
  }
  const first = Math.floor(offset / maxPageSize) + 1;
  const last = Math.floor((offset + want - 1) / maxPageSize) + 1;
  const pages: number[] = [];
  for (let p = first; p <= last; p++) pages.push(p);
  return { pageSize: maxPageSize, pages };
}
