import { badInput, ErrorCode, fileTooLarge, GatewayError, unsupported } from '../../errors';
import { nullIfNotFound } from '../batch';
import { matchesFilter } from '../paging';
import type {
  ConnectorSession,
  ContactPage,
  ConversationModel,
  ConversationPage,
  CreateConversationInput,
  ListConversationsRequest,
  MessageModel,
  MessagePage,
  MessagePageRequest,
  ParticipantModel,
  RequestScope,
  SendMessageInput,
  SourceUnreadModel,
  UpdateConversationPatch,
} from '../types';
import { catalogPage, withSentMessage, type CatalogSync } from '../catalog';
import type { ProtocolSourceConfig } from '../../config/schema';
import { UnsupportedSession } from '../UnsupportedSession';
import type { SessionOptions } from '../vendor';
import { PAGE_MAX, type ConversationUpdate, type ListParams, type ProtocolClient } from './client';
import { listProtocolContacts } from './contacts';
import { createProtocolLoaders, type ProtocolLoaders } from './loaders';
import { countUnread, mapContact, mapConversation, mapMessage } from './mapper';
import type { ProtocolConversationDto, ProtocolMessageDto } from './types';

/**
 * What every Protocol session is built from (connectors/vendor.ts), one per connector; `sync` is the source's
 * catalog sync over catalog.ts's reader, whose per-call cache is the session's loaders.
 */
export type ProtocolSessionOptions = SessionOptions<ProtocolSourceConfig, ProtocolClient, undefined, ProtocolLoaders>;

/** Message cursors are the vendor's message ids, prefixed so that a foreign cursor is recognisable. */
const CURSOR = /^m:([A-Za-z0-9]{1,64})$/;
const cursorOf = (m: ProtocolMessageDto) => `m:${m.id}`;

/**
 * One operation's view of a Protocol account. The API cannot sort conversations by activity (docs/vendors/protocol.md), so
 * a list reads every page once per session and sorts in memory; unread counts are derived from messages.
 */
export class ProtocolSession extends UnsupportedSession implements ConnectorSession {
  private readonly client: ProtocolClient;
  private readonly scope: RequestScope;
  private readonly selfContactId: string | null;
  private readonly maxAttachmentSize: number;
  private readonly loaders: ProtocolLoaders;
  private readonly sync: CatalogSync<ProtocolLoaders>;

  constructor(options: ProtocolSessionOptions, scope: RequestScope) {
    super(options.config.id);
    this.client = options.client;
    this.scope = scope;
    // The contact that is the API user (config `selfContactId`); null when not configured.
    this.selfContactId = options.config.selfContactId ?? null;
    this.maxAttachmentSize = options.profile.capabilities.maxAttachmentSize ?? Infinity;
    this.loaders = createProtocolLoaders(options.client, scope);
    this.sync = options.sync;
  }

  // Reads

  /**
   * The API cannot sort by activity and has no unread count (docs/vendors/protocol.md), so pages come from the conversation
   * catalog (connectors/catalog.ts, read by catalog.ts): every conversation with its participants, last message
   * and derived unread count, synced in full (conversations, contacts, groups and every message, 100 a request)
   * when missing or older than catalogMaxAgeMs, and patched by webhooks and by the gateway's own writes. A page costs no request
   * while the snapshot is fresh.
   */
  async listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    const f = req.filter;
    const all = await this.sync.all(this.scope);
    return catalogPage(all, f, req.offset, req.limit, (c) =>
      matchesFilter(c, f, c.participants ?? [], c.searchText ? [c.searchText] : []),
    );
  }

  /**
   * Re-reads one conversation into the catalog (the gateway changed it) through this session's loaders, which
   * then hold it fresh; removes it when it is gone. Does nothing before the first sync.
   */
  private refreshCatalog(nativeId: string): Promise<void> {
    return this.sync.refresh(this.scope, [nativeId], this.loaders);
  }

  /**
   * The catalog's conversation while it is fresh (issue 13 target 1: participants, last message and unread count
   * without the conversation and contact reads; webhooks keep it as fresh as the inbox it serves), else the
   * conversation and its contacts read.
   */
  async loadConversation(nativeId: string): Promise<ConversationModel | null> {
    const held = await this.sync.catalog.lookup(nativeId);
    if (held) return held;
    const dto = await this.loaders.conversations.load(nativeId);
    return dto ? this.toModel(dto) : null;
  }

  async loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    if (conversation.participants) return conversation.participants;
    const model = await this.loadConversation(conversation.nativeId);
    return model?.participants ?? [];
  }

  /** The account's contacts but the self contact, one `GET /v1/contacts` a page (contacts.ts; issue 15). */
  listContacts(opts: { after?: string; first: number }): Promise<ContactPage> {
    return listProtocolContacts(this.client, this.scope, this.selfContactId, opts);
  }

  /** Participants are contacts (groups are not participants; see mapper). */
  async loadParticipant(nativeId: string): Promise<ParticipantModel | null> {
    const c = await this.loaders.contacts.load(nativeId);
    return c ? mapContact(this.sourceId, c, this.selfContactId) : null;
  }

  async loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null> {
    // Catalog models carry it already.
    if (conversation.lastMessage !== undefined) return conversation.lastMessage;
    const m = await this.loaders.lastMessage.load(conversation.nativeId);
    return m ? this.message(m) : null;
  }

  async loadUnreadCount(conversation: ConversationModel): Promise<number | null> {
    // Ask for the messages before any await, so that a last-message load of the same tick reuses this read.
    const messages = nullIfNotFound(this.loaders.conversationMessages.load(conversation.nativeId));
    const [dto, list] = await Promise.all([this.loaders.conversations.load(conversation.nativeId), messages]);
    return dto && list ? countUnread(list, dto, this.selfContactId) : null;
  }

  async loadMessage(nativeId: string): Promise<MessageModel | null> {
    const m = await this.loaders.messages.load(nativeId);
    return m ? this.message(m) : null;
  }

  /**
   * Oldest → newest pages over a list the API serves newest first. `last`(+`before`) and `first`+`after` map onto
   * one cursor request (`starting_after` goes older, `ending_before` newer); any other shape reads the whole
   * conversation once (shared with the unread count) and slices it.
   */
  async listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage> {
    const after = req.after != null ? parseCursor(req.after, 'after') : null;
    const before = req.before != null ? parseCursor(req.before, 'before') : null;
    const first = req.first ?? null;
    const last = req.last ?? null;

    // The cursor shortcuts rely on lists being newest first (docs/vendors/protocol.md "Assumptions"); the client checks
    // every page, and once one was in another order the whole conversation is read and sorted instead.
    if (this.client.messagesNewestFirst && last !== null && first === null && after === null) {
      // The newest `last` messages older than `before` (or the newest of all).
      const { items, hasMore } = await this.collect(
        conversationNativeId,
        last,
        before ? { starting_after: before } : {},
        'older',
      );
      if (this.client.messagesNewestFirst)
        return this.page(items.reverse(), { hasPreviousPage: hasMore, hasNextPage: before !== null });
    }
    if (this.client.messagesNewestFirst && first !== null && last === null && after !== null && before === null) {
      // The oldest `first` messages newer than `after`.
      const { items, hasMore } = await this.collect(conversationNativeId, first, { ending_before: after }, 'newer');
      if (this.client.messagesNewestFirst)
        return this.page(items.reverse(), { hasPreviousPage: true, hasNextPage: hasMore });
    }

    const listed = await this.loaders.conversationMessages.load(conversationNativeId);
    const all = this.client.messagesNewestFirst ? [...listed].reverse() : [...listed].sort(oldestFirst);
    const indexOf = (id: string, name: string) => {
      const i = all.findIndex((m) => m.id === id);
      if (i < 0) throw badInput(`The "${name}" cursor is not a message of this conversation.`, name);
      return i;
    };
    let from = after !== null ? indexOf(after, 'after') + 1 : 0;
    let to = before !== null ? indexOf(before, 'before') : all.length;
    if (to < from) to = from;
    if (first !== null) to = Math.min(to, from + first);
    if (last !== null) from = Math.max(from, to - last);
    const page = this.page(all.slice(from, to), { hasPreviousPage: from > 0, hasNextPage: to < all.length });
    return { ...page, totalCount: all.length };
  }

  /** Sums the derived unread counts over the catalog: no request while it is fresh. */
  override async unreadCount(): Promise<SourceUnreadModel> {
    const all = await this.sync.all(this.scope);
    const counts = all.map((c) => c.unreadCount ?? 0);
    return {
      sourceId: this.sourceId,
      total: counts.reduce((a, b) => a + b, 0),
      conversationsWithUnread: counts.filter((n) => n > 0).length,
    };
  }

  // Writes

  override async sendMessage(input: SendMessageInput): Promise<MessageModel> {
    if (input.private) throw unsupported(this.sourceId, 'private messages');
    if (input.attachmentIds.length > 0) {
      throw badInput(
        `Source "${this.sourceId}" takes files with the message (INLINE uploads), not attachment ids.`,
        'attachmentIds',
      );
    }
    for (const f of input.files) {
      if (f.data.length > this.maxAttachmentSize)
        throw fileTooLarge(this.sourceId, f.data.length, this.maxAttachmentSize);
    }
    const uploaded = await Promise.all(input.files.map((f) => this.client.uploadAttachment(this.scope, f)));
    const nativeId = input.conversationNativeId;
    // Tracked, so that the webhook of this very write (its echo, webhook.ts) waits for the catalog patch.
    return this.sync.catalog.track(nativeId, async () => {
      const m = await this.client.createMessage(this.scope, {
        conversation_id: nativeId,
        message: input.content,
        ...(uploaded.length > 0 ? { attachments: uploaded.map((a) => a.id) } : {}),
      });
      this.loaders.messages.clear(m.id).prime(m.id, m);
      this.forgetConversation(nativeId);
      const message = this.message(m);
      // The answer is all the catalog needs (issue 13 target 2) when the self contact is configured: the message is
      // the newest (its created_at the conversation's last_active_at) and, being the self contact's, not unread, so the
      // derived count stays; its text joins the searchable text. Without a self contact every message counts as
      // incoming (mapper.ts isUnread), which needs the conversation's last_opened_at: re-read then, as for a
      // conversation the catalog does not hold (nothing happens before the first sync).
      const patched =
        this.selfContactId !== null &&
        m.contact?.id === this.selfContactId &&
        (await this.sync.catalog.amend(nativeId, (held) =>
          withSentMessage(held, message, (h, sent) =>
            h.searchText ? `${sent.content ?? ''}\n${h.searchText}` : (sent.content ?? ''),
          ),
        ));
      if (!patched) await this.refreshCatalog(nativeId);
      return message;
    });
  }

  /**
   * `contact_id` for a one-participant conversation, `group_id` for a group (docs/vendors/protocol.md). The subject of a
   * Protocol conversation is its contact's or group's name, so a given `subject` is not stored; `content`
   * becomes the first message.
   */
  override async createConversation(input: CreateConversationInput): Promise<ConversationModel> {
    let body: { contact_id: string } | { group_id: string };
    const others = input.participantNativeIds.filter((id) => id !== this.selfContactId);
    if (input.groupNativeId) {
      if (others.length > 0) {
        throw badInput(
          'Give either a group or one participant for a Protocol conversation, not both.',
          'participantIds',
        );
      }
      body = { group_id: input.groupNativeId };
    } else {
      if (others.length !== 1) {
        throw badInput(
          'A Protocol conversation is with exactly one contact; for several, create it for their group (groupId).',
          'participantIds',
        );
      }
      body = { contact_id: others[0] as string };
    }
    const dto = await this.client.createConversation(this.scope, body);
    this.loaders.conversations.clear(dto.id).prime(dto.id, dto);
    if (input.content) {
      await this.client.createMessage(this.scope, { conversation_id: dto.id, message: input.content });
      // The first message moved last_active_at: read the conversation again.
      this.forgetConversation(dto.id);
    }
    await this.refreshCatalog(dto.id);
    const fresh = await this.loaders.conversations.load(dto.id);
    return this.toModel(fresh ?? dto);
  }

  /**
   * pinned → `is_pinned`, muted → `is_muted`, archived / status ARCHIVED → `archived_at=<now>`, status OPEN →
   * `archived_at=null` (docs/vendors/protocol.md). Protocol has no subject, labels or other statuses.
   */
  override async updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel> {
    if (patch.subject != null) throw unsupported(this.sourceId, 'setting a conversation subject');
    if (patch.labels != null && patch.labels.length > 0) throw unsupported(this.sourceId, 'labels');
    if (patch.happenedAt != null) throw unsupported(this.sourceId, 'setting happenedAt');
    const body: ConversationUpdate = {};
    let archive: boolean | null = null;
    if (patch.status != null) {
      if (patch.status !== 'OPEN' && patch.status !== 'ARCHIVED')
        throw unsupported(this.sourceId, `status ${patch.status}`);
      archive = patch.status === 'ARCHIVED';
    }
    if (patch.archived != null) {
      if (archive !== null && archive !== patch.archived) {
        throw badInput(
          '"status" and "archived" disagree; Protocol archives by setting the status to ARCHIVED.',
          'archived',
        );
      }
      archive = patch.archived;
    }
    if (archive !== null) body.archived_at = archive ? Math.floor(Date.now() / 1000) : null;
    if (patch.pinned != null) body.is_pinned = patch.pinned;
    if (patch.muted != null) body.is_muted = patch.muted;

    if (Object.keys(body).length === 0) {
      const current = await this.loadConversation(nativeId);
      if (!current) throw notFoundIn(this.sourceId, 'conversation', nativeId);
      return current;
    }
    if (archive === true) {
      // Re-archiving keeps the original archive time.
      const current = await this.loaders.conversations.load(nativeId);
      if (current?.archived_at != null) body.archived_at = current.archived_at;
    }
    const dto = await this.client.updateConversation(this.scope, nativeId, body);
    await this.refreshCatalog(nativeId);
    this.loaders.conversations.clear(nativeId).prime(nativeId, dto);
    return this.toModel(dto);
  }

  /** Permanent, with every message (docs/vendors/protocol.md: "archive instead"). */
  override async deleteConversation(nativeId: string): Promise<void> {
    await this.client.deleteConversation(this.scope, nativeId);
    this.forgetConversation(nativeId);
    await this.sync.remove(nativeId);
  }

  override async editMessage(nativeId: string, content: string): Promise<MessageModel> {
    const m = await this.client.updateMessage(this.scope, nativeId, { message: content });
    await this.refreshCatalog(m.conversation_id);
    this.loaders.messages.clear(m.id).prime(m.id, m);
    return this.message(m);
  }

  /** Permanent (docs/vendors/protocol.md). */
  override async deleteMessage(nativeId: string): Promise<void> {
    const known = await this.loaders.messages.load(nativeId);
    await this.client.deleteMessage(this.scope, nativeId);
    this.loaders.messages.clear(nativeId);
    if (known) await this.refreshCatalog(known.conversation_id);
  }

  // Internals

  private message(m: ProtocolMessageDto): MessageModel {
    return mapMessage(this.sourceId, m, this.selfContactId);
  }

  private async toModel(dto: ProtocolConversationDto, unreadCount?: number): Promise<ConversationModel> {
    const [contact, group, self] = await Promise.all([
      dto.contact_id ? this.loaders.contacts.load(dto.contact_id) : null,
      dto.group_id ? this.loaders.groups.load(dto.group_id) : null,
      this.selfContactId ? this.loaders.contacts.load(this.selfContactId) : null,
    ]);
    return mapConversation(this.sourceId, dto, {
      contact,
      group,
      self,
      selfContactId: this.selfContactId,
      unreadCount,
    });
  }

  /** `n` messages from a cursor, in the API's order (newest first), over as many 100-item pages as needed. */
  private async collect(
    conversationId: string,
    n: number,
    start: ListParams,
    direction: 'older' | 'newer',
  ): Promise<{ items: ProtocolMessageDto[]; hasMore: boolean }> {
    let items: ProtocolMessageDto[] = [];
    let params: ListParams = start;
    let hasMore = true;
    while (items.length < n && hasMore) {
      const res = await this.client.listMessages(this.scope, conversationId, {
        ...params,
        limit: Math.min(PAGE_MAX, n - items.length),
      });
      hasMore = res.has_more;
      if (res.data.length === 0) break;
      if (direction === 'older') {
        items = items.concat(res.data);
        params = { starting_after: (res.data[res.data.length - 1] as ProtocolMessageDto).id };
      } else {
        // `ending_before` returns the page just before the cursor in list order, so newer pages go in front.
        items = res.data.concat(items);
        params = { ending_before: (res.data[0] as ProtocolMessageDto).id };
      }
    }
    if (n === 0) {
      // A zero-size window still says whether anything lies beyond it.
      const res = await this.client.listMessages(this.scope, conversationId, { ...start, limit: 1 });
      hasMore = res.data.length > 0;
    }
    return { items, hasMore };
  }

  private page(
    oldestFirst: ProtocolMessageDto[],
    more: { hasPreviousPage: boolean; hasNextPage: boolean },
  ): MessagePage {
    return {
      items: oldestFirst.map((m) => ({ cursor: cursorOf(m), message: this.message(m) })),
      ...more,
      totalCount: null,
    };
  }

  /** Drops what this session cached about a conversation after it changed. */
  private forgetConversation(id: string) {
    this.loaders.conversations.clear(id);
    this.loaders.conversationMessages.clear(id);
    this.loaders.lastMessage.clear(id);
  }
}

/** Oldest to newest by `created_at`, ties by id: for a vendor whose list order cannot be trusted. */
const oldestFirst = (a: ProtocolMessageDto, b: ProtocolMessageDto) =>
  (a.created_at ?? 0) - (b.created_at ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function parseCursor(cursor: string, name: string): string {
  const m = CURSOR.exec(cursor);
  if (!m) throw badInput(`The "${name}" cursor is not a cursor of this conversation's messages.`, name);
  return m[1] as string;
}

function notFoundIn(source: string, what: string, id: string): GatewayError {
  return new GatewayError(ErrorCode.NOT_FOUND, `Source "${source}" has no ${what} ${id}.`, { source });
}
