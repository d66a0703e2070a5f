import { badInput, GatewayError } from '../errors';
import { compareConversations, type ConversationFilterInput, type ConversationModel, type ConversationPage } from '../connectors/types';
import type { GatewayContext } from '../server/context';
import type { ConversationConnectionModel } from './mappers';

/**
 * One inbox over every visible source: a k-way merge of per-source streams, each already in the inbox order
 * (the connector contract), into lastMessageAt descending, then source id, then native id.
 *
 * Cursors are opaque base64url JSON `{ p: { <sourceId>: offset }, s: <sourceId> }`: for an edge, `p[t]` is
 * how many conversations of source t come before it in the merged order, and `s` is the edge's own source.
 * `after` resumes at p with p[s] + 1; `before` ends at p. So resuming never re-reads earlier pages: each
 * source is asked for one window at its own offset. (Issue 4 hardens these against concurrent inserts.)
 */
export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 20;

interface InboxCursor {
  p: Record<string, number>;
  s: string;
}

export function encodeInboxCursor(c: InboxCursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

export function decodeInboxCursor(raw: string, field: string): InboxCursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as InboxCursor;
    if (c && typeof c === 'object' && typeof c.s === 'string' && c.p && typeof c.p === 'object') {
      const ok = Object.values(c.p).every((n) => Number.isInteger(n) && n >= 0);
      if (ok) return c;
    }
  } catch {
    // fall through
  }
  throw badInput(`"${field}" is not a cursor of Query.conversations.`, field);
}

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

const mergedCompare = (a: ConversationModel, b: ConversationModel) =>
  compareConversations(a, b) ||
  (a.sourceId === b.sourceId ? 0 : a.sourceId < b.sourceId ? -1 : 1);

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

export async function resolveInbox(
  ctx: GatewayContext,
  args: {
    first?: number | null;
    after?: string | null;
    last?: number | null;
    before?: string | null;
    filter?: {
      sources?: string[] | null;
      status?: ConversationFilterInput['status'];
      unreadOnly?: boolean | null;
      participantId?: { sourceId: string; nativeId: string } | null;
      labels?: string[] | null;
      search?: string | null;
    } | null;
  },
): Promise<ConversationConnectionModel> {
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
  const filter: ConversationFilterInput = {
    status: f.status ?? null,
    unreadOnly: f.unreadOnly ?? null,
    participantNativeId: f.participantId?.nativeId ?? null,
    labels: f.labels ?? null,
    search: f.search?.trim() ? f.search.trim() : null,
  };

  const backward = args.last != null || (args.before != null && args.first == null);
  const n = backward ? (args.last ?? DEFAULT_PAGE_SIZE) : (args.first ?? DEFAULT_PAGE_SIZE);

  // Per-source window start and end (exclusive) in each source's own stream.
  const starts = new Map<string, number>();
  const pages = new Map<string, ConversationPage>();
  if (!backward) {
    const from = args.after ? decodeInboxCursor(args.after, 'after') : null;
    await Promise.all(
      sources.map(async (s) => {
        const start = from ? (from.p[s] ?? 0) + (from.s === s ? 1 : 0) : 0;
        starts.set(s, start);
        const page = await window(ctx, s, start, n, filter);
        if (page) pages.set(s, page);
      }),
    );
  } else {
    const to = args.before ? decodeInboxCursor(args.before, 'before') : null;
    await Promise.all(
      sources.map(async (s) => {
        let end = to ? (to.p[s] ?? 0) : null;
        if (end === null) {
          // `last` without `before`: the end of each stream is its total.
          const probe = await window(ctx, s, 0, 0, filter);
          if (!probe) return;
          end = probe.total;
        }
        const start = Math.max(0, end - n);
        starts.set(s, start);
        const page = await window(ctx, s, start, end - start, filter);
        if (page) pages.set(s, { items: page.items.slice(0, end - start), total: page.total });
      }),
    );
  }

  // Merge every fetched item; positions count fetched items of each source seen so far.
  const merged = [...pages.values()].flatMap((p) => p.items).sort(mergedCompare);
  const seen = new Map<string, number>();
  const positioned = merged.map((node) => {
    const p: Record<string, number> = {};
    for (const s of starts.keys()) p[s] = (starts.get(s) ?? 0) + (seen.get(s) ?? 0);
    seen.set(node.sourceId, (seen.get(node.sourceId) ?? 0) + 1);
    return { node, p };
  });
  const taken = backward ? positioned.slice(Math.max(0, positioned.length - n)) : positioned.slice(0, n);

  const failed = sources.filter((s) => !pages.has(s));
  const totalOf = (s: string) => pages.get(s)?.total ?? 0;
  let hasNextPage: boolean;
  let hasPreviousPage: boolean;
  if (!backward) {
    const consumed = new Map<string, number>();
    for (const t of taken) consumed.set(t.node.sourceId, (consumed.get(t.node.sourceId) ?? 0) + 1);
    hasNextPage = [...pages.keys()].some((s) => (starts.get(s) ?? 0) + (consumed.get(s) ?? 0) < totalOf(s));
    hasPreviousPage = [...pages.keys()].some((s) => (starts.get(s) ?? 0) > 0);
  } else {
    const first = taken[0];
    hasPreviousPage = first ? Object.values(first.p).some((v) => v > 0) : [...starts.values()].some((v) => v > 0);
    const to = args.before ? decodeInboxCursor(args.before, 'before') : null;
    hasNextPage = to ? [...pages.keys()].some((s) => (to.p[s] ?? 0) < totalOf(s)) : false;
  }
  return {
    edges: taken.map((t) => ({ cursor: encodeInboxCursor({ p: t.p, s: t.node.sourceId }), node: t.node })),
    hasNextPage,
    hasPreviousPage,
    totalCount: failed.length === 0 ? [...pages.values()].reduce((a, p) => a + p.total, 0) : null,
  };
}
