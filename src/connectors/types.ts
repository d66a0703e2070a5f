/**
 * # The connector contract
 *
 * Every backend ("source") is one {@link Connector}. Resolvers never see a vendor: they reach sources only
 * through this interface, via a {@link ConnectorSession} opened once per GraphQL operation (one per HTTP
 * request, one per WebSocket operation). A session owns that operation's DataLoaders, so nothing is shared
 * between users and each entity is fetched at most once per operation however many fields need it.
 *
 * ## Canonical models
 * Connectors map vendor payloads onto the models below (docs/vendors/README.md). Times are `Date` (UTC) or
 * null; ids are the vendor's *native* ids as strings. The gateway turns them into global ids
 * (`src/schema/ids.ts`); connectors never see global ids.
 *
 * Native ids must carry whatever the vendor's paths need: a Chatwoot conversation is `<account>:<display_id>`
 * (display ids are unique per account only), and a message of a vendor whose message routes nest under the
 * conversation carries the conversation too (for example `<conversation>/<message>`).
 *
 * ## Ordering (the inbox order)
 * {@link ConnectorSession.listConversations} returns conversations in the one inbox order: `lastMessageAt`
 * descending (null last), then `nativeId` ascending with numeric-aware comparison ({@link compareConversations}).
 * A source whose API cannot stream in that order must sort itself (scan or index); the gateway merges the
 * per-source streams and relies on this order being exact.
 *
 * ## Filters
 * The request carries the whole {@link ConversationFilterInput} (minus `sources`, which the gateway applies).
 * A connector MUST apply every field: push down what the vendor can filter, filter the rest itself.
 *
 * ## Pagination
 * Conversations are addressed by offset within the filtered, ordered stream of one source; the gateway's
 * cursor keeps one offset per source. Messages are paged with the connector's own opaque cursors
 * ({@link MessagePageRequest}), oldest to newest within a page.
 *
 * ## Errors
 * Connectors throw only {@link GatewayError}s: vendor failures become SOURCE_* codes with `source` set
 * (`connectors/http.ts` does most of this), a vendor "not found" becomes NOT_FOUND, vendor validation errors
 * SOURCE_REJECTED, and an operation the source cannot do UNSUPPORTED_OPERATION (never a silent no-op).
 * `capabilities` must say exactly which operations work; the shared contract suite checks both ways.
 *
 * ## Attachments
 * `capabilities.uploadMode` says how files reach the vendor:
 * - `SIGNED`: the vendor issues its own signed upload (Pixieset's S3-style POST). The session's
 *   `createAttachmentUpload` returns it, and `sendMessage` receives the vendor attachment ids.
 * - `INLINE`: the vendor takes the file with the message (Chatwoot multipart, Protocol's upload endpoint).
 *   The gateway stages the file itself and `sendMessage` receives the bytes in `files`.
 */
import type { GatewayError } from '../errors';

export type SourceKind = 'PIXIESET' | 'PROTOCOL' | 'CHATWOOT' | 'MONICA';
export type ConversationStatus = 'OPEN' | 'PENDING' | 'SNOOZED' | 'RESOLVED' | 'ARCHIVED';
export type MessageDirection = 'INCOMING' | 'OUTGOING' | 'ACTIVITY';
export type ParticipantKind = 'CONTACT' | 'AGENT' | 'BOT' | 'GROUP';
export type RealtimeMode = 'WEBHOOK' | 'POLLING';

export interface ParticipantModel {
  sourceId: string;
  /** Native id; namespaced by the connector where the vendor's ids collide (Chatwoot `contact:7` / `user:2`). */
  nativeId: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  kind: ParticipantKind;
  avatarUrl: string | null;
  /** CSS hex colour. */
  avatarColor: string | null;
}

export interface AttachmentModel {
  sourceId: string;
  nativeId: string;
  filename: string | null;
  contentType: string | null;
  size: number | null;
  url: string | null;
}

export interface MessageModel {
  sourceId: string;
  /** Native id, carrying the conversation where the vendor's routes need it. */
  nativeId: string;
  conversationNativeId: string;
  content: string | null;
  sentAt: Date | null;
  readAt: Date | null;
  direction: MessageDirection;
  private: boolean;
  /** The sender when the payload embeds it. */
  sender: ParticipantModel | null;
  /** Otherwise the sender's native participant id, resolved through {@link ConnectorSession.loadParticipant}. */
  senderRef?: string | null;
  attachments: AttachmentModel[];
}

export interface ConversationModel {
  sourceId: string;
  nativeId: string;
  subject: string | null;
  status: ConversationStatus;
  channel: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  lastMessageAt: Date | null;
  /**
   * Unread incoming messages; null where the source has no read state; undefined means "ask
   * {@link ConnectorSession.loadUnreadCount}" (sources that derive it from messages, like Protocol).
   */
  unreadCount: number | null | undefined;
  muted: boolean;
  pinned: boolean;
  archived: boolean;
  labels: string[];
  /** Participants when the payload has them; null means "ask {@link ConnectorSession.loadParticipants}". */
  participants: ParticipantModel[] | null;
  /** The newest message when the payload has it; undefined means "ask {@link ConnectorSession.loadLastMessage}". */
  lastMessage?: MessageModel | null;
  /** Extra searchable text the connector has (message contents), for catalog searches. Never exposed. */
  searchText?: string;
}

export interface SourceCapabilities {
  unreadCounts: boolean;
  exactUnreadCounts: boolean;
  markRead: boolean;
  markUnread: boolean;
  createConversation: boolean;
  updateConversation: boolean;
  deleteConversation: boolean;
  sendMessage: boolean;
  editMessage: boolean;
  deleteMessage: boolean;
  attachments: boolean;
  /** Largest attachment in bytes (when `attachments`). */
  maxAttachmentSize: number | null;
  uploadMode: 'SIGNED' | 'INLINE' | null;
  mute: boolean;
  pin: boolean;
  archive: boolean;
  labels: boolean;
  privateMessages: boolean;
  /** Statuses `updateConversation({ status })` accepts. */
  settableStatuses: ConversationStatus[];
  /** Which fields of {@link UpdateConversationPatch} the source can change (besides status/muted/pinned/archived/labels). */
  editableSubject: boolean;
  realtime: RealtimeMode;
}

export type SourceHealthStatus = 'UP' | 'DEGRADED' | 'DOWN' | 'UNKNOWN';
export interface SourceHealthModel {
  status: SourceHealthStatus;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastErrorCode: string | null;
  circuit: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
}

export interface SourceModel {
  id: string;
  kind: SourceKind;
  name: string;
  capabilities: SourceCapabilities;
}

export interface SourceUnreadModel {
  sourceId: string;
  total: number;
  conversationsWithUnread: number;
}
export interface UnreadCountModel {
  total: number;
  conversationsWithUnread: number;
  bySource: SourceUnreadModel[];
}

/** The filter a connector must apply in full (the gateway applies `sources`). */
export interface ConversationFilterInput {
  status?: ConversationStatus[] | null;
  unreadOnly?: boolean | null;
  /** Native participant id in this source. */
  participantNativeId?: string | null;
  /** Any of these labels. */
  labels?: string[] | null;
  /** Case-insensitive text, matched against subject, participant names/emails and, where the vendor searches them, message contents. */
  search?: string | null;
}

export interface ListConversationsRequest {
  /** Position in this source's filtered, ordered stream (0 = newest). */
  offset: number;
  /** How many to return (at most 100 plus one look-ahead). */
  limit: number;
  filter: ConversationFilterInput;
}
export interface ConversationPage {
  items: ConversationModel[];
  /** Number of conversations matching the filter in this source. */
  total: number;
}

/** Relay-style request over one conversation's messages; cursors are the connector's own. */
export interface MessagePageRequest {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}
export interface MessagePage {
  /** Oldest to newest. */
  items: Array<{ cursor: string; message: MessageModel }>;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number | null;
}

/** A file the gateway staged, handed to INLINE connectors. */
export interface StagedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface SendMessageInput {
  conversationNativeId: string;
  content: string;
  private: boolean;
  /** SIGNED sources: the vendor attachment ids returned by createAttachmentUpload. */
  attachmentIds: string[];
  /** INLINE sources: the staged files. */
  files: StagedFile[];
}

export interface CreateConversationInput {
  participantNativeIds: string[];
  groupNativeId?: string | null;
  subject?: string | null;
  inboxId?: string | null;
  channel?: string | null;
  content?: string | null;
  happenedAt?: Date | null;
}

export interface UpdateConversationPatch {
  status?: ConversationStatus | null;
  muted?: boolean | null;
  pinned?: boolean | null;
  archived?: boolean | null;
  subject?: string | null;
  labels?: string[] | null;
  happenedAt?: Date | null;
}

export interface AttachmentUploadRequest {
  conversationNativeId: string;
  filename: string;
  contentType: string;
  size: number;
}
export interface AttachmentUploadModel {
  url: string;
  method: string;
  fields: Array<{ name: string; value: string }>;
  /** Native attachment id (the gateway globalizes it). */
  attachmentNativeId: string;
  sourceId: string;
  expiresAt: Date;
  maxSize: number;
}

/** Per-operation facilities the gateway gives a session. */
export interface RequestScope {
  /** Travels into upstream calls as `X-Request-Id`. */
  requestId: string;
  /** Aborts upstream calls when the operation's deadline passes or the client goes away. */
  signal?: AbortSignal;
  /**
   * Whose budget the upstream calls come out of (connectors/fairShare.ts): the API key's id for an operation
   * (server/context.ts); absent for background work (pollers, re-reads, probes, catalog syncs), which shares each
   * source's budget as one more tenant.
   */
  tenant?: string;
  /** Records one upstream request (for `extensions.upstream` and metrics). */
  recordUpstream?: (call: UpstreamCall) => void;
  /**
   * Reports a problem that cost part of an answer but not the answer (a vendor row that could not be decoded and
   * was left out: connectors/decode.ts `rowsOf`). The server adds it to the response's errors, logs and counts it.
   */
  report?: (error: GatewayError) => void;
}
export interface UpstreamCall {
  sourceId: string;
  method: string;
  path: string;
  status: number | null;
  ms: number;
  error?: string;
}

/**
 * One operation's view of a source. Loaders are per session. Methods a source cannot support throw
 * UNSUPPORTED_OPERATION (extend `UnsupportedSession` to get that for free).
 */
export interface ConnectorSession {
  listConversations(req: ListConversationsRequest): Promise<ConversationPage>;
  /** Batched (DataLoader); null when it does not exist. */
  loadConversation(nativeId: string): Promise<ConversationModel | null>;
  loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]>;
  /** Batched; null when unknown. */
  loadParticipant(nativeId: string): Promise<ParticipantModel | null>;
  loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null>;
  /** Only called when `conversation.unreadCount` is undefined. */
  loadUnreadCount?(conversation: ConversationModel): Promise<number | null>;
  loadMessage(nativeId: string): Promise<MessageModel | null>;
  listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage>;
  /** Null where the source has no read state. */
  unreadCount(): Promise<SourceUnreadModel | null>;

  sendMessage(input: SendMessageInput): Promise<MessageModel>;
  createConversation(input: CreateConversationInput): Promise<ConversationModel>;
  updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel>;
  deleteConversation(nativeId: string): Promise<void>;
  editMessage(nativeId: string, content: string): Promise<MessageModel>;
  deleteMessage(nativeId: string): Promise<void>;
  markRead(nativeId: string): Promise<ConversationModel>;
  markUnread(nativeId: string): Promise<ConversationModel>;
  /** SIGNED sources only. */
  createAttachmentUpload(req: AttachmentUploadRequest): Promise<AttachmentUploadModel>;
  /**
   * The source's own contact listing, where the vendor documents one (Chatwoot contacts, Monica contacts with
   * their contact fields, Protocol contacts): every CONTACT participant, with the same native ids as the
   * conversations' participants, paged with the connector's own opaque cursor (`next: null` at the end).
   * Optional: without it, people (src/people/) are formed from the participants of the source's conversations.
   * `first` is at most 100.
   */
  listContacts?(opts: { after?: string; first: number }): Promise<ContactPage>;
}

/** One page of {@link ConnectorSession.listContacts}. */
export interface ContactPage {
  items: ParticipantModel[];
  /** Cursor of the next page; null after the last. */
  next: string | null;
}

/** A change a source noticed by itself (webhook or poll), for the live engine. */
export interface SourceChange {
  sourceId: string;
  conversationNativeId: string | null;
  /** Vendor event id, for deduplication. */
  eventId?: string;
  /**
   * The conversation as the connector just read it, when a poll has it complete (participants and last message):
   * the live engine hands it to this instance's `conversationChanged` subscribers instead of reading it again.
   * Never sent over pub/sub.
   */
  conversation?: ConversationModel;
  /**
   * Typed thread events the change carries (docs/live.md "Thread events"), when the vendor's payload says what
   * happened (Chatwoot's message_created / message_updated carry the message). Published on `events:<source>`.
   */
  events?: ThreadEventChange[];
}

/**
 * The fields of a conversation whose change `ConversationUpdated` names (GraphQL `ConversationField`). PEOPLE: the
 * people its participants belong to (`Participant.person`) changed by a manual link or unlink.
 */
export type ConversationField = 'STATUS' | 'LABELS' | 'MUTED' | 'PINNED' | 'ARCHIVED' | 'SUBJECT' | 'PEOPLE';

/**
 * A thread event a connector read from a vendor's payload or found by comparing two polls (SourceChange.events;
 * docs/live.md "Thread events"). Message events carry the message (its `conversationNativeId` names the
 * conversation); conversation events carry the conversation as the vendor now has it, or its id when deleted.
 */
export type ThreadEventChange = {
  /** When it happened (epoch ms). */
  at: number;
} & (
  | { kind: 'MessageAdded' | 'MessageUpdated' | 'MessageDeleted'; message: MessageModel }
  | { kind: 'ConversationRead'; conversation: ConversationModel }
  | { kind: 'ConversationUpdated'; conversation: ConversationModel; changedFields: ConversationField[] }
  | { kind: 'ConversationDeleted'; conversationNativeId: string }
);

/** What the live engine tells a {@link Connector.poll}. */
export interface PollOptions {
  /**
   * Somebody on this instance watches the source's thread events: the poll may spend the extra upstream reads
   * that complete them (docs/live.md "Pollers"). Events it can tell from what it reads anyway come without it.
   */
  events?: boolean;
}

export interface WebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** Query string parameters (Chatwoot's secret token travels here). */
  query: Record<string, string>;
}

/** A webhook delivery before its body is read: what {@link Connector.checkWebhookHeaders} sees. */
export type WebhookHeaders = Omit<WebhookRequest, 'rawBody'>;

/** A source's catalog as a store keeps it (connectors/catalog.ts). */
export interface CatalogSnapshot {
  /** When the last full sync finished (epoch ms). */
  syncedAt: number;
  /** Every conversation, in no particular order (the catalog sorts). */
  items: ConversationModel[];
}

/** Where catalogs live: in memory (connectors/catalog-stores/memory.ts) or Redis (catalog-stores/redis.ts). */
export interface CatalogStore {
  read(sourceId: string): Promise<CatalogSnapshot | null>;
  /** Replaces the snapshot after a full sync. */
  write(sourceId: string, snapshot: CatalogSnapshot): Promise<void>;
  /** Upserts and removes single conversations (mutations, webhooks) without touching `syncedAt`. */
  patch(sourceId: string, upserts: ConversationModel[], removals: string[]): Promise<void>;
  /**
   * Sets the snapshot's `syncedAt` and leaves its conversations alone (an incremental refresh after its patch, an
   * invalidation with 0); nothing before the first write.
   */
  touch(sourceId: string, syncedAt: number): Promise<void>;
  /** Tries to take the sync lease of a source for `ttlMs`; true when this caller holds it. */
  acquireSync(sourceId: string, ttlMs: number): Promise<boolean>;
  releaseSync(sourceId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A source's resilience limits, decided once by the composition root from the source's config and its kind's
 * defaults (server/connectors.ts). Absent fields take HttpClient's defaults (connectors/http.ts).
 */
export interface SourcePolicy {
  /** Per-attempt timeout, ms. */
  timeoutMs?: number;
  /** Extra attempts for idempotent requests on transient failures. */
  retries?: number;
  /** Consecutive failures that open the circuit. */
  circuitThreshold?: number;
  /** How long the circuit stays open before a half-open probe, ms. */
  circuitHalfOpenAfterMs?: number;
  /** Requests sent at most in any 60 s; null: no cap. */
  rateLimitPerMinute?: number | null;
  /** Requests in flight at once. */
  maxConcurrency?: number;
  /** Fraction of `rateLimitPerMinute` kept for API keys that have used little of the window (connectors/fairShare.ts). */
  keyReserve?: number;
}

/** What the composition root gives connector factories. */
export interface ConnectorDeps {
  /** Where catalogs live (connectors/catalog.ts): in memory by default, Redis when configured. */
  catalogStore?: CatalogStore;
  /**
   * The source's limits. Every HttpClient of the connector takes them as its `policy`, whenever and wherever it
   * is built (at start-up, lazily, per session): nothing reaches a client but through here. Absent (a connector
   * built directly, in tests): only what the source's config says (`timeoutMs`, `retries`).
   */
  policy?: SourcePolicy;
}

/** One configured backend. */
export interface Connector {
  readonly id: string;
  readonly kind: SourceKind;
  readonly name: string;
  readonly capabilities: SourceCapabilities;
  openSession(scope: RequestScope): ConnectorSession;
  health(): SourceHealthModel;
  /**
   * WEBHOOK sources: authenticate and parse one delivery. Throws FORBIDDEN (bad signature/token) or
   * BAD_USER_INPUT (malformed); returns the changes it implies.
   */
  parseWebhook?(req: WebhookRequest): SourceChange[];
  /**
   * WEBHOOK sources: the checks that need no body (a URL token, a signature header that is present and well
   * formed, a timestamp in range), run before the body is read, so that a sender without them cannot make the
   * gateway read a body at all. Throws FORBIDDEN; {@link parseWebhook} still checks everything.
   */
  checkWebhookHeaders?(req: WebhookHeaders): void;
  /**
   * WEBHOOK sources whose deliveries carry their own identity (Chatwoot's `X-Chatwoot-Delivery`, a signature):
   * called after {@link parseWebhook} accepted a delivery, returns the keys that identify it. The gateway refuses
   * (FORBIDDEN, nothing published) a delivery any of whose keys it has seen within `ttlMs`, across instances.
   */
  webhookDeliveryKeys?(req: WebhookRequest): { keys: string[]; ttlMs: number };
  /**
   * Brings the connector's own state (its catalog) up to date with changes a webhook or poll reported, before
   * the live engine re-reads totals. A change whose `conversationNativeId` is null means "something changed
   * that cannot be named" (or a change could not be applied): the connector must stop trusting its catalog, so
   * that the next read re-syncs. Optional: connectors without a catalog have nothing to update. `scope` is the
   * live engine's own (`live-<source>-<n>`, docs/live.md "Sessions"): the re-reads carry its request id and are
   * counted in its upstream metrics.
   */
  applyChanges?(changes: SourceChange[], scope: RequestScope): Promise<void>;
  /**
   * POLLING sources: looks for changes the vendor does not push. The live engine calls it from its one poller
   * of the source (only while somebody subscribes to the source, and across instances only on the one holding
   * the source's poll lease), at most every `pollIntervalMs` (see {@link minPollIntervalMs}), with a scope of
   * its own (`live-<source>-<n>` request ids). Returns the conversations whose unread count, last message or
   * status changed since the previous call, as far as the connector can tell; a change with
   * `conversationNativeId: null` means "the unread totals may have moved, but I cannot say where". A call with
   * nothing to compare with (a connector's first, unless its state is shared, like Monica's catalog) only records
   * the baseline and returns []. The engine publishes each change on
   * `conversation:<source>` and, when the list is not empty, re-reads the totals with `unreadCount()`.
   * Throws GatewayErrors like any call (SOURCE_RATE_LIMITED with `retryAfter` makes the engine wait that long).
   * Without `poll`, a POLLING source with unread counts has its totals re-read every interval.
   * A poll may attach thread events to its changes (`SourceChange.events`, docs/live.md "Thread events"); with
   * `options.events` (somebody here watches the source's thread events) it may spend the extra reads they need.
   */
  poll?(scope: RequestScope, options?: PollOptions): Promise<SourceChange[]>;
  /**
   * POLLING sources with a request budget: the shortest poll interval the budget allows now (for example from
   * how many requests a poll costs at the current size of the account). The engine waits
   * `max(pollIntervalMs, minPollIntervalMs())` between polls. Optional: no minimum.
   */
  minPollIntervalMs?(): number;
  /** Releases timers and sockets. */
  close?(): Promise<void>;
}

export type { GatewayError };

const collator = new Intl.Collator('en', { numeric: true });

/** The inbox order: lastMessageAt descending (null last), then native id ascending, numeric-aware. */
export function compareConversations(
  a: Pick<ConversationModel, 'lastMessageAt' | 'nativeId'>,
  b: Pick<ConversationModel, 'lastMessageAt' | 'nativeId'>,
): number {
  const ta = a.lastMessageAt?.getTime() ?? null;
  const tb = b.lastMessageAt?.getTime() ?? null;
  if (ta !== tb) {
    if (ta === null) return 1;
    if (tb === null) return -1;
    return tb - ta;
  }
  return collator.compare(a.nativeId, b.nativeId);
}
