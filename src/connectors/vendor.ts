import type { SourceConfig } from '../config/schema';
import { ConversationCatalog, type CatalogSync } from './catalog';
import { createMemoryCatalogStore } from './catalog-stores/memory';
import { HttpClient, type HttpClientOptions } from './http';
import type { ConnectorDeps, SourceCapabilities, SourceKind } from './types';

/**
 * The parts every vendor folder (src/connectors/<vendor>/) is built from, so that the folders have one shape
 * (docs/connectors.md "A vendor folder"): a profile (the vendor's defaults as data), one way to build the vendor's
 * HTTP client and its catalog, and one options object for its sessions.
 */

/**
 * Everything a vendor has by default, as data (`<vendor>/profile.ts`). The config overrides the limits and the
 * catalog age per source; server/connectors.ts takes the limit defaults from here (config/ imports nothing from
 * src/, so the profiles live with their connectors and the registry lists them: connectors/registry.ts).
 */
export interface VendorProfile {
  kind: SourceKind;
  /** The source's display name when its config gives none. */
  defaultName: string;
  /** What the vendor can do, realtime mode (WEBHOOK or POLLING) and largest attachment included. */
  capabilities: SourceCapabilities;
  /**
   * Defaults of the per-source limits (config `rateLimitPerMinute`, `maxConcurrency`): the vendor's documented
   * request budget, or null when it documents none (then only concurrency is capped and 429 Retry-After honoured).
   */
  limits: { rateLimitPerMinute: number | null; maxConcurrency: number };
  /** The conversation catalog (connectors/catalog.ts): re-synced when older than `maxAgeMs` (config `catalogMaxAgeMs`). */
  catalog: { maxAgeMs: number };
}

/**
 * What every vendor session is built from: `new XSession(options, scope)`. One object per connector, shared by
 * all of its sessions; the scope is the one operation's.
 */
export interface SessionOptions<Config extends SourceConfig, Client, Shared = undefined, Cache = never> {
  /** The source's config (`config.id` is the source id). */
  config: Config;
  profile: VendorProfile;
  /** The vendor's client (`<vendor>/client.ts`), one per connector. */
  client: Client;
  /** The source's conversation catalog, one per connector. */
  catalog: ConversationCatalog;
  /**
   * The source's catalog sync (connectors/catalog.ts `CatalogSync`), one per connector, over `catalog` and the
   * vendor's reader (`<vendor>/catalog.ts`): sessions call it, none owns the sync. Absent for a vendor whose
   * reader still lives in its session.
   */
  sync?: CatalogSync<Cache>;
  /** Connector-lifetime state of the vendor's own (Pixieset: its agent directory and order guard); else undefined. */
  shared: Shared;
  /** The clock for times the gateway writes itself; injectable for tests. @default () => new Date() */
  now?: () => Date;
}

/**
 * The one way a vendor builds its HttpClient (`create<Vendor>Client` in `<vendor>/client.ts` calls it): source id,
 * timeouts and retries from the config, the source's limits from `deps.policy`, and the vendor's base URL, headers
 * and error mapping.
 */
export function createVendorHttp(
  config: SourceConfig,
  deps: ConnectorDeps,
  vendor: Pick<HttpClientOptions, 'headers' | 'mapError'> & { baseUrl?: string },
): HttpClient {
  return new HttpClient({
    sourceId: config.id,
    policy: deps.policy,
    baseUrl: vendor.baseUrl ?? config.baseUrl,
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    headers: vendor.headers,
    mapError: vendor.mapError,
  });
}

/** The source's conversation catalog: in `deps.catalogStore` (memory by default), aged by config or profile. */
export function createVendorCatalog(
  config: SourceConfig,
  deps: ConnectorDeps,
  profile: VendorProfile,
): ConversationCatalog {
  return new ConversationCatalog(
    deps.catalogStore ?? createMemoryCatalogStore(),
    config.id,
    config.catalogMaxAgeMs ?? profile.catalog.maxAgeMs,
  );
}
