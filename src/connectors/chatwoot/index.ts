import { CHATWOOT_READ_CHECK_INTERVAL_MS, SOURCE_LIMIT_DEFAULTS, type ChatwootSourceConfig } from '../../config/schema';
import { ConversationCatalog } from '../catalog';
import { createMemoryCatalogStore } from '../catalog-stores/memory';
import type { Connector, ConnectorDeps, RequestScope, SourceCapabilities } from '../types';
import { ChatwootClient } from './client';
import { CHATWOOT_MAX_ATTACHMENT_SIZE, ChatwootSession, SCAN_CONCURRENCY } from './session';
import { applyChatwootChanges, WebhookVersions } from './apply';
import { createChatwootPoller } from './poll';
import { chatwootDeliveryKeys, DELIVERY_KEY_TTL_MS, parseChatwootWebhook } from './webhook';

/**
 * docs/vendors/README.md "Operations a backend cannot support", Chatwoot: no pin, no archive (statuses only), no
 * message edit (content cannot change), soft message delete only, unread counts capped at 10, no subject;
 * mute exists but means "resolve and block the contact" (docs/vendors/chatwoot.md).
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

/**
 * A Chatwoot account: `api_access_token` auth, webhooks signed (v4.11.2+) and/or carrying a secret token in the
 * URL (webhook.ts), capped unread counts. Conversations are listed and unread totals summed from the conversation
 * catalog (connectors/catalog.ts): webhooks keep it fresh through {@link Connector.applyChanges}, and the full
 * re-sync after catalogMaxAgeMs (default 10 minutes), run by reads and, while anybody subscribes, by `poll`, repairs
 * what missed deliveries left wrong (Chatwoot does not retry them; docs/vendors/chatwoot.md "Webhooks", apply.ts).
 */
export function createChatwootConnector(config: ChatwootSourceConfig, deps: ConnectorDeps = {}): Connector {
  const client = new ChatwootClient(config, deps.policy);
  const catalog = new ConversationCatalog(
    deps.catalogStore ?? createMemoryCatalogStore(),
    config.id,
    config.catalogMaxAgeMs ?? 600_000,
  );
  const opts = { sourceId: config.id, accountId: config.accountId, defaultInboxId: config.defaultInboxId, catalog };
  const session = (scope: RequestScope) => new ChatwootSession(opts, client, scope);
  /** What webhooks said per conversation, for applyChanges (apply.ts). */
  const versions = new WebhookVersions();
  const webhookConfig = {
    sourceId: config.id,
    accountId: config.accountId,
    webhookToken: config.webhookToken,
    webhookSecret: config.webhookSecret,
    observe: (o: Parameters<WebhookVersions['observe']>[0]) => versions.observe(o),
  };
  const poller = createChatwootPoller({
    sourceId: config.id,
    catalog,
    client,
    session: (scope) => session(scope),
    readCheckIntervalMs: config.readCheckIntervalMs ?? CHATWOOT_READ_CHECK_INTERVAL_MS,
    pollIntervalMs: config.pollIntervalMs,
    ratePerMinute:
      config.rateLimitPerMinute === undefined
        ? SOURCE_LIMIT_DEFAULTS.CHATWOOT.rateLimitPerMinute
        : config.rateLimitPerMinute,
  });
  return {
    id: config.id,
    kind: 'CHATWOOT',
    name: config.name ?? 'Chatwoot',
    capabilities: CHATWOOT_CAPABILITIES,
    openSession: session,
    /**
     * Each named conversation is re-read into the catalog (GET /conversations/{id}; removed on 404). A change
     * without a conversation is a contact_updated: a contact's block flips `muted` on all of its conversations
     * and its name or email shows on them, and the delivery does not say which, so the snapshot is invalidated
     * and the next read re-syncs. Nothing happens before the first sync. A conversation event whose `updated_at`
     * the catalog already holds is not re-read (apply.ts: one re-read per status change, none for the webhooks of
     * the gateway's own writes).
     */
    applyChanges: (changes) => {
      const s = session({ requestId: `webhook-${config.id}` });
      return applyChatwootChanges(catalog, versions, changes, (id) => s.refreshCatalog(id), SCAN_CONCURRENCY);
    },
    /**
     * While anybody subscribes (poll.ts): repairs what missed webhooks left wrong (apply.ts `reconcileCatalog`: a
     * full re-sync once the catalog is older than catalogMaxAgeMs, reporting the conversations that differ), and
     * every readCheckIntervalMs re-checks the conversations with unread messages for reads made in Chatwoot's
     * dashboard, which send no webhook (docs/vendors/chatwoot.md "Unread semantics"). No request in between.
     */
    poll: poller.poll,
    minPollIntervalMs: poller.minPollIntervalMs,
    health: () => client.http.health(),
    parseWebhook: (req) => parseChatwootWebhook(webhookConfig, req),
    webhookDeliveryKeys: (req) => ({ keys: chatwootDeliveryKeys(webhookConfig, req), ttlMs: DELIVERY_KEY_TTL_MS }),
  };
}
