import type { ProtocolSourceConfig } from '../../config/schema';
import { CatalogSync } from '../catalog';
import type { Connector, ConnectorDeps } from '../types';
import { createVendorCatalog } from '../vendor';
import { createProtocolCatalogReader } from './catalog';
import { createProtocolClient } from './client';
import { PROTOCOL_PROFILE } from './profile';
import { ProtocolSession, type ProtocolSessionOptions } from './session';
import {
  applyProtocolChanges,
  checkProtocolWebhookHeaders,
  parseProtocolWebhook,
  ProtocolWebhookEchoes,
} from './webhook';

export { PROTOCOL_PROFILE };
/** What Protocol can do: {@link PROTOCOL_PROFILE}'s capabilities. */
export const PROTOCOL_CAPABILITIES = PROTOCOL_PROFILE.capabilities;
/** Largest attachment Protocol takes, in bytes (the profile's `capabilities.maxAttachmentSize`). */
export const PROTOCOL_MAX_ATTACHMENT_SIZE = PROTOCOL_PROFILE.capabilities.maxAttachmentSize as number;

/** A Protocol (CityPay) source: Bearer token auth, signed webhooks, derived unread counts. */
export function createProtocolConnector(config: ProtocolSourceConfig, deps: ConnectorDeps = {}): Connector {
  const profile = PROTOCOL_PROFILE;
  const client = createProtocolClient(config, deps);
  // Webhooks keep the catalog fresh; the full re-sync is a safety net for missed deliveries.
  const catalog = createVendorCatalog(config, deps, profile);
  const sync = new CatalogSync(catalog, createProtocolCatalogReader(config, client));
  const options: ProtocolSessionOptions = { config, profile, client, catalog, sync, shared: undefined };
  /** What webhooks said per conversation, for applyChanges (webhook.ts: the echo of the gateway's own send). */
  const echoes = new ProtocolWebhookEchoes();
  return {
    id: config.id,
    kind: profile.kind,
    name: config.name ?? profile.defaultName,
    capabilities: profile.capabilities,
    openSession: (scope) => new ProtocolSession(options, scope),
    applyChanges: (changes, scope) => applyProtocolChanges(sync, echoes, changes, scope),
    health: () => client.http.health(),
    checkWebhookHeaders: (req) => void checkProtocolWebhookHeaders(config.id, config.webhookSecret, req),
    parseWebhook: (req) =>
      parseProtocolWebhook(config.id, config.webhookSecret, req, echoes, config.selfContactId ?? null),
  };
}
