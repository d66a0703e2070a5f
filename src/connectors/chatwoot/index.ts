import type { ChatwootSourceConfig } from '../../config/schema';
import { CatalogSync } from '../catalog';
import type { Connector, ConnectorDeps } from '../types';
import { createVendorCatalog } from '../vendor';
import { applyChatwootChanges, WebhookVersions } from './apply';
import { createChatwootCatalogReader, SCAN_CONCURRENCY } from './catalog';
import { createChatwootClient } from './client';
import { createChatwootPoller } from './poll';
import { CHATWOOT_PROFILE } from './profile';
import { ChatwootSession, type ChatwootSessionOptions } from './session';
import {
  checkChatwootWebhookHeaders,
  chatwootDeliveryKeys,
  DELIVERY_KEY_TTL_MS,
  parseChatwootWebhook,
} from './webhook';

export { CHATWOOT_PROFILE };
/** What Chatwoot can do: {@link CHATWOOT_PROFILE}'s capabilities. */
export const CHATWOOT_CAPABILITIES = CHATWOOT_PROFILE.capabilities;

/**
 * A Chatwoot account: `api_access_token` auth, webhooks signed (v4.11.2+) and/or carrying a secret token in the
 * URL (webhook.ts), capped unread counts. Conversations are listed and unread totals summed from the conversation
 * catalog (connectors/catalog.ts): webhooks keep it fresh through {@link Connector.applyChanges}, and the full
 * re-sync after catalogMaxAgeMs (default 10 minutes), run by reads and, while anybody subscribes, by `poll`, repairs
 * what missed deliveries left wrong (Chatwoot does not retry them; docs/vendors/chatwoot.md "Webhooks", apply.ts).
 */
export function createChatwootConnector(config: ChatwootSourceConfig, deps: ConnectorDeps = {}): Connector {
  const profile = CHATWOOT_PROFILE;
  const client = createChatwootClient(config, deps);
  const catalog = createVendorCatalog(config, deps, profile);
  const reader = createChatwootCatalogReader(config, client);
  const sync = new CatalogSync(catalog, reader, { concurrency: SCAN_CONCURRENCY });
  const options: ChatwootSessionOptions = { config, profile, client, catalog, sync, shared: undefined };
  /** What webhooks said per conversation, for applyChanges (apply.ts). */
  const versions = new WebhookVersions();
  const webhookConfig = {
    sourceId: config.id,
    accountId: config.accountId,
    webhookToken: config.webhookToken,
    webhookSecret: config.webhookSecret,
    observe: (o: Parameters<WebhookVersions['observe']>[0]) => versions.observe(o),
  };
  const poller = createChatwootPoller(options);
  return {
    id: config.id,
    kind: profile.kind,
    name: config.name ?? profile.defaultName,
    capabilities: profile.capabilities,
    openSession: (scope) => new ChatwootSession(options, scope),
    /**
     * Each named conversation is re-read into the catalog (GET /conversations/{id}; removed on 404). A change
     * without a conversation is a contact_updated: a contact's block flips `muted` on all of its conversations
     * and its name or email shows on them, and the delivery does not say which, so the snapshot is invalidated
     * and the next read re-syncs. Nothing happens before the first sync. A conversation event whose `updated_at`
     * the catalog already holds is not re-read (apply.ts: one re-read per status change, none for the webhooks of
     * the gateway's own writes).
     */
    applyChanges: (changes, scope) => {
      // One cache for the call: the re-reads of one batch share their loaders (one GET per conversation).
      const loaders = reader.cache(scope);
      const refresh = (id: string) => sync.refresh(scope, [id], loaders);
      return applyChatwootChanges(catalog, versions, changes, refresh, SCAN_CONCURRENCY);
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
    checkWebhookHeaders: (req) => checkChatwootWebhookHeaders(webhookConfig, req),
    parseWebhook: (req) => parseChatwootWebhook(webhookConfig, req),
    webhookDeliveryKeys: (req) => ({ keys: chatwootDeliveryKeys(webhookConfig, req), ttlMs: DELIVERY_KEY_TTL_MS }),
  };
}
