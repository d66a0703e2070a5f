import type { PixiesetSourceConfig } from '../../config/schema';
import { ConversationCatalog } from '../catalog';
import { createMemoryCatalogStore } from '../catalog-stores/memory';
import type { Connector, ConnectorDeps, RequestScope, SourceCapabilities } from '../types';
import { PixiesetClient } from './client';
import { InboxOrderGuard } from './order';
import { createPixiesetPoller } from './poll';
import { PixiesetSession, type AgentDirectory } from './session';

/**
 * How old the fallback catalog may get before a list re-reads it (order.ts); polls re-read it meanwhile while
 * somebody subscribes. Config `catalogMaxAgeMs` overrides it.
 */
export const PIXIESET_CATALOG_MAX_AGE_MS = 30_000;

/** docs/vendors/pixieset.md: the 413 body carries max_size 10485760. */
export const PIXIESET_MAX_ATTACHMENT_SIZE = 10 * 1024 * 1024;

/**
 * docs/vendors/README.md "Operations a backend cannot support": Pixieset documents list, detail, send with attachments
 * (signed S3 POST) and unread counts, nothing else; no webhooks, so it is polled.
 */
export const PIXIESET_CAPABILITIES: SourceCapabilities = {
  unreadCounts: true,
  exactUnreadCounts: true,
  markRead: false,
  markUnread: false,
  createConversation: false,
  updateConversation: false,
  deleteConversation: false,
  sendMessage: true,
  editMessage: false,
  deleteMessage: false,
  attachments: true,
  maxAttachmentSize: PIXIESET_MAX_ATTACHMENT_SIZE,
  uploadMode: 'SIGNED',
  mute: false,
  pin: false,
  archive: false,
  labels: false,
  privateMessages: false,
  settableStatuses: [],
  editableSubject: false,
  realtime: 'POLLING',
};

export function createPixiesetConnector(config: PixiesetSourceConfig, deps: ConnectorDeps = {}): Connector {
  const client = new PixiesetClient(config, deps.policy);
  const agents: AgentDirectory = new Map();
  // The list order is undocumented (docs/vendors/pixieset.md "Ordering"): every page is checked, and a break
  // switches the source to a catalog it sorts itself (order.ts).
  const ordering = {
    guard: new InboxOrderGuard(),
    catalog: new ConversationCatalog(
      deps.catalogStore ?? createMemoryCatalogStore(),
      config.id,
      config.catalogMaxAgeMs ?? PIXIESET_CATALOG_MAX_AGE_MS,
    ),
  };
  const openSession = (scope: RequestScope) =>
    new PixiesetSession(config.id, client, scope, agents, PIXIESET_MAX_ATTACHMENT_SIZE, ordering);
  return {
    id: config.id,
    kind: 'PIXIESET',
    name: config.name ?? 'Pixieset Studio',
    capabilities: PIXIESET_CAPABILITIES,
    openSession,
    // DEGRADED with lastErrorCode INBOX_ORDER_FALLBACK once the vendor's order broke (order.ts).
    health: () => ordering.guard.health(client.http.health()),
    // No webhooks (docs/vendors/pixieset.md): the live engine polls the unread count and the list's first page (poll.ts).
    poll: createPixiesetPoller(config.id, client, ordering.guard, openSession),
  };
}
