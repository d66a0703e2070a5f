import type { ProtocolSourceConfig } from '../../config/schema';
import { HttpClient } from '../http';
import { ConversationCatalog } from '../catalog';
import { createMemoryCatalogStore } from '../catalog-stores/memory';
import type { Connector, ConnectorDeps, RequestScope, SourceCapabilities } from '../types';
import { mapProtocolError, ProtocolClient } from './client';
import { ProtocolSession } from './session';
import { parseProtocolWebhook } from './webhook';

/**
 * Largest attachment Protocol takes, in bytes. The template documents no limit; 25 MiB is our choice, and the
 * sandbox emulator enforces the same number with a 413 `invalid_request`.
 */
export const PROTOCOL_MAX_ATTACHMENT_SIZE = 25 * 1024 * 1024;

/** What Protocol can do (docs/vendors/README.md "Operations a backend cannot support"). */
export const PROTOCOL_CAPABILITIES: SourceCapabilities = {
  // Derived from messages (docs/vendors/protocol.md): exact, but no endpoint writes read state.
  unreadCounts: true,
  exactUnreadCounts: true,
  markRead: false,
  markUnread: false,
  createConversation: true,
  updateConversation: true,
  deleteConversation: true,
  sendMessage: true,
  editMessage: true,
  deleteMessage: true,
  attachments: true,
  maxAttachmentSize: PROTOCOL_MAX_ATTACHMENT_SIZE,
  // Files go to `POST /v1/attachments` and their ids into the message.
  uploadMode: 'INLINE',
  mute: true,
  pin: true,
  archive: true,
  labels: false,
  privateMessages: false,
  settableStatuses: ['OPEN', 'ARCHIVED'],
  // The "subject" is the contact's or group's name, not a conversation field.
  editableSubject: false,
  realtime: 'WEBHOOK',
};

/** A Protocol (CityPay) source: Bearer token auth, signed webhooks, derived unread counts. */
export function createProtocolConnector(config: ProtocolSourceConfig, deps: ConnectorDeps = {}): Connector {
  const http = new HttpClient({
    sourceId: config.id,
    policy: deps.policy,
    baseUrl: config.baseUrl,
    headers: { authorization: `Bearer ${config.credentials.token}` },
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    mapError: mapProtocolError(config.id, PROTOCOL_MAX_ATTACHMENT_SIZE),
  });
  const client = new ProtocolClient(http);
  // Webhooks keep the catalog fresh; the full re-sync is a safety net for missed deliveries.
  const catalog = new ConversationCatalog(
    deps.catalogStore ?? createMemoryCatalogStore(),
    config.id,
    config.catalogMaxAgeMs ?? 600_000,
  );
  const session = (scope: RequestScope) =>
    new ProtocolSession({
      sourceId: config.id,
      client,
      scope,
      selfContactId: config.selfContactId ?? null,
      maxAttachmentSize: PROTOCOL_MAX_ATTACHMENT_SIZE,
      catalog,
    });
  return {
    id: config.id,
    kind: 'PROTOCOL',
    name: config.name ?? 'Protocol',
    capabilities: PROTOCOL_CAPABILITIES,
    openSession: session,
    applyChanges: (changes) => {
      const s = session({ requestId: `webhook-${config.id}` });
      return catalog.applyChanges(changes, (id) => s.refreshCatalog(id));
    },
    health: () => http.health(),
    parseWebhook: (req) => parseProtocolWebhook(config.id, config.webhookSecret, req),
  };
}
