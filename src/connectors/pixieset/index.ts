import type { PixiesetSourceConfig } from '../../config/schema';
import { CatalogSync } from '../catalog';
import type { Connector, ConnectorDeps, RequestScope } from '../types';
import { createVendorCatalog } from '../vendor';
import { createPixiesetCatalogReader } from './catalog';
import { createPixiesetClient } from './client';
import { InboxOrderGuard } from './order';
import { createPixiesetPoller } from './poll';
import { PIXIESET_PROFILE } from './profile';
import { PixiesetSession, type PixiesetSessionOptions } from './session';

export { PIXIESET_PROFILE };
/** What Pixieset can do: {@link PIXIESET_PROFILE}'s capabilities. */
export const PIXIESET_CAPABILITIES = PIXIESET_PROFILE.capabilities;

/** A Pixieset Studio account: a browser session's cookie and CSRF token, no webhooks (polled). */
export function createPixiesetConnector(config: PixiesetSourceConfig, deps: ConnectorDeps = {}): Connector {
  const profile = PIXIESET_PROFILE;
  const client = createPixiesetClient(config, deps);
  // The list order is undocumented (docs/vendors/pixieset.md "Ordering"): every page is checked, and a break
  // switches the source to a catalog it sorts itself (order.ts).
  const catalog = createVendorCatalog(config, deps, profile);
  const shared = { agents: new Map(), guard: new InboxOrderGuard() };
  const sync = new CatalogSync(catalog, createPixiesetCatalogReader(config, client, shared.agents));
  const options: PixiesetSessionOptions = { config, profile, client, catalog, sync, shared };
  return {
    id: config.id,
    kind: profile.kind,
    name: config.name ?? profile.defaultName,
    capabilities: profile.capabilities,
    openSession: (scope: RequestScope) => new PixiesetSession(options, scope),
    // DEGRADED with lastErrorCode INBOX_ORDER_FALLBACK once the vendor's order broke (order.ts).
    health: () => options.shared.guard.health(client.http.health()),
    // No webhooks (docs/vendors/pixieset.md): the live engine polls the unread count and the list's first page (poll.ts).
    poll: createPixiesetPoller(options),
  };
}
