import type { ProtocolSourceConfig } from '../../config/schema';
import type { CatalogReader } from '../catalog';
import type { ConversationModel } from '../types';
import type { ProtocolClient } from './client';
import { createProtocolLoaders, type ProtocolLoaders } from './loaders';
import { countUnread, mapConversation, mapMessage } from './mapper';
import type { ProtocolContactDto, ProtocolConversationDto, ProtocolGroupDto, ProtocolMessageDto } from './types';

/**
 * Protocol's catalog reader (connectors/catalog.ts `CatalogReader`). The API cannot sort by activity and has no
 * unread count (docs/vendors/protocol.md), so the catalog holds every conversation with its participants, last
 * message and derived unread count. A full sync is four list walks (conversations, contacts, groups and every
 * message, 100 a request), whatever the number of conversations; one conversation is re-read through the per-call
 * loaders (a session passes its own, so a write's re-read shares what the operation fetched).
 */
export function createProtocolCatalogReader(
  config: ProtocolSourceConfig,
  client: ProtocolClient,
): CatalogReader<ProtocolLoaders> {
  const sourceId = config.id;
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

  return {
    async readAll(scope) {
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
      return dtos.map((dto) =>
        model(dto, byConversation.get(dto.id) ?? [], {
          contact: dto.contact_id ? (contactById.get(dto.contact_id) ?? null) : null,
          group: dto.group_id ? (groupById.get(dto.group_id) ?? null) : null,
          self,
        }),
      );
    },

    async readOne(_scope, nativeId, loaders) {
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
    },

    cache: (scope) => createProtocolLoaders(client, scope),
  };
}
