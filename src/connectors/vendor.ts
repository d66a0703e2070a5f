import type { SourceConfig } from '../config/schema';
import { ErrorCode, GatewayError } from '../errors';
import { ConversationCatalog, type CatalogSync } from './catalog';
import { redactSecrets } from './decode';
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
  /**
   * The vendor's native id formats, one pattern per entity that reaches a URL path (whole-string patterns).
   * {@link checkNativeId} refuses any other id before a path is built, so `..` or `a/b` never reach the vendor.
   */
  ids?: Partial<Record<NativeIdEntity, RegExp>>;
}

/** The entities whose native ids a connector puts into a vendor URL. */
export type NativeIdEntity = 'conversation' | 'message' | 'contact' | 'group' | 'attachment';

/**
 * Refuses a native id that does not have the vendor's id format (`profile.ids`), before any upstream request:
 * NOT_FOUND, because such an id cannot exist at the vendor, so to a client it is a conversation (or message, …)
 * that is not there, the same answer as for a well-formed id the vendor does not know.
 */
export function checkNativeId(
  profile: Pick<VendorProfile, 'ids'>,
  sourceId: string,
  entity: NativeIdEntity,
  id: string,
): string {
  const pattern = profile.ids?.[entity];
  if (pattern && !pattern.test(id))
    throw new GatewayError(ErrorCode.NOT_FOUND, `No such ${entity} in source "${sourceId}".`, { source: sourceId });
  return id;
}

/**
 * What every vendor session is built from: `new XSession(options, scope)`. One object per connector, shared by
 * all of its sessions; the scope is the one operation's.
 */
export interface SessionOptions<Config extends SourceConfig, Client, Shared, Cache> {
  /** The source's config (`config.id` is the source id). */
  config: Config;
  profile: VendorProfile;
  /** The vendor's client (`<vendor>/client.ts`), one per connector. */
  client: Client;
  /** The source's conversation catalog, one per connector. */
  catalog: ConversationCatalog;
  /**
   * The source's catalog sync (connectors/catalog.ts `CatalogSync`), one per connector, over `catalog` and the
   * vendor's reader (`<vendor>/catalog.ts`): sessions, `applyChanges` and the poller call it, none owns the sync.
   * `Cache` is what the reader's calls share (the vendor's loaders); a session passes its own.
   */
  sync: CatalogSync<Cache>;
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
    // The vendor's error body reaches clients (extensions.vendorMessages): the source's own credentials are
    // redacted from it before the vendor's mapping reads it.
    mapError: vendor.mapError && redactingMapError(vendor.mapError, credentialValues(config)),
  });
}

function credentialValues(config: SourceConfig): string[] {
  const creds = (config as { credentials?: Record<string, unknown> }).credentials ?? {};
  return Object.values(creds).filter((v): v is string => typeof v === 'string');
}

function redactingMapError(
  mapError: NonNullable<HttpClientOptions['mapError']>,
  secrets: string[],
): NonNullable<HttpClientOptions['mapError']> {
  return (res) => mapError({ ...res, body: redactSecrets(res.body, secrets) });
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
