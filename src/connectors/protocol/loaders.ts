import DataLoader from 'dataloader';
import { perKey } from '../batch';
import type { RequestScope } from '../types';
import type { ProtocolClient } from './client';
import type { ProtocolContactDto, ProtocolConversationDto, ProtocolGroupDto, ProtocolMessageDto } from './types';

/** The newest message by `created_at` in any order (the first of equals: the API's own pick when newest first). */
export function newestOf(list: readonly ProtocolMessageDto[]): ProtocolMessageDto | null {
  let best: ProtocolMessageDto | null = null;
  for (const m of list) if (!best || (m.created_at ?? 0) > (best.created_at ?? 0)) best = m;
  return best;
}

/** Upstream requests one batch keeps in flight at most: Protocol has no batch endpoints, and it rate-limits. */
export const FETCH_CONCURRENCY = 8;

/** One GET per distinct id (the API has no batch read), settled per key (connectors/batch.ts): a 404 is `null`. */
const byId = <V>(fetchOne: (id: string) => Promise<V>) => perKey(fetchOne, { concurrency: FETCH_CONCURRENCY });

/** A DataLoader over conversation ids that also tells `lastMessage` which full reads were asked for. */
export interface MessageListLoader {
  load(conversationId: string): Promise<ProtocolMessageDto[]>;
  clear(conversationId: string): void;
}

export interface ProtocolLoaders {
  contacts: DataLoader<string, ProtocolContactDto | null>;
  groups: DataLoader<string, ProtocolGroupDto | null>;
  conversations: DataLoader<string, ProtocolConversationDto | null>;
  messages: DataLoader<string, ProtocolMessageDto | null>;
  /** All of one conversation's messages, newest first (every page, 100 per request); feeds unread counts. */
  conversationMessages: MessageListLoader;
  /** The newest message of a conversation; reuses `conversationMessages` when that was asked for too. */
  lastMessage: DataLoader<string, ProtocolMessageDto | null>;
}

/**
 * The per-session loaders: every contact, group, conversation and message list is fetched at most once per
 * operation, however many fields need it. Built per session, so nothing is shared between users.
 */
export function createProtocolLoaders(client: ProtocolClient, scope: RequestScope): ProtocolLoaders {
  /** Conversations whose full message list this session asked for (DataLoader cannot be asked what it holds). */
  const fullRead = new Set<string>();

  // A missing conversation stays NOT_FOUND here (listMessages must say so).
  const allMessages = new DataLoader<string, ProtocolMessageDto[]>(
    perKey(
      async (id: string) => {
        const all = await client.listAllMessages(scope, id);
        lastMessage.prime(id, newestOf(all));
        return all;
      },
      { concurrency: FETCH_CONCURRENCY, notFound: 'error' },
    ),
  );
  // Remembering the keys lets lastMessage reuse a full read asked for in the same tick instead of a second call.
  const conversationMessages: MessageListLoader = {
    load: (id) => {
      fullRead.add(id);
      return allMessages.load(id);
    },
    clear: (id) => {
      fullRead.delete(id);
      allMessages.clear(id);
    },
  };

  const newest = perKey(
    async (id: string) => {
      if (fullRead.has(id)) return newestOf(await conversationMessages.load(id));
      if (client.messagesNewestFirst) {
        // docs/vendors/protocol.md "Assumptions": lists are newest first, so the first item is the newest. Two items,
        // so that the same request checks that order; a list in another order means a full read instead.
        const page = await client.listMessages(scope, id, { limit: 2 });
        if (client.messagesNewestFirst) return page.data[0] ?? null;
      }
      return newestOf(await conversationMessages.load(id));
    },
    { concurrency: FETCH_CONCURRENCY },
  );
  const lastMessage: DataLoader<string, ProtocolMessageDto | null> = new DataLoader(async (ids) => {
    // Resolvers that ask for the unread count after an await of their own come a little later: give them a turn.
    await new Promise((resolve) => setImmediate(resolve));
    return newest(ids);
  });

  return {
    contacts: new DataLoader(byId((id) => client.getContact(scope, id))),
    groups: new DataLoader(byId((id) => client.getGroup(scope, id))),
    conversations: new DataLoader(byId((id) => client.getConversation(scope, id))),
    messages: new DataLoader(byId((id) => client.getMessage(scope, id))),
    conversationMessages,
    lastMessage,
  };
}
