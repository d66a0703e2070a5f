import type { MonicaSourceConfig } from '../../config/schema';
import type { CatalogDelta, CatalogReader } from '../catalog';
import { mapLimit } from '../concurrency';
import type { ConversationModel, ParticipantModel, RequestScope } from '../types';
import { MONICA_MAX_LIMIT, type MonicaClient } from './client';
import { createMonicaLoaders, type MonicaLoaders } from './loaders';
import { ME_ID, mapContact, mapConversation, mapMe, parseId, parseTimestamp, searchableText } from './mapper';
import type { MonicaConversationDto } from './types';

/** Pages of a full read fetched at once (after the first, which says how many there are). */
const PAGE_CONCURRENCY = 4;

/**
 * Every conversation (of one contact, with `contactId`), 100 a page; each one primes the loaders' conversation
 * cache, so a listed conversation's messages and participants cost no further request.
 */
export async function readAllMonicaPages(
  client: MonicaClient,
  scope: RequestScope,
  loaders: MonicaLoaders,
  contactId: number | undefined,
): Promise<MonicaConversationDto[]> {
  const first = await client.listConversations(scope, { page: 1, limit: MONICA_MAX_LIMIT, contactId });
  const more = Array.from({ length: Math.max(0, first.meta.last_page - 1) }, (_, i) => i + 2);
  const rest = await mapLimit(more, PAGE_CONCURRENCY, (page) =>
    client.listConversations(scope, { page, limit: MONICA_MAX_LIMIT, contactId }),
  );
  // Offset paging over a list that may change between pages: keep each conversation once.
  const byId = new Map<number, MonicaConversationDto>();
  for (const page of [first, ...rest]) for (const c of page.data) byId.set(c.id, c);
  for (const c of byId.values()) loaders.conversations.prime(c.id, c);
  return [...byId.values()];
}

/** What the catalog keeps of a conversation: its contact and the account user, and its messages' text. */
export function monicaCatalogModel(
  sourceId: string,
  dto: MonicaConversationDto,
  me: ParticipantModel,
): ConversationModel {
  const base = mapConversation(sourceId, dto);
  const last = base.lastMessage;
  return {
    ...base,
    // The account user is known here, so an outgoing last message needs no /me lookup for its sender.
    lastMessage: last && last.senderRef === ME_ID && !last.sender ? { ...last, sender: me } : last,
    participants: [mapContact(sourceId, dto.contact), me],
    // Search covers the contact (in participants) and message contents, not the account user.
    searchText: searchableText(dto).join('\n'),
  };
}

/**
 * Above this many conversations, a refresh (a poll, a stale read) reads only what changed
 * ({@link createMonicaCatalogReader} `readChanges`) instead of every page: 1,000 is 11 requests a full sync.
 */
export const MONICA_INCREMENTAL_ABOVE = 1_000;
/** Pages of the rolling re-read per incremental refresh. */
export const MONICA_ROLL_PAGES = 1;
/** Requests of an incremental refresh while nothing much changed: one head page and the rolling pages. */
export const MONICA_INCREMENTAL_COST = 1 + MONICA_ROLL_PAGES;
/**
 * How far before the last refresh's start the head read goes on: Monica's clock may run behind the gateway's, and its
 * `updated_at` has whole seconds.
 */
const CLOCK_SKEW_MS = 120_000;
/** Catalog conversations a rolling pass did not meet, checked one GET each; more than this: a full sync instead. */
const MAX_SUSPECTS = 50;

export interface MonicaCatalogReaderOptions {
  /** @default MONICA_INCREMENTAL_ABOVE */
  incrementalAbove?: number;
}

/**
 * Monica's catalog reader (connectors/catalog.ts `CatalogReader`): Monica sorts only by created or updated time,
 * and a new message does not touch `updated_at` (docs/vendors/monica.md "Ordering"), so the catalog holds every
 * conversation. A full sync is every page of 100 plus `GET /me`; one conversation is one GET (a conversation
 * answer carries its messages). The cache is the loaders (a session passes its own).
 *
 * A full sync of a large account does not fit Monica's 60 requests a minute (100,000 conversations: 1,001 requests,
 * 17 minutes), so above `incrementalAbove` conversations a refresh reads only what changed (`readChanges`):
 * - the head: pages of `sort=-updated_at` until one ends before the last refresh's start (less {@link CLOCK_SKEW_MS}):
 *   new conversations and edited ones (a new `happened_at`, contact), usually one request;
 * - the rolling pass: {@link MONICA_ROLL_PAGES} page(s) of the list in `created_at` order, the next ones at each
 *   refresh, round and round: what no sort shows (a message logged in Monica's own UI does not touch `updated_at`)
 *   is met within one pass, every ceil(n / 100) refreshes. At the end of a pass, a catalog conversation the pass
 *   never met is read by id (offsets can shift under deletions): gone (404) is removed, found is kept.
 * The pass and the account user (`GET /me`, read again at each full sync) are this process's; another instance
 * taking the poll over starts its own pass.
 */
export function createMonicaCatalogReader(
  config: MonicaSourceConfig,
  client: MonicaClient,
  options: MonicaCatalogReaderOptions = {},
): CatalogReader<MonicaLoaders> {
  const sourceId = config.id;
  const above = options.incrementalAbove ?? MONICA_INCREMENTAL_ABOVE;
  let user: ParticipantModel | null = null;
  /** The rolling pass: the next page, and the conversations met since the pass began. */
  let roll = { page: 1, seen: new Set<string>() };
  const me = (loaders: MonicaLoaders) =>
    loaders.me.load(ME_ID).then((u) => {
      user = mapMe(sourceId, u);
      return user;
    });
  return {
    async readAll(scope, loaders) {
      const [dtos, account] = await Promise.all([readAllMonicaPages(client, scope, loaders, undefined), me(loaders)]);
      roll = { page: 1, seen: new Set() };
      return dtos.map((dto) => monicaCatalogModel(sourceId, dto, account));
    },
    async readChanges(scope, known, loaders): Promise<CatalogDelta | null> {
      // A small account, or a snapshot marked stale on purpose (invalidated: syncedAt 0): a full sync.
      if (known.items.length <= above || known.syncedAt <= 0) return null;
      const account = user ?? (await me(loaders));
      const found = new Map<number, MonicaConversationDto>();
      const since = known.syncedAt - CLOCK_SKEW_MS;
      for (let page = 1; ; page++) {
        const p = await client.listConversations(scope, { page, limit: MONICA_MAX_LIMIT, sort: '-updated_at' });
        for (const c of p.data) found.set(c.id, c);
        const last = p.data[p.data.length - 1];
        if (!last || page >= p.meta.last_page || (parseTimestamp(last.updated_at)?.getTime() ?? 0) < since) break;
      }
      const removals: string[] = [];
      for (let i = 0; i < MONICA_ROLL_PAGES; i++) {
        const p = await client.listConversations(scope, {
          page: roll.page,
          limit: MONICA_MAX_LIMIT,
          sort: 'created_at',
        });
        for (const c of p.data) {
          found.set(c.id, c);
          roll.seen.add(String(c.id));
        }
        if (roll.page < p.meta.last_page && p.data.length > 0) {
          roll.page++;
          continue;
        }
        // The pass is complete: what it never met was deleted, or slid past it while offsets moved.
        const seen = roll.seen;
        roll = { page: 1, seen: new Set() };
        const suspects = known.items
          .map((c) => c.nativeId)
          .filter((id) => !seen.has(id) && !found.has(parseId(id) ?? -1));
        if (suspects.length > MAX_SUSPECTS) return null;
        await mapLimit(suspects, PAGE_CONCURRENCY, async (nativeId) => {
          const id = parseId(nativeId);
          if (id === null) return void removals.push(nativeId);
          loaders.conversations.clear(id);
          const dto = await loaders.conversations.load(id);
          if (dto) found.set(dto.id, dto);
          else removals.push(nativeId);
        });
        break;
      }
      for (const c of found.values()) loaders.conversations.prime(c.id, c);
      return { upserts: [...found.values()].map((dto) => monicaCatalogModel(sourceId, dto, account)), removals };
    },
    async readOne(_scope, nativeId, loaders) {
      const id = parseId(nativeId);
      if (id === null) return null;
      loaders.conversations.clear(id);
      // A failed read leaves the catalog as it is.
      const fresh = await loaders.conversations.load(id).catch(() => undefined);
      return fresh ? monicaCatalogModel(sourceId, fresh, await me(loaders)) : fresh;
    },
    cache: (scope) => createMonicaLoaders(client, scope),
  };
}
