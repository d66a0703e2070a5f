import { badInput, GatewayError } from '../errors';
import {
  compareConversations,
  type ConversationFilterInput,
  type ConversationModel,
  type ConversationPage,
} from '../connectors/types';
import type { GatewayContext } from './context';
import type { ConversationConnectionModel } from './mappers';

/**
 * # One inbox over every source
 *
 * A k-way merge of per-source streams, each already in the inbox order (the connector contract), into
 * lastMessageAt descending, then source id, then native id.
 *
 * ## Cursors
 * An edge's cursor is opaque base64url JSON `{ k: [lastMessageAt ms | null, nativeId], s: sourceId, p: {...} }`:
 * - `k` and `s` are the edge's sort key. `after` means "everything that sorts after this key", `before`
 *   "everything that sorts before it": keyset positions, so a page never depends on how many conversations
 *   came before.
 * - `p[t]` is where the key sat in source t's stream (how many of t's conversations sorted before it). It is
 *   only a hint: each source is asked for one window around its hint, and the window is checked against the key
 *   (and widened when conversations moved meanwhile), so resuming never re-reads earlier pages.
 *
 * ## What cursors promise while conversations change
 * A page is exact for the moment it is read. Walking with `after` (or `before`), a conversation that does not
 * change during the walk appears exactly once, in order. A conversation that gets a new message moves to the
 * top: if the walk already passed it, it is not shown again; if not, the walk skips it (it now sorts before the
 * cursor) — apps learn about it from `conversationChanged` or by reloading the first page. Only a conversation
 * whose newest message is deleted can move down past the cursor and appear a second time.
 */
export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 20;
/**
 * Extra items read around a hint: one before it (the cursor's own conversation, which proves the window is
 * aligned) and, backward, one after it. More would cost page-number APIs a request per page boundary crossed.
 */
const SLACK = 1;
/** Widening attempts when a window turns out not to reach the cursor's key. */
const MAX_WIDEN = 4;

interface InboxCursor {
  /** lastMessageAt (epoch ms, or null) and native id of the edge. */
  k: [number | null, string];
  /** The edge's source. */
  s: string;
  /** Per source: how many of its conversations sorted before the edge (a hint). */
  p: Record<string, number>;
}

/** A sort key: the fields the merged order compares. */
type Key = Pick<ConversationModel, 'lastMessageAt' | 'nativeId' | 'sourceId'>;

export function encodeInboxCursor(c: InboxCursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

export function decodeInboxCursor(raw: string, field: string): InboxCursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as InboxCursor;
    const okKey =
      Array.isArray(c?.k) &&
      c.k.length === 2 &&
      (c.k[0] === null || Number.isFinite(c.k[0])) &&
      typeof c.k[1] === 'string';
    const okPos = c?.p && typeof c.p === 'object' && Object.values(c.p).every((n) => Number.isInteger(n) && n >= 0);
    if (okKey && okPos && typeof c.s === 'string') return c;
  } catch {
    // fall through
  }
  throw badInput(`"${field}" is not a cursor of Query.conversations.`, field);
}

const keyOf = (c: InboxCursor): Key => ({
  lastMessageAt: c.k[0] === null ? null : new Date(c.k[0]),
  nativeId: c.k[1],
  sourceId: c.s,
});

export function checkPageArgs(args: { first?: number | null; last?: number | null }, where: string) {
  const { first, last } = args;
  if (first != null && last != null) throw badInput(`${where}: pass either "first" or "last", not both.`, 'first');
  for (const [name, v] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (v == null) continue;
    if (v < 0) throw badInput(`${where}: "${name}" must not be negative, but got ${v}.`, name);
    if (v > MAX_PAGE_SIZE) throw badInput(`${where}: "${name}" must be at most ${MAX_PAGE_SIZE}, but got ${v}.`, name);
  }
}

/** The merged order: the connector order, then source id. */
export const mergedCompare = (a: Key, b: Key) =>
  compareConversations(a, b) || (a.sourceId === b.sourceId ? 0 : a.sourceId < b.sourceId ? -1 : 1);

/** A run as it is when it is in the source's order (it should be: the connector contract), else a sorted copy. */
function inSourceOrder(items: ConversationModel[]): ConversationModel[] {
  for (let i = 1; i < items.length; i++) {
    if (compareConversations(items[i - 1] as ConversationModel, items[i] as ConversationModel) > 0) {
      return [...items].sort(compareConversations);
    }
  }
  return items;
}

/** Lists one window of one source, recording a failure instead of failing the whole inbox. */
async function window(
  ctx: GatewayContext,
  sourceId: string,
  offset: number,
  limit: number,
  filter: ConversationFilterInput,
): Promise<ConversationPage | null> {
  try {
    return await ctx.session(sourceId).listConversations({ offset, limit, filter });
  } catch (e) {
    if (e instanceof GatewayError && e.sourceId) {
      ctx.sourceErrors.push(e);
      return null;
    }
    throw e;
  }
}

/** What one source contributed: a contiguous run of its stream starting at `start`. */
interface Run {
  start: number;
  items: ConversationModel[];
  total: number;
}

/** Forward: the first `want` items strictly after `key` (all items when key is null), around the hint. */
async function runAfter(
  ctx: GatewayContext,
  sourceId: string,
  filter: ConversationFilterInput,
  key: Key | null,
  hint: number,
  want: number,
): Promise<Run | null> {
  let start = key ? Math.max(0, hint - SLACK) : 0;
  let limit = want + (key ? SLACK : 0);
  for (let attempt = 0; ; attempt++) {
    const page = await window(ctx, sourceId, start, limit, filter);
    if (!page) return null;
    const first = page.items[0];
    // The window must start at or before the key; otherwise conversations moved up and some were skipped.
    if (key && start > 0 && first && mergedCompare(first, key) > 0 && attempt < MAX_WIDEN) {
      const back = limit;
      start = Math.max(0, start - back);
      limit += back;
      continue;
    }
    const after = key ? page.items.filter((c) => mergedCompare(c, key) > 0).length : page.items.length;
    const exhausted = start + page.items.length >= page.total;
    if (after < want && !exhausted && attempt < MAX_WIDEN) {
      limit += want - after + SLACK;
      continue;
    }
    return { start, items: page.items, total: page.total };
  }
}

/** Backward: the last `want` items strictly before `key` (before the end when key is null). */
async function runBefore(
  ctx: GatewayContext,
  sourceId: string,
  filter: ConversationFilterInput,
  key: Key | null,
  hint: number | null,
  want: number,
): Promise<Run | null> {
  let end = hint;
  if (end === null) {
    // `last` without `before`: the end of the stream is its total.
    const probe = await window(ctx, sourceId, 0, 0, filter);
    if (!probe) return null;
    end = probe.total;
  }
  let start = Math.max(0, end - want);
  let limit = end - start + (key ? SLACK : 0);
  for (let attempt = 0; ; attempt++) {
    const page = await window(ctx, sourceId, start, limit, filter);
    if (!page) return null;
    const last = page.items[page.items.length - 1];
    const reachesEnd = start + page.items.length >= page.total;
    // The window must reach the key; otherwise conversations moved up and the key lies further down.
    if (key && last && !reachesEnd && mergedCompare(last, key) < 0 && attempt < MAX_WIDEN) {
      limit += want + SLACK;
      continue;
    }
    const before = key ? page.items.filter((c) => mergedCompare(c, key) < 0).length : page.items.length;
    if (before < want && start > 0 && attempt < MAX_WIDEN) {
      const back = want - before + SLACK;
      start = Math.max(0, start - back);
      limit += back;
      continue;
    }
    return { start, items: page.items, total: page.total };
  }
}

export interface InboxArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  filter?: {
    sources?: string[] | null;
    status?: ConversationFilterInput['status'];
    unreadOnly?: boolean | null;
    participantId?: { sourceId: string; nativeId: string } | null;
    /**
     * Conversations with any of these participants (a person's: src/people/), the union of one participant filter
     * each. Several in one source are one stream each, merged, a conversation with two of them shown once; the
     * cursor then keeps a hint per stream, and `totalCount` is null (the streams may overlap).
     */
    participantIds?: Array<{ sourceId: string; nativeId: string }> | null;
    labels?: string[] | null;
    search?: string | null;
  } | null;
}

export async function resolveInbox(ctx: GatewayContext, args: InboxArgs): Promise<ConversationConnectionModel> {
  checkPageArgs(args, 'Query.conversations');
  const f = args.filter ?? {};
  let sources = ctx.visibleSources().map((c) => c.id);
  if (f.sources) {
    const wanted = new Set(f.sources);
    sources = sources.filter((s) => wanted.has(s));
  }
  // A participant lives in exactly one source.
  if (f.participantId) sources = sources.filter((s) => s === f.participantId?.sourceId);
  sources.sort();
  const base: ConversationFilterInput = {
    status: f.status ?? null,
    unreadOnly: f.unreadOnly ?? null,
    participantNativeId: f.participantId?.nativeId ?? null,
    labels: f.labels ?? null,
    search: f.search?.trim() ? f.search.trim() : null,
  };
  // One stream per source, or per participant of `participantIds`; a stream's id keys its cursor hint.
  let streams = sources.map((s) => ({ id: s, sourceId: s, filter: base }));
  if (f.participantIds) {
    const visible = new Set(sources);
    const ps = f.participantIds.filter(
      (p) =>
        visible.has(p.sourceId) &&
        (!f.participantId || (p.sourceId === f.participantId.sourceId && p.nativeId === f.participantId.nativeId)),
    );
    const perSource = new Map<string, number>();
    for (const p of ps) perSource.set(p.sourceId, (perSource.get(p.sourceId) ?? 0) + 1);
    streams = ps
      .map((p) => ({
        id: perSource.get(p.sourceId) === 1 ? p.sourceId : `${p.sourceId}#${p.nativeId}`,
        sourceId: p.sourceId,
        filter: { ...base, participantNativeId: p.nativeId },
      }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  const backward = args.last != null || (args.before != null && args.first == null);
  const n = backward ? (args.last ?? DEFAULT_PAGE_SIZE) : (args.first ?? DEFAULT_PAGE_SIZE);
  const cursor = backward
    ? args.before
      ? decodeInboxCursor(args.before, 'before')
      : null
    : args.after
      ? decodeInboxCursor(args.after, 'after')
      : null;
  const key = cursor ? keyOf(cursor) : null;

  // One run per source, around its hint. Each source's total tells whether more lie beyond its run.
  const runs = new Map<string, Run>();
  await Promise.all(
    streams.map(async ({ id: s, sourceId, filter }) => {
      const run = backward
        ? await runBefore(ctx, sourceId, filter, key, cursor ? (cursor.p[s] ?? 0) : null, n)
        : await runAfter(
            ctx,
            sourceId,
            filter,
            key,
            cursor ? (cursor.p[s] ?? 0) + (cursor.s === sourceId ? 1 : 0) : 0,
            n,
          );
      if (run) runs.set(s, run);
    }),
  );

  // The items beyond the key (all of them without one), in merged order: a k-way merge of the runs, each already in
  // its source's order (the connector contract; a run that is not is sorted first). Beyond the key lies a suffix of
  // each run going forward and a prefix going backward, so positions need no search and, going forward, the merge
  // stops once it has one item more than the page. `at[t]` is how many of run t's items sorted before the item.
  const list = [...runs.entries()].map(([s, r]) => ({ s, r, items: inSourceOrder(r.items) }));
  const isBeyond = (c: ConversationModel) => !key || (backward ? mergedCompare(c, key) < 0 : mergedCompare(c, key) > 0);
  const from = list.map((l) => {
    let i = 0;
    if (!backward) while (i < l.items.length && !isBeyond(l.items[i] as ConversationModel)) i++;
    return i;
  });
  const to = list.map((l) => {
    if (!backward) return l.items.length;
    let i = 0;
    while (i < l.items.length && isBeyond(l.items[i] as ConversationModel)) i++;
    return i;
  });
  const beyond: Array<{ node: ConversationModel; at: number[] }> = [];
  const idx = from.slice();
  const enough = backward ? Number.POSITIVE_INFINITY : n + 1;
  while (beyond.length < enough) {
    let best = -1;
    let head: ConversationModel | undefined;
    for (let t = 0; t < list.length; t++) {
      if ((idx[t] as number) >= (to[t] as number)) continue;
      const c = (list[t] as (typeof list)[number]).items[idx[t] as number] as ConversationModel;
      if (!head || mergedCompare(c, head) < 0) {
        best = t;
        head = c;
      }
    }
    if (!head) break;
    // Streams of one source can share a conversation (two of a person's participants in it): it shows once.
    const prev = beyond[beyond.length - 1]?.node;
    if (!prev || mergedCompare(prev, head) !== 0) beyond.push({ node: head, at: idx.slice() });
    idx[best] = (idx[best] as number) + 1;
  }
  const taken = backward ? beyond.slice(Math.max(0, beyond.length - n)) : beyond.slice(0, n);
  const positions = (at: number[]) => {
    const p: Record<string, number> = {};
    list.forEach((l, t) => (p[l.s] = l.r.start + (at[t] as number)));
    return p;
  };

  // Anything on the far side of the key (or of the page) means another page that way: on the key's side lies the
  // prefix before `from` going forward, the suffix from `to` going backward.
  const hasOnKeySide = () =>
    list.some((l, t) =>
      backward
        ? (key !== null && (to[t] as number) < l.items.length) || l.r.start + l.r.items.length < l.r.total
        : (key !== null && (from[t] as number) > 0) || l.r.start > 0,
    );
  const hasBeyond =
    beyond.length > n || list.some(({ r }) => (backward ? r.start > 0 : r.start + r.items.length < r.total));
  const failed = streams.some((s) => !runs.has(s.id));
  const overlapping = streams.some((s) => s.id !== s.sourceId);
  return {
    // Cursors are encoded only when asked for (an inbox view rarely selects every edge's cursor).
    edges: taken.map((t) => ({
      get cursor() {
        return encodeInboxCursor({
          k: [t.node.lastMessageAt?.getTime() ?? null, t.node.nativeId],
          s: t.node.sourceId,
          p: positions(t.at),
        });
      },
      node: t.node,
    })),
    hasNextPage: backward ? Boolean(key) && hasOnKeySide() : hasBeyond,
    hasPreviousPage: backward ? hasBeyond : Boolean(key) && hasOnKeySide(),
    totalCount: failed || overlapping ? null : [...runs.values()].reduce((a, r) => a + r.total, 0),
  };
}
