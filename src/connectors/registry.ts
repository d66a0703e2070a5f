import type { SourceConfig } from '../config/schema';
import type { Connector, ConnectorDeps, SourceKind } from './types';
import { createPixiesetConnector } from './pixieset';
import { createChatwootConnector } from './chatwoot';
import { createMonicaConnector } from './monica';
import { createProtocolConnector } from './protocol';

type Factory<K extends SourceKind> = (config: Extract<SourceConfig, { kind: K }>, deps: ConnectorDeps) => Connector;

/**
 * SourceKind → connector factory. With server/, the only code that names concrete vendors.
 * Adding a source: one folder under connectors/, one line here (README "Adding a source").
 */
const factories: { [K in SourceKind]?: Factory<K> } = {
  PIXIESET: createPixiesetConnector,
  CHATWOOT: createChatwootConnector,
  MONICA: createMonicaConnector,
  PROTOCOL: createProtocolConnector,
};

/**
 * The connector of one source. `deps.policy` carries the source's limits into every HTTP client the connector builds
 * (the composition root passes them: server/connectors.ts); without it only the config's timeoutMs and retries apply.
 */
export function createConnector(config: SourceConfig, deps: ConnectorDeps = {}): Connector {
  const factory = factories[config.kind] as Factory<typeof config.kind> | undefined;
  if (!factory) throw new Error(`No connector is registered for source kind ${config.kind}.`);
  return factory(config as never, deps);
}
