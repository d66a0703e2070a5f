import type { SourceConfig } from '../config/schema';
import type { Connector, ConnectorDeps, SourceKind } from './types';
import type { VendorProfile } from './vendor';
import { createPixiesetConnector, PIXIESET_PROFILE } from './pixieset';
import { createChatwootConnector, CHATWOOT_PROFILE } from './chatwoot';
import { createMonicaConnector, MONICA_PROFILE } from './monica';
import { createProtocolConnector, PROTOCOL_PROFILE } from './protocol';

type Factory<K extends SourceKind> = (config: Extract<SourceConfig, { kind: K }>, deps: ConnectorDeps) => Connector;

/**
 * SourceKind → connector factory. With server/, the only code that names concrete vendors.
 * Adding a source: one folder under connectors/ (a copy of any vendor's, docs/connectors.md), one line here and one
 * in {@link VENDOR_PROFILES} (README "Adding a source").
 */
const factories: { [K in SourceKind]?: Factory<K> } = {
  PIXIESET: createPixiesetConnector,
  CHATWOOT: createChatwootConnector,
  MONICA: createMonicaConnector,
  PROTOCOL: createProtocolConnector,
};

/**
 * SourceKind → the vendor's profile (`<vendor>/profile.ts`): its defaults as data. The composition root takes the
 * limit defaults of a source from here (server/connectors.ts); config/ imports nothing from src/, so the profiles are
 * read here rather than there.
 */
export const VENDOR_PROFILES: { readonly [K in SourceKind]?: VendorProfile } = {
  PIXIESET: PIXIESET_PROFILE,
  CHATWOOT: CHATWOOT_PROFILE,
  MONICA: MONICA_PROFILE,
  PROTOCOL: PROTOCOL_PROFILE,
};

/** The profile of a source kind; throws for a kind no connector is registered for. */
export function profileOf(kind: SourceKind): VendorProfile {
  const profile = VENDOR_PROFILES[kind];
  if (!profile) throw new Error(`No connector is registered for source kind ${kind}.`);
  return profile;
}

/**
 * The connector of one source. `deps.policy` carries the source's limits into every HTTP client the connector builds
 * (the composition root passes them: server/connectors.ts); without it only the config's timeoutMs and retries apply.
 */
export function createConnector(config: SourceConfig, deps: ConnectorDeps = {}): Connector {
  const factory = factories[config.kind] as Factory<typeof config.kind> | undefined;
  if (!factory) throw new Error(`No connector is registered for source kind ${config.kind}.`);
  return factory(config as never, deps);
}
