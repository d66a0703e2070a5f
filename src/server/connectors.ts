import type { SourceConfig } from '../config/schema';
import type { CatalogStore } from '../connectors/catalog';
import { createConnector, profileOf } from '../connectors/registry';
import type { Connector, ConnectorDeps, SourcePolicy } from '../connectors/types';

/** A source's resilience settings: its config, else the defaults of its kind (its vendor's profile.ts). */
export function sourcePolicy(s: SourceConfig): SourcePolicy {
  const d = profileOf(s.kind).limits;
  return {
    timeoutMs: s.timeoutMs,
    retries: s.retries,
    rateLimitPerMinute: s.rateLimitPerMinute === undefined ? d.rateLimitPerMinute : s.rateLimitPerMinute,
    maxConcurrency: s.maxConcurrency ?? d.maxConcurrency,
    keyReserve: s.keyReserve,
    circuitThreshold: s.circuitBreaker?.failures,
    circuitHalfOpenAfterMs: s.circuitBreaker?.halfOpenAfterMs,
  };
}

/**
 * What the connector of source `s` is given: the shared services and the source's own limits, passed explicitly,
 * so that every HTTP client the connector builds, at start-up or later, gets them.
 */
export function connectorDeps(s: SourceConfig, shared: { catalogStore: CatalogStore }): ConnectorDeps {
  return { ...shared, policy: sourcePolicy(s) };
}

/** One connector per configured source, in config order, each with its source's limits. */
export function buildConnectors(sources: readonly SourceConfig[], shared: { catalogStore: CatalogStore }): Connector[] {
  return sources.map((s) => createConnector(s, connectorDeps(s, shared)));
}
