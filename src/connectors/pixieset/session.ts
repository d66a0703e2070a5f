import type DataLoader from 'dataloader';
import { badInput, ErrorCode, GatewayError } from '../../errors';
import { nullIfNotFound } from '../batch';
import { matchesFilter, pageFromAll, paginateMessages, planPages } from '../paging';
import type { PixiesetSourceConfig } from '../../config/schema';
import { UnsupportedSession } from '../UnsupportedSession';
import type { SessionOptions } from '../vendor';
import type {
  AttachmentUploadModel,
  AttachmentUploadRequest,
  ConnectorSession,
  ConversationModel,
  ConversationPage,
  ListConversationsRequest,
  MessageModel,
  MessagePage,
  MessagePageRequest,
  ParticipantModel,
  RequestScope,
  SendMessageInput,
  SourceUnreadModel,
} from '../types';
import type { CatalogSync } from '../catalog';
import { rememberAgents, scanPixieset, type AgentDirectory, type PixiesetReadCache } from './catalog';
import type { PixiesetClient } from './client';
import { createPixiesetLoaders } from './loaders';
import { mapConversation, mapMessage } from './mapper';
import type { InboxOrderGuard } from './order';
import type { PixiesetConversationDto } from './types';

const DEFAULT_UPLOAD_TTL_MS = 15 * 60_000;
export { SCAN_ROUNDS, type AgentDirectory } from './catalog';

/**
 * What a Pixieset connector keeps across sessions besides its catalog: the studio's agents, and the order check
 * whose break switches listing to the catalog (order.ts).
 */
export interface PixiesetShared {
  agents: AgentDirectory;
  guard: InboxOrderGuard;
}

/**
 * What every Pixieset session is built from (connectors/vendor.ts), one per connector; `sync` is the source's
 * catalog sync over catalog.ts's reader (the fallback listing, order.ts), whose per-call cache is the session's.
 */
export type PixiesetSessionOptions = SessionOptions<
  PixiesetSourceConfig,
  PixiesetClient,
  PixiesetShared,
  PixiesetReadCache
>;

/** One operation's view of a Pixieset Studio account; loaders live and die with it. */
export class PixiesetSession extends UnsupportedSession implements ConnectorSession {
  /** Conversation detail (with messages and participants), one request per distinct id. */
  private readonly details: DataLoader<string, PixiesetConversationDto | null>;
  private readonly clients: DataLoader<string, ParticipantModel | null>;
  /** Full reads of the list, for filters the API cannot apply, keyed by client filter. */
  private readonly scans = new Map<string, Promise<ConversationModel[]>>();

  private readonly client: PixiesetClient;
  private readonly agents: AgentDirectory;
  private readonly maxAttachmentSize: number;
  /** The order check, and the catalog listing falls back to once it broke (order.ts). */
  private readonly ordering: { guard: InboxOrderGuard; sync: CatalogSync<PixiesetReadCache> };

  constructor(
    options: PixiesetSessionOptions,
    private readonly scope: RequestScope,
  ) {
    super(options.config.id);
    this.client = options.client;
    this.agents = options.shared.agents;
    this.maxAttachmentSize = options.profile.capabilities.maxAttachmentSize ?? Infinity;
    this.ordering = { guard: options.shared.guard, sync: options.sync };
    const loaders = createPixiesetLoaders(options.client, scope, options.config.id);
    this.details = loaders.details;
    this.clients = loaders.clients;
  }

  private remember(c: ConversationModel): ConversationModel {
    return rememberAgents(this.agents, c);
  }

  async listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    const f = req.filter;
    let clientId: string | undefined;
    if (f.participantNativeId) {
      if (f.participantNativeId.startsWith('cl_')) clientId = f.participantNativeId;
      // The studio takes part in every conversation; any other id takes part in none.
      else if (!this.agents.has(f.participantNativeId)) return { items: [], total: 0 };
    }
    if (f.labels && f.labels.length > 0) return { items: [], total: 0 }; // docs/vendors/README.md: no labels
    const statuses = new Set(f.status ?? []);
    if (statuses.size > 0 && ![...statuses].some((st) => st === 'OPEN' || st === 'ARCHIVED'))
      return { items: [], total: 0 };
    // Statuses are filtered here, never pushed down as `message_status`: the seed shows only `inbox`, and neither
    // what it selects nor any other value is documented (docs/vendors/pixieset.md "Status filter" and
    // "Assumptions").
    const everyStatus = statuses.size === 0 || (statuses.has('OPEN') && statuses.has('ARCHIVED'));
    const inMemory = (all: ConversationModel[]) =>
      pageFromAll(
        all.filter((c) =>
          matchesFilter(c, f, c.participants ?? [], c.lastMessage?.content ? [c.lastMessage.content] : []),
        ),
        req.offset,
        req.limit,
      );
    if (this.ordering.guard.fallback) return inMemory(await this.catalogAll());
    if (!everyStatus || f.unreadOnly || f.search) return inMemory(await this.scan(clientId));

    // Streamed in the vendor's order, which is assumed to be the inbox order (docs/vendors/pixieset.md "Ordering"):
    // the window is read with the row before it, so that consecutive windows are checked at their seams too.
    const from = Math.max(0, req.offset - 1);
    const want = req.offset + req.limit - from;
    const plan = planPages(from, want);
    const pages = await Promise.all(
      plan.pages.map((page) =>
        this.client.list(this.scope, { page, pageSize: plan.pageSize, clientId, withMessages: true }),
      ),
    );
    const all = pages.flatMap((p) => p.data.map((c) => this.remember(mapConversation(this.sourceId, c))));
    const skip = from - ((plan.pages[0] ?? 1) - 1) * plan.pageSize;
    const rows = all.slice(skip, skip + want);
    const served = pages.every((p) => this.ordering.guard.checkPageSize(plan.pageSize, p.meta.per_page, 'list'));
    if (!served || !this.ordering.guard.check(rows, `list rows ${from}..${from + rows.length - 1}`)) {
      // Not the inbox order: this answer and every later one come from the catalog.
      return inMemory(await this.catalogAll());
    }
    return { items: rows.slice(req.offset - from), total: pages[0]?.meta.total ?? 0 };
  }

  /** Every conversation from the catalog (fallback mode), synced by a full read when missing or stale. */
  private catalogAll(): Promise<ConversationModel[]> {
    return this.ordering.sync.all(this.scope, this.readCache());
  }

  /** What this session's reads share with the catalog's: its full reads and its detail loader. */
  private readCache(): PixiesetReadCache {
    return { scans: this.scans, details: this.details };
  }

  /** Every page of the list (of one client), once per operation (catalog.ts `scanPixieset`). */
  private scan(clientId: string | undefined): Promise<ConversationModel[]> {
    return scanPixieset(this.client, this.scope, this.sourceId, this.agents, this.scans, clientId);
  }

  async loadConversation(nativeId: string): Promise<ConversationModel | null> {
    const dto = await this.details.load(nativeId);
    return dto ? this.remember(mapConversation(this.sourceId, dto)) : null;
  }

  async loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    if (conversation.participants) return conversation.participants;
    return (await this.loadConversation(conversation.nativeId))?.participants ?? [];
  }

  async loadParticipant(nativeId: string): Promise<ParticipantModel | null> {
    if (nativeId.startsWith('cl_')) return this.clients.load(nativeId);
    return this.agents.get(nativeId) ?? null;
  }

  async loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null> {
    if (conversation.lastMessage !== undefined) return conversation.lastMessage;
    return (await this.loadConversation(conversation.nativeId))?.lastMessage ?? null;
  }

  async loadMessage(nativeId: string): Promise<MessageModel | null> {
    const [conv] = nativeId.split('/');
    if (!conv) return null;
    const page = await nullIfNotFound(this.listMessages(conv, {}));
    return page?.items.find((i) => i.message.nativeId === nativeId)?.message ?? null;
  }

  async listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage> {
    const dto = await this.details.load(conversationNativeId);
    if (!dto)
      throw new GatewayError(ErrorCode.NOT_FOUND, `Conversation not found in source "${this.sourceId}".`, {
        source: this.sourceId,
      });
    const conv = this.remember(mapConversation(this.sourceId, dto));
    const messages = (dto.messages ?? []).map((m) => mapMessage(this.sourceId, m, dto.id, conv.participants));
    messages.sort((a, b) => (a.sentAt?.getTime() ?? 0) - (b.sentAt?.getTime() ?? 0));
    return paginateMessages(messages, req);
  }

  override async unreadCount(): Promise<SourceUnreadModel> {
    const u = await this.client.unread(this.scope);
    return { sourceId: this.sourceId, total: u.unread_count, conversationsWithUnread: u.conversations_with_unread };
  }

  override async sendMessage(input: SendMessageInput): Promise<MessageModel> {
    if (input.private) throw badInput(`Source "${this.sourceId}" has no private notes.`, 'private');
    const dto = await this.client.send(this.scope, {
      conversationId: input.conversationNativeId,
      content: input.content,
      attachmentIds: input.attachmentIds,
    });
    this.details.clear(input.conversationNativeId);
    this.scans.clear();
    // The catalog follows the gateway's own writes at once (one detail read; nothing before its first sync).
    if (this.ordering.guard.fallback)
      await this.ordering.sync.refresh(this.scope, [input.conversationNativeId], this.readCache());
    const msg = mapMessage(this.sourceId, dto, input.conversationNativeId, null);
    msg.sender = (msg.senderRef && this.agents.get(msg.senderRef)) || null;
    return msg;
  }

  override async createAttachmentUpload(req: AttachmentUploadRequest): Promise<AttachmentUploadModel> {
    // The conversation must exist and be readable before a file is staged for it.
    if (!(await this.details.load(req.conversationNativeId))) {
      throw new GatewayError(ErrorCode.NOT_FOUND, `Conversation not found in source "${this.sourceId}".`, {
        source: this.sourceId,
      });
    }
    const u = await this.client.uploadUrl(this.scope, {
      filename: req.filename,
      contentType: req.contentType,
      size: req.size,
    });
    return {
      sourceId: this.sourceId,
      url: u.upload_url,
      method: u.method,
      fields: Object.entries(u.upload_fields).map(([name, value]) => ({ name, value })),
      attachmentNativeId: u.attachment_id,
      expiresAt: policyExpiry(u.upload_fields.policy) ?? new Date(Date.now() + DEFAULT_UPLOAD_TTL_MS),
      maxSize: Math.min(req.size, this.maxAttachmentSize),
    };
  }
}

/** The S3 POST policy is base64 JSON with an `expiration`; fall back to a default when it is opaque. */
function policyExpiry(policy: string | undefined): Date | null {
  if (!policy) return null;
  try {
    const doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration?: unknown };
    const t = typeof doc.expiration === 'string' ? Date.parse(doc.expiration) : Number.NaN;
    return Number.isNaN(t) ? null : new Date(t);
  } catch {
    return null;
  }
}
