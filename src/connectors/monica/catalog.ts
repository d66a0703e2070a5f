import type { MonicaSourceConfig } from '../../config/schema';
import type { CatalogReader } from '../catalog';
import { mapLimit } from '../concurrency';
import type { ConversationModel, ParticipantModel, RequestScope } from '../types';
import { MONICA_MAX_LIMIT, type MonicaClient } from './client';
import { createMonicaLoaders, type MonicaLoaders } from './loaders';
import { ME_ID, mapContact, mapConversation, mapMe, parseId, searchableText } from './mapper';
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
 * Monica's catalog reader (connectors/catalog.ts `CatalogReader`): Monica sorts only by created or updated time,
 * and a new message does not touch `updated_at` (docs/vendors/monica.md "Ordering"), so the catalog holds every
 * conversation. A full sync is every page of 100 plus `GET /me`; one conversation is one GET (a conversation
 * answer carries its messages). The cache is the loaders (a session passes its own).
 */
export function createMonicaCatalogReader(
  config: MonicaSourceConfig,
  client: MonicaClient,
): CatalogReader<MonicaLoaders> {
  const sourceId = config.id;
  const me = (loaders: MonicaLoaders) => loaders.me.load(ME_ID).then((u) => mapMe(sourceId, u));
  return {
    async readAll(scope, loaders) {
      const [dtos, user] = await Promise.all([readAllMonicaPages(client, scope, loaders, undefined), me(loaders)]);
      return dtos.map((dto) => monicaCatalogModel(sourceId, dto, user));
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
