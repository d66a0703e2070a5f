import type { PixiesetSourceConfig } from '../../config/schema';
import type { Connector, SourceCapabilities } from '../types';
import { PixiesetClient } from './client';
import { createPixiesetPoller } from './poll';
import { PixiesetSession, type AgentDirectory } from './session';

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

export function createPixiesetConnector(config: PixiesetSourceConfig): Connector {
  const client = new PixiesetClient(config);
  const agents: AgentDirectory = new Map();
  return {
    id: config.id,
    kind: 'PIXIESET',
    name: config.name ?? 'Pixieset Studio',
    capabilities: PIXIESET_CAPABILITIES,
    openSession: (scope) => new PixiesetSession(config.id, client, scope, agents, PIXIESET_MAX_ATTACHMENT_SIZE),
    health: () => client.http.health(),
    // No webhooks (docs/vendors/pixieset.md): the live engine polls the unread count and the list's first page (poll.ts).
    poll: createPixiesetPoller(config.id, client),
  };
}
