import type { MonicaSourceConfig } from '../../config/schema';
import { CatalogSync } from '../catalog';
import type { Connector, ConnectorDeps } from '../types';
import { createVendorCatalog } from '../vendor';
import { createMonicaCatalogReader } from './catalog';
import { createMonicaClient } from './client';
import { createMonicaPoller, diffMonica } from './poll';
import { MONICA_PROFILE } from './profile';
import { MonicaSession, type MonicaSessionOptions } from './session';

export { MONICA_PROFILE };
/** What Monica can do: {@link MONICA_PROFILE}'s capabilities. */
export const MONICA_CAPABILITIES = MONICA_PROFILE.capabilities;

/** A Monica 4.x account: Bearer token auth, no webhooks (polled), listed from the conversation catalog. */
export function createMonicaConnector(config: MonicaSourceConfig, deps: ConnectorDeps = {}): Connector {
  const profile = MONICA_PROFILE;
  const client = createMonicaClient(config, deps);
  const catalog = createVendorCatalog(config, deps, profile);
  // The poll re-syncs and diffs (poll.ts); writes patch the catalog at once.
  const sync = new CatalogSync(catalog, createMonicaCatalogReader(config, client), {
    diff: (before, after) => diffMonica(config.id, before, after),
  });
  const options: MonicaSessionOptions = { config, profile, client, catalog, sync, shared: undefined };
  return {
    id: config.id,
    kind: profile.kind,
    name: config.name ?? profile.defaultName,
    capabilities: profile.capabilities,
    openSession: (scope) => new MonicaSession(options, scope),
    health: () => client.http.health(),
    // No webhooks (docs/vendors/monica.md): the live engine polls by re-syncing the catalog and diffing it (poll.ts), no
    // more often than half of the source's request budget allows.
    ...createMonicaPoller(options),
  };
}
