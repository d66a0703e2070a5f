import type { ChatwootSourceConfig } from '../../config/schema';
import type { Connector, SourceCapabilities } from '../types';
import { ChatwootClient } from './client';
import { CHATWOOT_MAX_ATTACHMENT_SIZE, ChatwootSession } from './session';
import { parseChatwootWebhook } from './webhook';

/**
 * contracts §5 "Operations a backend cannot support", Chatwoot: no pin, no archive (statuses only), no
 * message edit (content cannot change), soft message delete only, unread counts capped at 10, no subject;
 * mute exists but means "resolve and block the contact" (contracts §3).
 */
export const CHATWOOT_CAPABILITIES: SourceCapabilities = {
  unreadCounts: true,
  exactUnreadCounts: false,
  markRead: true,
  markUnread: true,
  createConversation: true,
  updateConversation: true,
  deleteConversation: true,
  sendMessage: true,
  editMessage: false,
  deleteMessage: true,
  attachments: true,
  maxAttachmentSize: CHATWOOT_MAX_ATTACHMENT_SIZE,
  uploadMode: 'INLINE',
  mute: true,
  pin: false,
  archive: false,
  labels: true,
  privateMessages: true,
  settableStatuses: ['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED'],
  editableSubject: false,
  realtime: 'WEBHOOK',
};

export function createChatwootConnector(config: ChatwootSourceConfig): Connector {
  const client = new ChatwootClient(config);
  const opts = { sourceId: config.id, accountId: config.accountId, defaultInboxId: config.defaultInboxId };
  return {
    id: config.id,
    kind: 'CHATWOOT',
    name: config.name ?? 'Chatwoot',
    capabilities: CHATWOOT_CAPABILITIES,
    openSession: (scope) => new ChatwootSession(opts, client, scope),
    health: () => client.http.health(),
    parseWebhook: (req) =>
      parseChatwootWebhook({ sourceId: config.id, accountId: config.accountId, webhookToken: config.webhookToken }, req),
  };
}
