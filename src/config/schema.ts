import { z } from 'zod';

/**
 * The config file's schema. Every string may reference an environment variable as `${NAME}`; secrets must
 * come that way (see README "Configuration"). Validation errors name the field and what was expected.
 */
const id = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a lowercase id: a letter, then letters, digits or "-" (at most 32)');
const url = z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an http(s) URL');
const ms = z.number().int().positive();

const common = {
  id,
  name: z.string().min(1).optional(),
  baseUrl: url,
  /** Per-attempt upstream timeout. */
  timeoutMs: ms.default(5000),
  /** Poll interval while somebody subscribes (POLLING sources). */
  pollIntervalMs: ms.default(5000),
  /** Extra attempts for idempotent reads. */
  retries: z.number().int().min(0).max(5).default(2),
  /**
   * Re-sync the source's conversation catalog when it is older than this. Default per kind: the vendor profile's
   * `catalog.maxAgeMs` (connectors/<vendor>/profile.ts: Monica and Pixieset 30 s, polled; Protocol and Chatwoot
   * 10 min, webhooks keep it fresh).
   */
  catalogMaxAgeMs: ms.optional(),
  /**
   * Requests a minute this gateway instance sends the source at most (a sliding minute); null for no cap.
   * Default per kind: the vendor profile's `limits` (connectors/<vendor>/profile.ts), the vendor's documented limit.
   */
  rateLimitPerMinute: z.number().int().positive().nullable().optional(),
  /** Upstream requests in flight at once; more wait in a queue. Default per kind: the vendor profile's `limits`. */
  maxConcurrency: z.number().int().min(1).max(256).optional(),
  /**
   * Fraction of `rateLimitPerMinute` kept for API keys that have used little of the current minute: once only this
   * share of the minute's requests is left, a key (or the background work) that has sent half of it or more waits,
   * so that one key cannot take another's last slots (connectors/fairShare.ts). 0 turns it off. @default 0.25
   */
  keyReserve: z.number().min(0).max(0.9).optional(),
  /** Opens after `failures` consecutive failed calls; probes with one call after `halfOpenAfterMs`. */
  circuitBreaker: z
    .object({ failures: z.number().int().min(1).max(1000).default(5), halfOpenAfterMs: ms.default(10_000) })
    .strict()
    .optional(),
};

export const pixiesetSource = z.object({
  ...common,
  kind: z.literal('PIXIESET'),
  credentials: z.object({
    /** The `Cookie` header value of a logged-in Studio session. */
    sessionCookie: z.string().min(1),
    /** The `X-CSRF-Token` value sent on writes. */
    csrfToken: z.string().min(1),
  }),
});

export const protocolSource = z.object({
  ...common,
  kind: z.literal('PROTOCOL'),
  credentials: z.object({ token: z.string().min(1) }),
  /** Secret for `x-protocol-signature` (HMAC-SHA256 of the raw body). */
  webhookSecret: z.string().min(8).optional(),
  /**
   * The contact id that represents the API user. The Protocol API has no "me" marker (docs/vendors/protocol.md), so a
   * message is OUTGOING when its contact is this one and INCOMING otherwise.
   */
  selfContactId: z.string().min(1).optional(),
});

export const chatwootSource = z.object({
  ...common,
  kind: z.literal('CHATWOOT'),
  accountId: z.number().int().positive(),
  credentials: z.object({ apiAccessToken: z.string().min(1) }),
  /**
   * Secret token expected in the webhook URL (`?token=`): the only proof of origin before Chatwoot v4.11.2 (which
   * signs nothing) and on Chatwoot Cloud (where the shown secret may not verify). No default.
   */
  webhookToken: z.string().min(8).optional(),
  /**
   * The webhook's signing secret (Chatwoot v4.11.2+): deliveries must carry a valid `X-Chatwoot-Signature` at most
   * 5 minutes old, and a repeated `X-Chatwoot-Delivery` is refused. With `webhookToken` too, both must hold; with
   * neither, every delivery is refused. No default.
   */
  webhookSecret: z.string().min(8).optional(),
  /** Inbox used by createConversation when none is given. */
  defaultInboxId: z.number().int().positive().optional(),
  /**
   * Chatwoot sends no webhook for a read (or an "unread") made in its own dashboard: while anybody subscribes, the
   * source's poller (a tick every `pollIntervalMs`) re-checks the conversations the catalog shows with unread
   * messages once this long has passed since the last check, so such a read reaches `unreadCountChanged` within
   * about this long (docs/vendors/chatwoot.md "Unread semantics"). @default 30 s, the Chatwoot profile's
   * `readCheckIntervalMs` (connectors/chatwoot/profile.ts)
   */
  readCheckIntervalMs: ms.optional(),
});

export const monicaSource = z.object({
  ...common,
  kind: z.literal('MONICA'),
  credentials: z.object({ token: z.string().min(1) }),
});

export const sourceConfig = z.discriminatedUnion('kind', [
  pixiesetSource,
  protocolSource,
  chatwootSource,
  monicaSource,
]);

/** A per-key limit: a positive count, or null for none. */
const keyLimit = z.number().int().min(1).nullable().optional();

/**
 * Limits per API key (issue 12 item 4; server/keyLimits.ts), each counted per gateway instance. Set under
 * `server.keyLimits` for every key and under `apiKeys[].limits` for one key (a field set there wins, null lifts
 * it); the defaults are {@link KEY_LIMIT_DEFAULTS}. Past one: LIMIT_EXCEEDED naming it, with `retryAfter` (HTTP 429
 * and Retry-After; over graphql-ws an `error` message for that operation, the socket stays open).
 */
export const keyLimitsConfig = z
  .object({
    /** Operations started in any 60 s (HTTP and graphql-ws; queries, mutations and subscriptions). */
    operationsPerMinute: keyLimit,
    /** Queries and mutations running at once. */
    concurrentOperations: keyLimit,
    /** Subscriptions open on one graphql-ws socket. */
    subscriptionsPerSocket: keyLimit,
    /** Subscriptions open across all the key's sockets. */
    subscriptionsPerKey: keyLimit,
  })
  .strict();

export const apiKeyConfig = z
  .object({
    name: z.string().min(1),
    /** Hex SHA-256 of the key; keys are never stored in clear. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (sha256 of the key)'),
    /** Source ids this key may see, or ["*"] for all. */
    sources: z.array(z.string().min(1)).min(1),
    /** This key's own limits, over `server.keyLimits` and the defaults ({@link keyLimitsConfig}). */
    limits: keyLimitsConfig.optional(),
    /** May link and unlink people (`linkParticipants`, `unlinkParticipant`; README "People"). @default false */
    manageLinks: z.boolean().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(4000),
        /** Public base URL (for upload URLs); derived from the request when absent. */
        publicUrl: url.optional(),
        /** Serve GraphiQL; default true unless NODE_ENV=production. */
        graphiql: z.boolean().optional(),
        /** Allow introspection; default true unless NODE_ENV=production. */
        introspection: z.boolean().optional(),
        /** Largest HTTP request body, in bytes. */
        maxBodyBytes: z.number().int().positive().default(1_000_000),
        /**
         * Largest webhook body (`POST /webhooks/<source>`), in bytes, checked after the delivery's headers
         * authenticate it (URL token, signature header) and before its body is read: LIMIT_EXCEEDED, HTTP 413,
         * naming `server.webhookMaxBodyBytes`. @default {@link SERVER_LIMIT_DEFAULTS}.webhookMaxBodyBytes (1 MiB)
         */
        webhookMaxBodyBytes: z.number().int().positive().optional(),
        /**
         * `GET /metrics` (Prometheus text). Absent means enabled without a token. With a token, a scrape must
         * send `Authorization: Bearer <token>`; set one when the port is reachable beyond your network.
         */
        metrics: z
          .object({
            enabled: z.boolean().default(true),
            token: z.string().min(16, 'expected a token of at least 16 characters').optional(),
          })
          .strict()
          .optional(),
        /**
         * Overall deadline of one operation (HTTP), in ms: upstream calls still running are aborted, the
         * answer carries SOURCE_TIMEOUT for them and LIMIT_EXCEEDED. Default {@link SERVER_LIMIT_DEFAULTS}.
         */
        operationTimeoutMs: ms.optional(),
        /** Limits per API key for every key ({@link keyLimitsConfig}); each default is in {@link KEY_LIMIT_DEFAULTS}. */
        keyLimits: keyLimitsConfig.optional(),
        /** Static limits checked before execution; each default is in {@link SERVER_LIMIT_DEFAULTS}. */
        limits: z
          .object({
            /** Nested selection depth (introspection excluded). */
            maxDepth: z.number().int().min(1).optional(),
            /** Aliased fields in one operation. */
            maxAliases: z.number().int().min(0).optional(),
            /** Static cost: every field 1, paginated fields multiply their selection by first/last (default 20). */
            maxCost: z.number().int().min(1).optional(),
            /** Lexical tokens in one document (the parser stops past it). */
            maxTokens: z.number().int().min(100).optional(),
          })
          .strict()
          .optional(),
        /**
         * Automatic persisted queries are always on (cached in Redis when configured). With `safelist`, a path
         * to a JSON manifest `{ "<sha256 hex>": "<query>" }` (relative to the working directory), only those
         * operations are accepted.
         */
        persistedQueries: z
          .object({
            safelist: z.string().min(1).optional(),
            /**
             * Largest query text an automatic persisted query may register, in UTF-8 bytes (a string literal is
             * one token, so the token limit alone does not bound a document's size). Larger: LIMIT_EXCEEDED, HTTP
             * 413, nothing stored. @default {@link PERSISTED_QUERY_DEFAULTS}.maxQueryBytes (64 KiB)
             */
            maxQueryBytes: z.number().int().min(1024).optional(),
            /**
             * New registrations one API key may make per `registrationWindowMs` (shared across instances through
             * Redis when configured); past it: LIMIT_EXCEEDED with `retryAfter`, HTTP 429, nothing stored.
             * Re-sending a query already registered does not count. @default {@link PERSISTED_QUERY_DEFAULTS}
             */
            registrationsPerKey: z.number().int().min(1).optional(),
            /** The window of `registrationsPerKey`, in ms. @default {@link PERSISTED_QUERY_DEFAULTS} (1 hour) */
            registrationWindowMs: z.number().int().min(1000).optional(),
          })
          .strict()
          .optional(),
        /**
         * Time to live of a source's poll lease (several instances sharing Redis: exactly one polls each POLLING
         * source; a dead holder's lease is taken over after about this long). Default per source:
         * max(3 × pollIntervalMs, 5000).
         */
        liveLeaseMs: z.number().int().min(100).optional(),
        /**
         * docs/live.md "Event log": the thread events (`conversationEvents`) kept per source for `after:` replay (a
         * Redis stream per source when `redis` is configured, so any instance resumes a cursor; else in memory per
         * instance); older or further back, a resuming subscriber gets `ResyncRequired`.
         */
        liveEvents: z
          .object({
            /** Events kept per source. @default 1000 */
            maxLength: z.number().int().min(1).default(1000),
            /** How long an event is kept (ms). @default 600000 (10 minutes) */
            maxAgeMs: z.number().int().min(1000).default(600_000),
          })
          .optional(),
        /**
         * `GET /readyz` answers from each source's recent health (a call that succeeded or failed within this
         * interval, from real traffic or an earlier probe) and probes a source (a one-row list) at most once per
         * interval, one probe at a time, in the background once a first answer exists: callers never cost an
         * upstream request each. @default {@link SERVER_LIMIT_DEFAULTS}.readinessIntervalMs (30 s)
         */
        readinessIntervalMs: z.number().int().min(50).optional(),
        /**
         * GraphQL over Server-Sent Events on `/graphql` (server/sse.ts): every open stream gets a comment line
         * (`:`) every `heartbeatMs`, so that proxies do not close an idle stream (many close after 30 to 60 s).
         * @default {@link SERVER_LIMIT_DEFAULTS}.sseHeartbeatMs (15 s)
         */
        sse: z
          .object({
            heartbeatMs: z.number().int().min(50).optional(),
            /**
             * Single connection mode: a stream reserved with `PUT` that has not connected within this many ms is
             * dropped with the operations posted onto it. @default {@link SERVER_LIMIT_DEFAULTS}.sseReservationTtlMs (10 s)
             */
            reservationTtlMs: z.number().int().min(100).optional(),
          })
          .strict()
          .optional(),
        /**
         * Timeouts of the HTTP server (slow clients cannot hold connections): `headersTimeoutMs` to receive a
         * request's headers, `requestTimeoutMs` to receive the whole request, body included (408 and the
         * connection closed past either), `keepAliveTimeoutMs` an idle keep-alive connection stays open. On
         * shutdown, connections still sending a request are closed at once. Defaults in {@link SERVER_LIMIT_DEFAULTS}.
         */
        http: z
          .object({
            headersTimeoutMs: z.number().int().min(100).optional(),
            requestTimeoutMs: z.number().int().min(100).optional(),
            keepAliveTimeoutMs: z.number().int().min(100).optional(),
          })
          .strict()
          .optional(),
        /**
         * Staged uploads of INLINE sources (Chatwoot, Protocol; issue 12 item 1): `POST /uploads/<id>` writes the
         * file to disk (never held in memory), and it is removed when sent, when it expires and, for leftovers of
         * a stopped gateway, at start-up. Each default is in {@link UPLOAD_STAGING_DEFAULTS}.
         */
        uploads: z
          .object({
            /**
             * Directory of the staged files (created, mode 0700); each gateway writes in its own subdirectory
             * `instance-<pid>-<random>` and at start-up removes only such subdirectories whose process is gone.
             * @default `<os.tmpdir()>/switchboard-uploads` (if /tmp is a tmpfs, that is memory: point this at a disk)
             */
            dir: z.string().min(1).optional(),
            /** How long a staged upload (and its file) is kept unsent, in ms. @default 1 hour */
            ttlMs: z.number().int().min(1000).optional(),
            /**
             * Bytes one API key may have staged and unsent (files stored plus uploads in progress, each counted at
             * its declared size until complete). Past it: LIMIT_EXCEEDED, HTTP 429 with `retryAfter`, refused before
             * the body is read. @default 256 MiB
             */
            maxBytesPerKey: z.number().int().min(1).optional(),
            /** Bytes staged by all keys together (the disk this gateway may fill). Past it: LIMIT_EXCEEDED, HTTP 503. @default 1 GiB */
            maxBytesTotal: z.number().int().min(1).optional(),
            /** Staged uploads one API key may have unsent (created, not yet sent or expired). @default 100 */
            maxUploadsPerKey: z.number().int().min(1).optional(),
          })
          .strict()
          .optional(),
        /**
         * Bounds of the in-memory stores a gateway without Redis keeps (issue 12 item 18); each entry also expires
         * with its age, and past a bound the least recently used entry is forgotten. Their sizes:
         * `switchboard_memory_store_entries{store}` on /metrics. With Redis these live in Redis instead.
         */
        memoryStores: z
          .object({
            /** Idempotency keys and their results (24 h each). @default 10,000 (server/idempotency.ts) */
            idempotencyKeys: z.number().int().min(1).optional(),
            /** Webhook event ids (24 h) and delivery keys (the connector's TTL). @default 50,000 (live/coordination.ts) */
            webhookEventKeys: z.number().int().min(1).optional(),
            /** Automatic persisted queries (24 h; also at most 30 MiB of text). @default 10,000 (server/persisted.ts) */
            persistedQueries: z.number().int().min(1).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 4000, maxBodyBytes: 1_000_000 }),
    /**
     * The read cache (src/connectors/readCache/, README "Read cache"): message pages, conversation details and
     * participants kept per source and dropped by every change the gateway hears of (webhooks, polls, its own
     * writes, on any instance sharing the pub/sub transport). Each default is in {@link READ_CACHE_DEFAULTS}.
     */
    cache: z
      .object({
        /** Off unless set: with it on, a read made right after a change the gateway was not told of may be cached. */
        enabled: z.boolean().optional(),
        /**
         * How long an answer of a source without a trusted change signal (a polling source nobody here watches, a
         * webhook source whose webhook is not configured) is served, in ms; 0: such sources are not cached.
         */
        ttlMs: z.number().int().min(0).optional(),
        /** Memory of the cached answers (estimated from their JSON size), in bytes; past it the least recently used go. */
        maxBytes: z.number().int().min(65_536).optional(),
        /**
         * The response cache (src/server/responseCache.ts, README "Response cache"): whole query answers over HTTP
         * per API key, operation and variables, dropped by the same change events; `ttlMs` above bounds the answers
         * over sources without a trusted change signal. Independent of `enabled`. Defaults in
         * {@link RESPONSE_CACHE_DEFAULTS}.
         */
        responses: z
          .object({
            /** Off unless set. */
            enabled: z.boolean().optional(),
            /** Memory of the stored answers (estimated from their JSON size), in bytes; least recently used go first. */
            maxBytes: z.number().int().min(65_536).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    redis: z
      .object({
        url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// URL'),
        /** Prefix of every key and channel (several deployments can share one Redis). @default "switchboard:" */
        keyPrefix: z.string().min(1).max(64).optional(),
        /**
         * A Redis command unanswered after this many ms fails, and the call falls back to the instance's local
         * store; two in a row while the connection looks open (a network partition, a frozen Redis) count as an
         * outage (README "Redis outage"). @default 2000 ({@link REDIS_DEFAULTS})
         */
        commandTimeoutMs: z.number().int().min(50).max(60_000).optional(),
      })
      .strict()
      .optional(),
    /** People (src/people/, README "People"): participants of several sources merged by email and phone. */
    people: z
      .object({
        /**
         * ISO 3166-1 alpha-2 country of phone numbers written without a country code (`"US"`, `"GB"`); null: such
         * numbers merge nobody. @default null
         */
        defaultCountry: z
          .string()
          .regex(/^[A-Z]{2}$/, 'expected a two-letter country code in capitals, such as "US"')
          .nullable()
          .default(null),
        /**
         * Where manual links persist without `redis` (with it, they live in Redis, shared by every instance): a JSON
         * file, read at start and rewritten on each change. Null: in memory only (lost on restart). @default null
         */
        linksFile: z.string().min(1).nullable().default(null),
      })
      .strict()
      .default({ defaultCountry: null, linksFile: null }),
    sources: z.array(sourceConfig).min(1),
    apiKeys: z.array(apiKeyConfig).min(1),
  })
  .strict();

/** Defaults of the `redis` settings. */
export const REDIS_DEFAULTS = {
  commandTimeoutMs: 2_000,
} as const;

/** Defaults of the `server` limits (issue 6). */
export const SERVER_LIMIT_DEFAULTS = {
  operationTimeoutMs: 10_000,
  maxDepth: 12,
  maxAliases: 30,
  maxCost: 10_000,
  maxTokens: 5_000,
  /** /readyz probes a source at most this often (Monica's 60 requests a minute: 2 a minute is about 3 %). */
  readinessIntervalMs: 30_000,
  /** Node's own default is 60 s; a client sends its headers at once. */
  headersTimeoutMs: 10_000,
  /** The whole request, body included (Node's default is 300 s); a 50 MB upload needs about 7 Mbit/s. */
  requestTimeoutMs: 60_000,
  /** Node's own default. */
  keepAliveTimeoutMs: 5_000,
  /** A Chatwoot conversation event (the conversation, its last message, contact and changed attributes) is a few KB. */
  webhookMaxBodyBytes: 1_048_576,
  /** An SSE comment line this often keeps an idle stream open through proxies (nginx closes after 60 s by default). */
  sseHeartbeatMs: 15_000,
  /** A graphql-sse client connects its reserved stream right after the PUT; 10 s covers a slow network. */
  sseReservationTtlMs: 10_000,
} as const;

/**
 * Defaults of the per-key limits (`server.keyLimits`, issue 12 item 4). 600 operations a minute (10 a second) and 20
 * at once are far above what an app's screens need and bound what one key can make the gateway do. A graphql-ws
 * client multiplexes an app's subscriptions over one socket: 100 covers any screen (each costs about 19 KB:
 * 2,000 on one socket took 37 MB), and 1,000 per key about 19 MB of one instance's memory.
 */
export const KEY_LIMIT_DEFAULTS = {
  operationsPerMinute: 600,
  concurrentOperations: 20,
  subscriptionsPerSocket: 100,
  subscriptionsPerKey: 1_000,
} as const;

/** Defaults of `cache` (the read cache: src/connectors/readCache/). */
export const READ_CACHE_DEFAULTS = {
  enabled: false,
  /** Sources without a trusted change signal: an answer at most 5 s old. */
  ttlMs: 5_000,
  /** 64 MiB of cached answers (a 20-message page is a few KB). */
  maxBytes: 67_108_864,
} as const;

/** Defaults of `cache.responses` (the response cache: src/server/responseCache.ts). */
export const RESPONSE_CACHE_DEFAULTS = {
  enabled: false,
  /** 32 MiB of answers (a 50-row inbox page is about 75 KB estimated). */
  maxBytes: 33_554_432,
} as const;

/**
 * Defaults of `server.uploads` (issue 12 item 1). A key may stage six of Chatwoot's largest files (40 MB) at once
 * (a message of 15 such files needs a larger `maxBytesPerKey`); the total bounds the disk a gateway uses to 1 GiB,
 * four keys' full quotas. An hour to send a staged file, as before.
 */
export const UPLOAD_STAGING_DEFAULTS = {
  ttlMs: 3_600_000,
  maxBytesPerKey: 268_435_456,
  maxBytesTotal: 1_073_741_824,
  maxUploadsPerKey: 100,
} as const;

/**
 * Defaults of `server.persistedQueries` (issue 12 item 5). 64 KiB admits any operation the token limit
 * (5,000 tokens) admits when written normally (about 10 bytes a token with names and indentation: 50 KB), and
 * refuses documents made big by string literals. 200 new registrations a key an hour covers an app's operations
 * (tens to a few hundred, registered once per version) and bounds what one key can store to 12.5 MiB an hour.
 */
export const PERSISTED_QUERY_DEFAULTS = {
  maxQueryBytes: 65_536,
  registrationsPerKey: 200,
  registrationWindowMs: 3_600_000,
} as const;

export type Config = z.output<typeof configSchema>;
export type SourceConfig = z.output<typeof sourceConfig>;
export type PixiesetSourceConfig = z.output<typeof pixiesetSource>;
export type ProtocolSourceConfig = z.output<typeof protocolSource>;
export type ChatwootSourceConfig = z.output<typeof chatwootSource>;
export type MonicaSourceConfig = z.output<typeof monicaSource>;
export type ApiKeyConfig = z.output<typeof apiKeyConfig>;
