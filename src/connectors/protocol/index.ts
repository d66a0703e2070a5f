import type { ProtocolSourceConfig } from '../../config/schema';
import type { Connector, ConnectorDeps, RequestScope } from '../types';
import { createVendorCatalog } from '../vendor';
import { createProtocolClient } from './client';
import { PROTOCOL_PROFILE } from './profile';
import { ProtocolSession, type ProtocolSessionOptions } from './session';
import { parseProtocolWebhook } from './webhook';

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
  const options: ProtocolSessionOptions = { config, profile, client, catalog, shared: undefined };
  const session = (scope: RequestScope) => new ProtocolSession(options, scope);
  return {
    id: config.id,
    kind: profile.kind,
    name: config.name ?? profile.defaultName,
    capabilities: profile.capabilities,
    openSession: session,
    applyChanges: (changes, scope) => {
      const s = session(scope);
      return catalog.applyChanges(changes, (id) => s.refreshCatalog(id));
    },
    health: () => client.http.health(),
    parseWebhook: (req) => parseProtocolWebhook(config.id, config.webhookSecret, req),
  };
}
