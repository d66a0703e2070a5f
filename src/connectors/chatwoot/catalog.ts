import type { ChatwootSourceConfig } from '../../config/schema';
import type { CatalogDelta, CatalogReader } from '../catalog';
import { mapLimit } from '../concurrency';
import type { CatalogSnapshot, ConversationModel, RequestScope } from '../types';
import { CHATWOOT_FILTER_BATCH, type ChatwootClient, type ListQuery } from './client';
import { createChatwootLoaders, type ChatwootLoaders } from './loaders';
import { conversationNativeId, mapConversation, parseConversationNativeId, type ChatwootMapContext } from './mapper';
import type { ChatwootConversationDto } from './types';

/** Pages read at once during a full read (3000 requests a minute is the upstream limit, docs/vendors/chatwoot.md). */
export const SCAN_CONCURRENCY = 4;

/** Display id of one of the account's conversations, or null (another account's, or not an id). */
function displayIdIn(ctx: ChatwootMapContext, nativeId: string): number | null {
  const p = parseConversationNativeId(nativeId);
  return p && p.accountId === ctx.accountId ? p.displayId : null;
}

/** What the catalog keeps of a conversation: the mapped model, with the last message's text for searches. */
export function chatwootCatalogModel(ctx: ChatwootMapContext, dto: ChatwootConversationDto): ConversationModel {
  const model = mapConversation(ctx, dto);
  const text = model.lastMessage?.content;
  return text ? { ...model, searchText: text } : model;
}

/**
 * Every page of one list query. The page size is an instance setting the API does not tell
 * (docs/vendors/chatwoot.md "Pagination"), so page 1's length is taken as the page size and the read goes on
 * until a page is shorter than that, or empty: never ending at a fixed 25, nor at the meta counts (with `q` they
 * stop at one page, conversation_finder.rb). The counts only say how many pages to ask for at once
 * (SCAN_CONCURRENCY at a time) before going on one page at a time. The list can shift while it is read, so
 * conversations are kept once by id (the fresher read wins).
 *
 * With `catchUp` (the catalog's sync), the read also makes up for the shifts that lose conversations. In
 * `last_activity_at_desc` order a conversation only moves up (new activity) and new ones arrive at the top,
 * so one that moved from a page not yet read to a page already read would be missing: page 1 is read again
 * (and the next, as long as a page is full and holds nothing older than the newest conversation of the first
 * read), and when that re-read counts more conversations than the first, the pages from the old end on are
 * read again (until a short or empty page). A conversation deleted during the read can still hide the one that
 * slid up into an already-read page until the next sync (Chatwoot sends no webhook for a deletion either).
 */
export async function readAllChatwootPages(
  client: ChatwootClient,
  scope: RequestScope,
  q: Omit<ListQuery, 'page'>,
  catchUp: boolean,
): Promise<ChatwootConversationDto[]> {
  const read = (page: number) => client.listConversations(scope, { ...q, page });
  const byId = new Map<number, ChatwootConversationDto>();
  const keep = (dto: ChatwootConversationDto) => {
    const seen = byId.get(dto.id);
    if (!seen || (dto.updated_at ?? 0) >= (seen.updated_at ?? 0)) byId.set(dto.id, dto);
  };
  const first = await read(1);
  first.payload.forEach(keep);
  const size = first.payload.length;
  if (size === 0) return [];
  /** The last page read and how many rows it had. */
  let end = { page: 1, rows: size };
  /** Reads pages from `from` on, one at a time, until one is shorter than `size` (or empty). */
  const readOnFrom = async (from: number): Promise<void> => {
    for (let page = from; ; page++) {
      const p = await read(page);
      p.payload.forEach(keep);
      end = { page, rows: p.payload.length };
      if (p.payload.length < size) return;
    }
  };
  // Pages 2..hint at once, where the counts say the list ends (a hint only); then on until a short page.
  const hint = Math.max(1, Math.ceil(first.meta.all_count / size));
  const ahead = await mapLimit(
    Array.from({ length: hint - 1 }, (_, i) => i + 2),
    SCAN_CONCURRENCY,
    read,
  );
  ahead.forEach((p) => p.payload.forEach(keep));
  const lastAhead = ahead[ahead.length - 1];
  if (lastAhead === undefined || lastAhead.payload.length >= size) await readOnFrom(hint + 1);
  else end = { page: hint, rows: lastAhead.payload.length };
  const last = end.page;

  // Only a list of more than one page can shift between its reads.
  const since = first.payload[0]?.last_activity_at ?? 0;
  if (catchUp && (last > 2 || (last === 2 && end.rows > 0)) && since > 0) {
    let total = first.meta.all_count;
    for (let page = 1; page < last; page++) {
      const again = await read(page);
      if (page === 1) total = again.meta.all_count;
      again.payload.forEach(keep);
      const tail = again.payload[again.payload.length - 1];
      if (again.payload.length < size || !tail || (tail.last_activity_at ?? 0) < since) break;
    }
    // More conversations now: the old end has moved down, re-read from the last page on.
    if (total > first.meta.all_count) await readOnFrom(last);
  }
  return [...byId.values()];
}

/**
 * The current state of these conversations, as the catalog keeps them, read with `POST /conversations/filter`
 * on `display_id` (docs/vendors/chatwoot.md "Filter"): CHATWOOT_FILTER_BATCH ids a request, SCAN_CONCURRENCY
 * requests at once. A batch whose ids did not all come back on page 1 reads on until a page shorter than page 1
 * or an empty one (the filter's page size is not read from anywhere). `missing`: asked for and not answered
 * (deleted, or out of the token's sight). `requests`: how many were sent.
 */
export async function readChatwootByIds(
  client: ChatwootClient,
  scope: RequestScope,
  ctx: ChatwootMapContext,
  nativeIds: string[],
): Promise<{ found: ConversationModel[]; missing: string[]; requests: number }> {
  const ids = [...new Set(nativeIds.map((n) => displayIdIn(ctx, n)).filter((n): n is number => n !== null))];
  const batches: number[][] = [];
  for (let i = 0; i < ids.length; i += CHATWOOT_FILTER_BATCH) batches.push(ids.slice(i, i + CHATWOOT_FILTER_BATCH));
  let requests = 0;
  const found = new Map<number, ChatwootConversationDto>();
  await mapLimit(batches, SCAN_CONCURRENCY, async (batch) => {
    const asked = new Set(batch);
    let got = 0;
    let size = 0;
    for (let page = 1; ; page++) {
      requests++;
      const rows = await client.filterByDisplayIds(scope, batch, page);
      for (const dto of rows) {
        if (!asked.has(dto.id) || found.has(dto.id)) continue;
        found.set(dto.id, dto);
        got++;
      }
      if (page === 1) size = rows.length;
      if (got === asked.size || rows.length === 0 || rows.length < size) break;
    }
  });
  const missing = ids.filter((id) => !found.has(id)).map((id) => conversationNativeId(ctx.accountId, id));
  return { found: [...found.values()].map((dto) => chatwootCatalogModel(ctx, dto)), missing, requests };
}

/**
 * Above this many conversations a stale catalog is refreshed incrementally ({@link createChatwootCatalogReader}
 * `readChanges`): 1,000 conversations are 41 requests a full sync at 25 a page.
 */
export const CHATWOOT_INCREMENTAL_ABOVE = 1_000;
/** The longest an account above the threshold goes without a full sync (what `updated_within` cannot show). */
export const CHATWOOT_FULL_SYNC_EVERY_MS = 60 * 60_000;
/**
 * Added to the window of an incremental refresh: `updated_within` is counted on Chatwoot's clock from when it
 * answers, the window on the gateway's from when the last refresh started.
 */
const WINDOW_SLACK_MS = 120_000;

export interface ChatwootCatalogReaderOptions {
  /** @default CHATWOOT_INCREMENTAL_ABOVE */
  incrementalAbove?: number;
  /** @default CHATWOOT_FULL_SYNC_EVERY_MS */
  fullSyncEveryMs?: number;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
}

/**
 * Chatwoot's catalog reader (connectors/catalog.ts `CatalogReader`). The full sync: every conversation
 * (`status=all`, inbox order), one page a request (the instance's `CONVERSATION_RESULTS_PER_PAGE`, 25 by default;
 * docs/vendors/chatwoot.md "Pagination"), so about ceil(n / page size) requests, one more when n is a multiple of
 * the page size (the empty page that proves the end), plus one to catch up with conversations that moved while the
 * pages were read. One conversation: `GET /conversations/{id}` through the loaders (null on 404); an id of another
 * account is left alone. The webhook filter on `updated_at` stays in apply.ts.
 *
 * docs/vendors/chatwoot.md "Incremental refresh": above `incrementalAbove` conversations a stale catalog is
 * refreshed with **one** request, `GET /conversations?status=all&updated_within=<seconds since the last refresh
 * started, plus slack>`, which Chatwoot answers unpaged with every conversation whose `updated_at` moved (a new
 * message touches it: `belongs_to :conversation, touch: true`, app/models/message.rb). What does not move
 * `updated_at` (a deletion, a read in Chatwoot's own UI) waits for the next full sync, at most
 * `fullSyncEveryMs` after the last (this process's; another instance starts its own count). An instance that
 * ignores the parameter answers page 1 of the whole list: a row older than the window shows it, and the refresh
 * becomes a full sync.
 */
export function createChatwootCatalogReader(
  config: ChatwootSourceConfig,
  client: ChatwootClient,
  options: ChatwootCatalogReaderOptions = {},
): CatalogReader<ChatwootLoaders> {
  const ctx: ChatwootMapContext = { sourceId: config.id, accountId: config.accountId };
  const above = options.incrementalAbove ?? CHATWOOT_INCREMENTAL_ABOVE;
  const fullEvery = options.fullSyncEveryMs ?? CHATWOOT_FULL_SYNC_EVERY_MS;
  const now = options.now ?? Date.now;
  /** When this process's last full sync started (null: none yet). */
  let lastFull: number | null = null;
  return {
    async readAll(scope) {
      const started = now();
      const dtos = await readAllChatwootPages(client, scope, { status: 'all' }, true);
      lastFull = started;
      return dtos.map((dto) => chatwootCatalogModel(ctx, dto));
    },
    async readChanges(scope, known: CatalogSnapshot): Promise<CatalogDelta | null> {
      // A small account, a snapshot marked stale on purpose (syncedAt 0), or a full sync due: null, a full sync.
      if (known.items.length <= above || known.syncedAt <= 0) return null;
      const t = now();
      if (lastFull === null || t - lastFull >= fullEvery) return null;
      const windowMs = Math.max(0, t - known.syncedAt) + WINDOW_SLACK_MS;
      const rows = await client.listConversations(scope, {
        page: 1,
        status: 'all',
        updatedWithin: Math.ceil(windowMs / 1000),
      });
      // A row updated before the window: the parameter was ignored (page 1 of the whole list), so read it all.
      const oldest = (t - windowMs - WINDOW_SLACK_MS) / 1000;
      if (rows.payload.some((dto) => (dto.updated_at ?? 0) < oldest)) return null;
      return { upserts: rows.payload.map((dto) => chatwootCatalogModel(ctx, dto)), removals: [] };
    },
    async readOne(_scope, nativeId, loaders) {
      const displayId = displayIdIn(ctx, nativeId);
      if (displayId === null) return undefined;
      loaders.conversations.clear(displayId);
      const dto = await loaders.conversations.load(displayId);
      return dto ? chatwootCatalogModel(ctx, dto) : null;
    },
    cache: (scope) => createChatwootLoaders(client, scope),
  };
}
