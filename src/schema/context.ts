import type { Connector, ConnectorSession, StagedFile, UpstreamCall } from '../connectors/types';
import type { GatewayError } from '../errors';
import type { LiveEngine } from '../live/engine';
import type { LinkStore } from '../people/links';
import type { LivePeopleIndex } from '../people/peopleIndex';

/**
 * What a resolver receives: the per-operation context and the long-lived services it reaches through it.
 * The types live here, beside the resolvers that use them; `src/server/` builds the values (server/context.ts,
 * server/services.ts) and imports these types, never the other way round.
 */

/** Who is calling: the API key's name and the sources it may see. */
export interface Viewer {
  keyName: string;
  /**
   * The key itself, as configured: the hex SHA-256 of the key (never the key). Per-key state (idempotency keys,
   * staged uploads) is scoped by this, not by the name, which is only a label.
   */
  keyId: string;
  sourceIds: ReadonlySet<string>;
}

/** A file staged for an INLINE source: the gateway issued a signed POST to itself (server/staging.ts). */
export interface StagedUpload {
  id: string;
  sourceId: string;
  conversationNativeId: string;
  /** {@link Viewer.keyId} of the key that staged it: only that key may send it. */
  keyId: string;
  filename: string;
  contentType: string;
  size: number;
  maxSize: number;
  expiresAt: Date;
  /** Size of the uploaded file (kept on disk, not in memory); null until it is uploaded. */
  storedBytes: number | null;
}

/** What the mutations need of the upload staging (server/staging.ts implements it). */
export interface UploadStagingService {
  /** Refused with LIMIT_EXCEEDED past the key's count or byte quota, or the total cap (`extensions.limit`). */
  create(u: Omit<StagedUpload, 'id' | 'expiresAt' | 'storedBytes'>): { upload: StagedUpload; token: string };
  /** The staged upload, unless it expired. */
  get(id: string): StagedUpload | undefined;
  /** Reads uploaded files for a send and holds them (expiry and other sends leave them alone); BAD_USER_INPUT otherwise. */
  claim(ids: string[]): Promise<StagedFile[]>;
  /** The send failed: the claimed files stay staged for a retry. */
  release(ids: string[]): void;
  /** Forget a staged file once it has been sent (its file is removed). */
  consume(id: string): void;
}

/**
 * Idempotent mutations: the first call with a key runs, every repeat (concurrent or later, for 24 hours)
 * gets the same result. A failure is not a result: a failure after which the source certainly did not act
 * releases the key, so the client may retry with it. A failure after which it may have acted
 * ({@link IdempotencyRunOptions.ambiguous}) holds the key in the state "ambiguous": the next call with it first
 * looks for the first attempt's result at the source ({@link IdempotencyRunOptions.recover}) and returns it when
 * found, and runs again only when not. server/idempotency.ts has the in-memory and Redis stores.
 */
export interface IdempotencyStore {
  /** `fingerprint` identifies the input; a repeat of the key with another fingerprint is refused. */
  run<T>(key: string, fingerprint: string, fn: () => Promise<T>, opts?: IdempotencyRunOptions<T>): Promise<T>;
  close?(): Promise<void>;
}

/** The attempts of a key held as ambiguous: when the first began and when the last failed (epoch ms). */
export interface AmbiguousAttempts {
  firstStartedAt: number;
  lastFailedAt: number;
}

export interface IdempotencyRunOptions<T> {
  /** Stops a wait for another caller's claim (the operation's deadline or the client gone). */
  signal?: AbortSignal;
  /** Whether a failure of `fn` may have been carried out by the source: true holds the key. @default never */
  ambiguous?: (error: unknown) => boolean;
  /**
   * After an ambiguous failure, before `fn` runs again: what at the source could be the first attempts' result,
   * best first; the first one no other key's result took ({@link resultId}) is the result. None: `fn` runs. Its
   * failure leaves the key held as it was. Without it, `fn` runs again.
   */
  recover?: (attempts: AmbiguousAttempts) => Promise<T[]>;
  /**
   * The identity of a result at the source (e.g. its source and native id). A result belongs to one key: each
   * key's result is recorded under it (for 24 hours), and `recover` never takes a result another key has.
   */
  resultId?: (result: T) => string;
}

/** Long-lived services shared by every operation (built once by server/services.ts). */
export interface GatewayServices {
  /** Every configured connector, in config order. */
  connectors: Connector[];
  live: LiveEngine;
  staging: UploadStagingService;
  idempotency: IdempotencyStore;
  /** From config; otherwise derived from each request's Host. */
  publicUrl: string | null;
  /** Sees every upstream call of every operation with the operation's request id (metrics, debug log). */
  recordUpstream?: (call: UpstreamCall, requestId: string) => void;
  /**
   * Sees every vendor row an operation's decodes left out (connectors/decode.ts), with the operation's request id:
   * logged and counted once per source and row (server/metrics.ts `rowSkipped`), however many operations meet it.
   */
  rowSkipped?: (error: GatewayError, requestId: string) => void;
  /** People settings (config `people`); absent: the defaults (no default phone country, no manual links). */
  people?: {
    defaultCountry: string | null;
    /** Manual links (src/people/links.ts). */
    links?: LinkStore;
    /** {@link Viewer.keyId}s of the keys with `manageLinks`. */
    linkManagers?: ReadonlySet<string>;
    /**
     * The gateway's people index (src/people/peopleIndex.ts), kept by the live engine's change events; absent: people
     * are formed from scratch per operation.
     */
    index?: LivePeopleIndex;
  };
}

/**
 * Per operation (one per HTTP request, one per WebSocket operation): the viewer, lazily opened connector
 * sessions (each with its own DataLoaders), the upstream calls made, and per-source errors to report beside
 * partial data.
 */
export interface GatewayContext {
  requestId: string;
  viewer: Viewer;
  services: GatewayServices;
  publicBaseUrl: string;
  upstream: UpstreamCall[];
  /** Errors of sources that failed while others answered; appended to the response's `errors`. */
  sourceErrors: GatewayError[];
  /** Sources this viewer may see, in config order. */
  visibleSources(): Connector[];
  /** The connector of a visible source; NOT_FOUND otherwise, so hidden sources leak nothing. */
  connector(sourceId: string): Connector;
  session(sourceId: string): ConnectorSession;
  /** Drops the sessions (and their loader caches): a subscription does this before each event. */
  resetSessions(): void;
  /**
   * Aborts when the operation should stop waiting: its deadline passed (the reason is a LIMIT_EXCEEDED
   * GatewayError) or the client went away. Upstream calls and waits listen to it.
   */
  signal?: AbortSignal;
}

/** The context every resolver receives (codegen `contextType`). */
export type GraphQLContext = GatewayContext;
