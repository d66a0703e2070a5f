import { SOURCE_LIMIT_DEFAULTS, type SourceConfig } from '../config/schema';
import type { CatalogStore } from '../connectors/catalog';
import { withSourcePolicy, type SourcePolicy } from '../connectors/http';
import { createConnector } from '../connectors/registry';
import type { Connector } from '../connectors/types';

/** A source's resilience settings: its config, else the defaults of its kind. */
export function sourcePolicy(s: SourceConfig): SourcePolicy {
  const d = SOURCE_LIMIT_DEFAULTS[s.kind];
  return {
    rateLimitPerMinute: s.rateLimitPerMinute === undefined ? d.rateLimitPerMinute : s.rateLimitPerMinute,
    maxConcurrency: s.maxConcurrency ?? d.maxConcurrency,
    circuitThreshold: s.circuitBreaker?.failures,
    circuitHalfOpenAfterMs: s.circuitBreaker?.halfOpenAfterMs,
  };
}

/** One connector per configured source, in config order, each with its source's limits. */
export function buildConnectors(sources: readonly SourceConfig[], deps: { catalogStore: CatalogStore }): Connector[] {
  return sources.map((s) => withSourcePolicy(s.id, sourcePolicy(s), () => createConnector(s, deps)));
}
