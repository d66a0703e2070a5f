import type { ProtocolSourceConfig } from '../../config/schema';
import type { CatalogDelta, CatalogReader } from '../catalog';
import { mapLimit } from '../concurrency';
import type { CatalogSnapshot, ConversationModel, RequestScope } from '../types';
import { PAGE_MAX, type ProtocolClient } from './client';
import { createProtocolLoaders, type ProtocolLoaders } from './loaders';
import { countUnread, mapConversation, mapMessage } from './mapper';
import type { ProtocolContactDto, ProtocolConversationDto, ProtocolGroupDto, ProtocolMessageDto } from './types';

/** Above this many conversations a stale catalog is refreshed incrementally (`readChanges`). */
export const PROTOCOL_INCREMENTAL_ABOVE = 1_000;
/** The longest an account above the threshold goes without a full sync (what the heads cannot show). */
export const PROTOCOL_FULL_SYNC_EVERY_MS = 60 * 60_000;
/** Conversations an incremental refresh re-reads at most; more changed than this: a full sync instead. */
export const PROTOCOL_MAX_CHANGED = 50;
/** How far before the last refresh's start the message head goes on (the vendor's clock, whole seconds). */
const CLOCK_SKEW_MS = 120_000;

export interface ProtocolCatalogReaderOptions {
  /** @default PROTOCOL_INCREMENTAL_ABOVE */
  incrementalAbove?: number;
  /** @default PROTOCOL_FULL_SYNC_EVERY_MS */
  fullSyncEveryMs?: number;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
}

/** True when the page is newest first by `created_at` (docs/vendors/protocol.md "Assumptions": not documented). */
const newestFirst = (rows: Array<{ created_at?: number | null }>) =>
  rows.every((r, i) => i === 0 || (r.created_at ?? 0) <= (rows[i - 1]!.created_at ?? 0));

/**
 * Protocol's catalog reader (connectors/catalog.ts `CatalogReader`). The API cannot sort by activity and has no
 * unread count (docs/vendors/protocol.md), so the catalog holds every conversation with its participants, last
 * message and derived unread count. A full sync is four list walks (conversations, contacts, groups and every
 * message, 100 a request), whatever the number of conversations; one conversation is re-read through the per-call
 * loaders (a session passes its own, so a write's re-read shares what the operation fetched).
 *
 * docs/vendors/protocol.md "Incremental refresh": above `incrementalAbove` conversations a stale catalog reads
 * only the heads of two lists, newest first by `created_at`: the conversations until a page holds one the catalog
 * knows (new conversations), and the account's messages until one older than the last refresh's start less
 * {@link CLOCK_SKEW_MS} (conversations with new messages); each conversation they name is re-read as `readOne`
 * does (its unread count needs all of its messages). Usually 2 requests plus about 3 per changed conversation.
 * More than {@link PROTOCOL_MAX_CHANGED} changed, a list out of that order, or `fullSyncEveryMs` since this
 * process's last full sync: a full sync instead. Edits, reads and deletions show in no head: webhooks bring them
 * (`message.updated`, `conversation.updated|deleted`), and the full sync at the latest.
 */
export function createProtocolCatalogReader(
  config: ProtocolSourceConfig,
  client: ProtocolClient,
  options: ProtocolCatalogReaderOptions = {},
): CatalogReader<ProtocolLoaders> {
  const sourceId = config.id;
  const above = options.incrementalAbove ?? PROTOCOL_INCREMENTAL_ABOVE;
  const fullEvery = options.fullSyncEveryMs ?? PROTOCOL_FULL_SYNC_EVERY_MS;
  const now = options.now ?? Date.now;
  /** When this process's last full sync started (null: none yet). */
  let lastFull: number | null = null;
  // The contact that is the API user (config `selfContactId`); null when not configured.
  const selfContactId = config.selfContactId ?? null;

  const model = (
    dto: ProtocolConversationDto,
    messages: ProtocolMessageDto[],
    people: { contact: ProtocolContactDto | null; group: ProtocolGroupDto | null; self: ProtocolContactDto | null },
  ): ConversationModel => {
    const newest = messages.reduce<ProtocolMessageDto | null>(
      (a, m) => (!a || (m.created_at ?? 0) > (a.created_at ?? 0) ? m : a),
      null,
    );
    return {
      ...mapConversation(sourceId, dto, {
        ...people,
        selfContactId,
        unreadCount: countUnread(messages, dto, selfContactId),
      }),
      lastMessage: newest ? mapMessage(sourceId, newest, selfContactId) : null,
      searchText: messages.map((m) => m.message ?? '').join('\n'),
    };
  };

  const readOne = async (nativeId: string, loaders: ProtocolLoaders): Promise<ConversationModel | null> => {
    // The conversation changed: what the loaders hold about it is stale.
    loaders.conversations.clear(nativeId);
    loaders.conversationMessages.clear(nativeId);
    loaders.lastMessage.clear(nativeId);
    const dto = await loaders.conversations.load(nativeId);
    if (!dto) return null;
    const [messages, contact, group, self] = await Promise.all([
      loaders.conversationMessages.load(nativeId),
      dto.contact_id ? loaders.contacts.load(dto.contact_id) : null,
      dto.group_id ? loaders.groups.load(dto.group_id) : null,
      selfContactId ? loaders.contacts.load(selfContactId) : null,
    ]);
    return model(dto, messages, { contact, group, self });
  };

  /** The conversations the two heads name (new ones, and those with new messages); null: a full sync is due. */
  const changedSince = async (scope: RequestScope, known: CatalogSnapshot): Promise<Set<string> | null> => {
    const knownIds = new Set(known.items.map((c) => c.nativeId));
    const changed = new Set<string>();
    for (let after: string | undefined; ;) {
      const page = await client.listConversations(scope, { limit: PAGE_MAX, starting_after: after });
      if (!newestFirst(page.data)) return null;
      let met = false;
      for (const dto of page.data) {
        if (knownIds.has(dto.id)) met = true;
        else changed.add(dto.id);
      }
      if (changed.size > PROTOCOL_MAX_CHANGED) return null;
      const last = page.data[page.data.length - 1];
      if (met || !page.has_more || !last) break;
      after = last.id;
    }
    const since = (known.syncedAt - CLOCK_SKEW_MS) / 1000;
    for (let after: string | undefined; ;) {
      const page = await client.listAccountMessages(scope, { limit: PAGE_MAX, starting_after: after });
      if (!client.messagesNewestFirst) return null;
      for (const m of page.data) if ((m.created_at ?? 0) >= since) changed.add(m.conversation_id);
      if (changed.size > PROTOCOL_MAX_CHANGED) return null;
      const last = page.data[page.data.length - 1];
      if (!page.has_more || !last || (last.created_at ?? 0) < since) break;
      after = last.id;
    }
    return changed;
  };

  return {
    async readChanges(scope, known, loaders): Promise<CatalogDelta | null> {
      // A small account, a snapshot marked stale on purpose (syncedAt 0), or a full sync due: null, a full sync.
      if (known.items.length <= above || known.syncedAt <= 0) return null;
      if (lastFull === null || now() - lastFull >= fullEvery) return null;
      const changed = await changedSince(scope, known);
      if (!changed) return null;
      const read = await mapLimit([...changed], 4, async (id) => ({ id, model: await readOne(id, loaders) }));
      return {
        upserts: read.flatMap((r) => (r.model ? [r.model] : [])),
        removals: read.flatMap((r) => (r.model ? [] : [r.id])),
      };
    },

    async readAll(scope) {
      const started = now();
      const [dtos, contacts, groups, messages] = await Promise.all([
        client.listAllConversations(scope),
        client.listAllContacts(scope),
        client.listAllGroups(scope),
        client.listEveryMessage(scope),
      ]);
      const contactById = new Map(contacts.map((c) => [c.id, c]));
      const groupById = new Map(groups.map((g) => [g.id, g]));
      const byConversation = new Map<string, ProtocolMessageDto[]>();
      for (const m of messages) {
        const list = byConversation.get(m.conversation_id);
        if (list) list.push(m);
        else byConversation.set(m.conversation_id, [m]);
      }
      const self = selfContactId ? (contactById.get(selfContactId) ?? null) : null;
      lastFull = started;
      return dtos.map((dto) =>
        model(dto, byConversation.get(dto.id) ?? [], {
          contact: dto.contact_id ? (contactById.get(dto.contact_id) ?? null) : null,
          group: dto.group_id ? (groupById.get(dto.group_id) ?? null) : null,
          self,
        }),
      );
    },

    readOne: (_scope, nativeId, loaders) => readOne(nativeId, loaders),

    cache: (scope) => createProtocolLoaders(client, scope),
  };
}
