/**
 * Catalog stores (src/connectors/catalog-stores/) for suites that run over both backends, and conversation models
 * to fill them with.
 */
import type { CatalogStore } from '../../src/connectors/catalog';
import { createMemoryCatalogStore } from '../../src/connectors/catalog-stores/memory';
import { createRedisCatalogStore } from '../../src/connectors/catalog-stores/redis';
import type { ConversationModel, MessageModel } from '../../src/connectors/types';
import { randomPrefix, redisClients, type Backend } from './redis';

/**
 * Opens catalog stores of one backend that share their data, as gateway instances sharing a deployment do:
 * `instance()` is one more store on the same backend (in memory: the process's one store; in Redis: a store with a
 * connection of its own under the suite's key prefix). `close()` closes them all and deletes the Redis keys.
 */
export function catalogStores(backend: Backend): {
  instance(): CatalogStore;
  /** The Redis key prefix the stores share (null in memory). */
  prefix: string | null;
  close(): Promise<void>;
} {
  const stores: CatalogStore[] = [];
  const prefix = backend === 'Redis' ? randomPrefix('catalog') : null;
  const clients = redisClients();
  let memory: CatalogStore | null = null;
  return {
    prefix,
    instance() {
      let store: CatalogStore;
      if (prefix === null) store = memory ??= createMemoryCatalogStore();
      else store = createRedisCatalogStore(clients.open(), prefix);
      stores.push(store);
      return store;
    },
    async close() {
      await Promise.allSettled([...new Set(stores.splice(0))].map((s) => s.close()));
      await clients.closeAll(prefix ?? undefined);
    },
  };
}

/** A message as connectors map them, with Dates where the model has them. */
export function messageModel(conversationNativeId: string, over: Partial<MessageModel> = {}): MessageModel {
  return {
    sourceId: 'src',
    nativeId: `${conversationNativeId}:m1`,
    conversationNativeId,
    content: 'hello',
    sentAt: new Date('2026-01-02T03:04:05.678Z'),
    readAt: null,
    direction: 'INCOMING',
    private: false,
    sender: {
      sourceId: 'src',
      nativeId: 'p1',
      name: 'Ada',
      email: 'ada@example.com',
      phone: null,
      kind: 'CONTACT',
      avatarUrl: null,
      avatarColor: '#336699',
    },
    attachments: [],
    ...over,
  };
}

/** A conversation as connectors map them; `lastMessageAt` orders the inbox (newest first). */
export function conversationModel(nativeId: string, over: Partial<ConversationModel> = {}): ConversationModel {
  return {
    sourceId: 'src',
    nativeId,
    subject: `Subject ${nativeId}`,
    status: 'OPEN',
    channel: 'email',
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
    updatedAt: new Date('2026-01-02T00:00:00.000Z'),
    lastMessageAt: new Date('2026-01-02T03:04:05.678Z'),
    unreadCount: 1,
    muted: false,
    pinned: false,
    archived: false,
    labels: ['a'],
    participants: [],
    lastMessage: messageModel(nativeId),
    searchText: `text of ${nativeId}`,
    ...over,
  };
}
