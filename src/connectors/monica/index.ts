import type { MonicaSourceConfig } from '../../config/schema';
import { ConversationCatalog } from '../catalog';
import { createMemoryCatalogStore } from '../catalog-stores/memory';
import type { Connector, ConnectorDeps, RequestScope, SourceCapabilities } from '../types';
import { MonicaClient, createMonicaHttp } from './client';
import { createMonicaPoller, MONICA_REQUESTS_PER_MINUTE } from './poll';
import { MonicaSession } from './session';

/**
 * What Monica 4.x can do (docs/vendors/README.md "Operations a backend cannot support"): conversations and messages
 * are fully writable, but there is no read state, status, mute, pin, archive, label, attachment or webhook.
 */
export const MONICA_CAPABILITIES: SourceCapabilities = {
  unreadCounts: false,
  exactUnreadCounts: false,
  markRead: false,
  markUnread: false,
  createConversation: true,
  // Only happenedAt (when the conversation took place, a date-time: docs/vendors/monica.md "Timestamps").
  updateConversation: true,
  deleteConversation: true,
  sendMessage: true,
  editMessage: true,
  deleteMessage: true,
  attachments: false,
  maxAttachmentSize: null,
  uploadMode: null,
  mute: false,
  pin: false,
  archive: false,
  labels: false,
  privateMessages: false,
  settableStatuses: [],
  editableSubject: false,
  realtime: 'POLLING',
};

export function createMonicaConnector(config: MonicaSourceConfig, deps: ConnectorDeps = {}): Connector {
  const http = createMonicaHttp(config, deps.policy);
  const client = new MonicaClient(http);
  const catalog = new ConversationCatalog(
    deps.catalogStore ?? createMemoryCatalogStore(),
    config.id,
    config.catalogMaxAgeMs ?? 30_000,
  );
  return {
    id: config.id,
    kind: 'MONICA',
    name: config.name ?? 'Monica',
    capabilities: MONICA_CAPABILITIES,
    openSession: (scope: RequestScope) => new MonicaSession(client, scope, catalog),
    health: () => http.health(),
    // No webhooks (docs/vendors/monica.md): the live engine polls by re-syncing the catalog and diffing it (poll.ts), no
    // more often than half of the source's request budget allows.
    ...createMonicaPoller(
      config.id,
      client,
      catalog,
      config.rateLimitPerMinute === undefined ? MONICA_REQUESTS_PER_MINUTE : config.rateLimitPerMinute,
    ),
  };
}
