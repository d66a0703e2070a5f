import DataLoader from 'dataloader';
import { perKey } from '../batch';
import { badInput, ErrorCode, fileTooLarge, GatewayError, unsupported } from '../../errors';
import { catalogPage, withSentMessage, type CatalogSync } from '../catalog';
import { matchesFilter, pageFromAll } from '../paging';
import type { ChatwootSourceConfig } from '../../config/schema';
import { UnsupportedSession } from '../UnsupportedSession';
import type { SessionOptions } from '../vendor';
import type {
  ConnectorSession,
  ContactPage,
  ConversationFilterInput,
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
import { chatwootCatalogModel, readAllChatwootPages } from './catalog';
import { listChatwootContacts } from './contacts';
import { CHATWOOT_MESSAGES_AFTER, CHATWOOT_MESSAGES_BEFORE, type ChatwootClient } from './client';
import { createChatwootLoaders, type ChatwootLoaders } from './loaders';
import {
  chatwootStatusOf,
  conversationNativeId,
  cwTime,
  mapAgent,
  mapAgentBot,
  mapContact,
  mapConversation,
  mapMessage,
  parseConversationNativeId,
  parseMessageNativeId,
  parseParticipantNativeId,
  type ChatwootMapContext,
} from './mapper';
import type { ChatwootConversationDto, ChatwootMessageDto } from './types';

/**
 * docs/vendors/chatwoot.md "Attachments on send": at most 15 files per message, 40 MB each (the size is the
 * profile's `capabilities.maxAttachmentSize`).
 */
export const CHATWOOT_MAX_ATTACHMENTS = 15;
export { SCAN_CONCURRENCY } from './catalog';

/**
 * What every Chatwoot session is built from (connectors/vendor.ts), one per connector; `sync` is the source's
 * catalog sync over catalog.ts's reader, whose per-call cache is the session's loaders.
 */
export type ChatwootSessionOptions = SessionOptions<ChatwootSourceConfig, ChatwootClient, undefined, ChatwootLoaders>;

/** One operation's view of a Chatwoot account; loaders and search reads live and die with it. */
export class ChatwootSession extends UnsupportedSession implements ConnectorSession {
  private readonly ctx: ChatwootMapContext;
  private readonly loaders: ChatwootLoaders;
  private readonly sync: CatalogSync<ChatwootLoaders>;
  /** Every page of a `q` search (message contents), keyed by the query; read once per session. */
  private readonly searches = new Map<string, Promise<ConversationModel[]>>();
  /** Conversations this session listed, so that loading one of them again costs nothing. */
  private readonly listed = new Map<string, ConversationModel>();
  private readonly messages: DataLoader<string, MessageModel | null>;

  private readonly client: ChatwootClient;
  private readonly config: ChatwootSourceConfig;
  private readonly maxAttachmentSize: number;

  constructor(
    options: ChatwootSessionOptions,
    private readonly scope: RequestScope,
  ) {
    super(options.config.id);
    this.config = options.config;
    this.client = options.client;
    this.ctx = { sourceId: options.config.id, accountId: options.config.accountId };
    this.sync = options.sync;
    this.maxAttachmentSize = options.profile.capabilities.maxAttachmentSize ?? Infinity;
    this.loaders = createChatwootLoaders(options.client, scope);
    this.messages = new DataLoader(perKey((id: string) => this.fetchMessage(id)));
  }

  // -------------------------------------------------------------------------------------------------------
  // Ids

  private notFound(what: string): GatewayError {
    return new GatewayError(ErrorCode.NOT_FOUND, `${what} was not found in source "${this.sourceId}".`, {
      source: this.sourceId,
    });
  }

  /** Display id of one of *this* account's conversations, or null. */
  private displayIdOf(nativeId: string): number | null {
    const p = parseConversationNativeId(nativeId);
    return p && p.accountId === this.config.accountId ? p.displayId : null;
  }

  private requireDisplayId(nativeId: string): number {
    const id = this.displayIdOf(nativeId);
    if (id === null) throw this.notFound('Conversation');
    return id;
  }

  private map(dto: ChatwootConversationDto): ConversationModel {
    return mapConversation(this.ctx, dto);
  }

  /** Forget what this session read about a conversation after writing to it. */
  private invalidate(displayId?: number) {
    if (displayId !== undefined) this.loaders.conversations.clear(displayId);
    else this.loaders.conversations.clearAll();
    this.searches.clear();
    this.listed.clear();
    this.messages.clearAll();
  }

  // -------------------------------------------------------------------------------------------------------
  // Listing: the conversation catalog

  /**
   * Pages come from the conversation catalog (connectors/catalog.ts): every conversation of the account with its
   * participants (contact and assignee), last message, capped unread count, labels, status and mute, synced in
   * full when missing or older than catalogMaxAgeMs and patched by webhooks (the connector's applyChanges) and by
   * every write through the gateway. Status, unread, label and participant filters are answered from it exactly,
   * so a page costs no request while the snapshot is fresh.
   *
   * A search also needs every message's content, which the catalog does not hold (only the last message), so it
   * pushes the text down as `q` (docs/vendors/chatwoot.md: `q` searches message contents but skips the status filter; every
   * other field is re-applied here) and adds what the catalog matches by name, email, phone, subject or last
   * message.
   */
  async listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    const f = req.filter;
    const wanted = f.status ?? [];
    // Chatwoot has no archive (docs/vendors/README.md): a filter of ARCHIVED alone matches nothing, without a sync.
    if (wanted.length > 0 && wanted.every((s) => chatwootStatusOf(s) === null)) return { items: [], total: 0 };

    const [all, searched] = await Promise.all([this.all(), f.search ? this.search(f.search, f.labels) : null]);
    const inCatalog = (c: ConversationModel) =>
      matchesFilter(c, f, c.participants ?? [], c.searchText ? [c.searchText] : []);
    if (!searched) {
      // The catalog alone, in its order (connectors/catalog.ts catalogPage): no sort, no copy.
      const page = catalogPage(all, f, req.offset, req.limit, inCatalog);
      for (const c of page.items) this.listed.set(c.nativeId, c);
      return page;
    }
    const found = new Map<string, ConversationModel>();
    for (const c of all) {
      if (inCatalog(c)) found.set(c.nativeId, c);
    }
    if (searched) {
      const rest: ConversationFilterInput = { ...f, search: null };
      for (const c of searched) if (!found.has(c.nativeId) && matchesFilter(c, rest)) found.set(c.nativeId, c);
    }
    const page = pageFromAll([...found.values()], req.offset, req.limit);
    for (const c of page.items) this.listed.set(c.nativeId, c);
    return page;
  }

  /** Every conversation, from the catalog (a full sync when it is missing or stale). */
  private all(): Promise<ConversationModel[]> {
    return this.sync.all(this.scope);
  }

  /** The conversations whose messages contain `text` (Chatwoot's `q`), every page, once per session. */
  private search(text: string, labels: string[] | null | undefined): Promise<ConversationModel[]> {
    const pushed = labels && labels.length > 0 ? labels : undefined;
    const key = JSON.stringify([text, pushed ?? null]);
    let p = this.searches.get(key);
    if (!p) {
      p = readAllChatwootPages(this.client, this.scope, { status: 'all', q: text, labels: pushed }, false).then(
        (dtos) =>
          dtos.map((dto) => {
            this.loaders.conversations.prime(dto.id, dto);
            return this.map(dto);
          }),
      );
      this.searches.set(key, p);
      p.catch(() => this.searches.delete(key));
    }
    return p;
  }

  /**
   * Re-reads one conversation into the catalog (this session changed it) through this session's loaders, or
   * removes it when Chatwoot no longer has it. Does nothing before the first sync.
   */
  private refreshCatalog(nativeId: string): Promise<void> {
    return this.sync.refresh(this.scope, [nativeId], this.loaders);
  }

  /**
   * A write's fresh conversation into the catalog (nothing before the first sync). `contactMuted`: the write
   * (un)muted it, which (un)blocks its contact and so flips `muted` on every conversation of that contact
   * (docs/vendors/chatwoot.md "Mute"); those are patched from the snapshot without a request while it is fresh (a stale one
   * is re-synced on the next read anyway).
   */
  private async patchCatalog(dto: ChatwootConversationDto, contactMuted = false): Promise<void> {
    const age = await this.sync.catalog.age();
    if (age === null) return;
    const model = chatwootCatalogModel(this.ctx, dto);
    const upserts = [model];
    const contact = dto.meta.sender ? `contact:${dto.meta.sender.id}` : null;
    if (contactMuted && contact && age < this.sync.catalog.maxAgeMs) {
      for (const c of await this.all()) {
        if (
          c.nativeId !== model.nativeId &&
          c.muted !== model.muted &&
          c.participants?.some((p) => p.nativeId === contact)
        ) {
          upserts.push({ ...c, muted: model.muted });
        }
      }
    }
    await this.sync.upsert(...upserts);
  }

  // -------------------------------------------------------------------------------------------------------
  // Reads

  /**
   * This session's listed row, else the catalog's while it is fresh (issue 13 target 1: a thread page then costs
   * only its messages request; webhooks keep the catalog as fresh as the inbox it serves), else
   * `GET /conversations/{id}`.
   */
  async loadConversation(nativeId: string): Promise<ConversationModel | null> {
    const listed = this.listed.get(nativeId);
    if (listed) return listed;
    const id = this.displayIdOf(nativeId);
    if (id === null) return null;
    const held = await this.sync.catalog.lookup(nativeId);
    if (held) return held;
    const dto = await this.loaders.conversations.load(id);
    return dto ? this.map(dto) : null;
  }

  async loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    // The conversation payload carries the contact (meta.sender) and the assignee (meta.assignee).
    if (conversation.participants) return conversation.participants;
    return (await this.loadConversation(conversation.nativeId))?.participants ?? [];
  }

  /** The account's own contact list, one `GET /contacts` a page (contacts.ts; issue 15). */
  listContacts(opts: { after?: string; first: number }): Promise<ContactPage> {
    return listChatwootContacts(this.client, this.scope, this.ctx, opts);
  }

  async loadParticipant(nativeId: string): Promise<ParticipantModel | null> {
    const p = parseParticipantNativeId(nativeId);
    if (!p) return null;
    switch (p.type) {
      case 'contact': {
        const c = await this.loaders.contacts.load(p.id);
        return c ? mapContact(this.ctx, c) : null;
      }
      case 'user': {
        const a = (await this.loaders.agents()).get(p.id);
        return a ? mapAgent(this.ctx, a) : null;
      }
      case 'agent_bot': {
        const b = await this.loaders.agentBots.load(p.id);
        return b ? mapAgentBot(this.ctx, b) : null;
      }
    }
  }

  async loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null> {
    if (conversation.lastMessage !== undefined) return conversation.lastMessage;
    return (await this.loadConversation(conversation.nativeId))?.lastMessage ?? null;
  }

  loadMessage(nativeId: string): Promise<MessageModel | null> {
    return this.messages.load(nativeId);
  }

  /** docs/vendors/chatwoot.md "Messages": `after=N&before=N+1` is `id >= N AND id < N+1`, exactly one message. */
  private async fetchMessage(nativeId: string): Promise<MessageModel | null> {
    const p = parseMessageNativeId(nativeId);
    if (!p || p.accountId !== this.config.accountId) return null;
    // A missing conversation (404) is null: the loader's adapter (connectors/batch.ts) says so.
    const page = await this.client.listMessages(this.scope, p.displayId, {
      after: p.messageId,
      before: p.messageId + 1,
    });
    const m = page.payload.find((x) => x.id === p.messageId);
    return m ? (this.mapMessages([m], page.meta.agent_last_seen_at, p.displayId)[0] ?? null) : null;
  }

  private mapMessages(
    list: ChatwootMessageDto[],
    agentLastSeenAt: string | null | undefined,
    displayId: number,
  ): MessageModel[] {
    const seen = cwTime(agentLastSeenAt);
    return list.map((m) => mapMessage(this.ctx, m, { conversationDisplayId: displayId, agentLastSeenAt: seen }));
  }

  /**
   * Relay paging over Chatwoot's message-id cursors (docs/vendors/chatwoot.md "Pagination"): `last`/`before` walk back
   * 20 at a time with `before`, `first`/`after` walk forward 100 at a time with `after`, and a walk goes one
   * page further when it cannot yet tell whether more messages exist, so hasPreviousPage/hasNextPage are exact.
   * Cursors are message ids. Pages are oldest to newest, as Chatwoot returns them.
   */
  async listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage> {
    const displayId = this.requireDisplayId(conversationNativeId);
    const after = req.after ? parseCursor(req.after, 'after') : null;
    const before = req.before ? parseCursor(req.before, 'before') : null;
    let first = count(req.first, 'first');
    let last = count(req.last, 'last');
    // Without a size, one vendor page: the latest 20, or up to 100 after a cursor.
    if (first === null && last === null) {
      if (after === null) last = CHATWOOT_MESSAGES_BEFORE;
      else if (before === null) first = CHATWOOT_MESSAGES_AFTER;
    }

    let out: ChatwootMessageDto[] = [];
    let seenAt: string | null | undefined;
    // Whether messages exist outside `out` on either side, independently of the first/last slicing.
    let moreBefore: boolean;
    let moreAfter: boolean;

    if (after !== null && before !== null) {
      // Upstream includes `after` itself (id >= after).
      const page = await this.client.listMessages(this.scope, displayId, { after, before });
      seenAt = page.meta.agent_last_seen_at;
      out = page.payload.filter((m) => m.id !== after);
      moreBefore = true;
      moreAfter = true;
    } else if (before === null && (after !== null || (first !== null && last === null))) {
      let cursor = after ?? 0;
      let exhausted = false;
      for (;;) {
        const page = await this.client.listMessages(this.scope, displayId, { after: cursor });
        seenAt = page.meta.agent_last_seen_at;
        out.push(...page.payload);
        const tail = page.payload[page.payload.length - 1];
        if (page.payload.length < CHATWOOT_MESSAGES_AFTER || !tail) {
          exhausted = true;
          break;
        }
        if (first !== null && last === null && out.length > first) break;
        cursor = tail.id;
      }
      moreBefore = after !== null;
      moreAfter = !exhausted;
    } else {
      let cursor = before;
      let exhausted = false;
      for (;;) {
        const page = await this.client.listMessages(this.scope, displayId, cursor === null ? {} : { before: cursor });
        seenAt ??= page.meta.agent_last_seen_at;
        out = [...page.payload, ...out];
        const head = page.payload[0];
        if (page.payload.length < CHATWOOT_MESSAGES_BEFORE || !head) {
          exhausted = true;
          break;
        }
        if (last !== null && first === null && out.length > last) break;
        cursor = head.id;
      }
      moreBefore = !exhausted;
      moreAfter = before !== null;
    }

    let start = 0;
    let end = out.length;
    if (first !== null) end = Math.min(end, start + first);
    if (last !== null) start = Math.max(start, end - last);
    const items = this.mapMessages(out.slice(start, end), seenAt, displayId).map((message) => ({
      cursor: message.nativeId.slice(message.nativeId.lastIndexOf('/') + 1),
      message,
    }));
    return {
      items,
      hasPreviousPage: start > 0 || moreBefore,
      hasNextPage: end < out.length || moreAfter,
      totalCount: null,
    };
  }

  /**
   * docs/vendors/chatwoot.md "Unread semantics": Chatwoot has no account-wide unread endpoint, so this sums `unread_count`
   * over the catalog (no request while it is fresh; webhooks keep it so). Chatwoot caps each conversation's
   * count at 10 (`unread_incoming_messages.last(10)`), so the total is the sum of what its UI shows per
   * conversation, a lower bound of the real number (capabilities.exactUnreadCounts is false);
   * conversationsWithUnread is exact.
   */
  override async unreadCount(): Promise<SourceUnreadModel> {
    let total = 0;
    let withUnread = 0;
    for (const c of await this.all()) {
      const n = c.unreadCount ?? 0;
      total += n;
      if (n > 0) withUnread++;
    }
    return { sourceId: this.sourceId, total, conversationsWithUnread: withUnread };
  }

  // -------------------------------------------------------------------------------------------------------
  // Writes

  override async sendMessage(input: SendMessageInput): Promise<MessageModel> {
    const displayId = this.requireDisplayId(input.conversationNativeId);
    if (input.attachmentIds.length > 0) {
      throw badInput(`Source "${this.sourceId}" takes files with the message, not attachment ids.`, 'attachmentIds');
    }
    if (input.files.length > CHATWOOT_MAX_ATTACHMENTS) {
      throw badInput(
        `Source "${this.sourceId}" accepts at most ${CHATWOOT_MAX_ATTACHMENTS} attachments a message.`,
        'attachments',
      );
    }
    for (const f of input.files) {
      if (f.data.length > this.maxAttachmentSize)
        throw fileTooLarge(this.sourceId, f.data.length, this.maxAttachmentSize);
    }
    const nativeId = input.conversationNativeId;
    // Tracked, so that the webhook of this very write (its echo) waits for the catalog patch instead of re-reading.
    return this.sync.catalog.track(nativeId, async () => {
      const dto = await this.client.sendMessage(this.scope, displayId, {
        content: input.content,
        private: input.private,
        files: input.files,
      });
      this.invalidate(displayId);
      const message = mapMessage(this.ctx, dto, { conversationDisplayId: displayId });
      // The answer is all the catalog needs (issue 13 target 2): the message becomes the last one (private notes too:
      // last_non_activity_message) and its created_at the activity time (Message#set_conversation_activity); an
      // outgoing message leaves the unread count (incoming messages after agent_last_seen_at) and the status alone.
      // `updated_at` is left as it was, so a later conversation event is still re-read. A conversation the catalog
      // does not hold is re-read (nothing happens before the first sync).
      const patched = await this.sync.catalog.amend(nativeId, (held) =>
        withSentMessage(held, message, (_held, m) => m.content ?? undefined),
      );
      if (!patched) await this.refreshCatalog(nativeId);
      return message;
    });
  }

  /**
   * docs/vendors/chatwoot.md "Create": an inbox and a contact; Chatwoot builds the contact_inbox (source_id) itself when
   * both ids are given. The optional first message is sent by the token's user.
   */
  override async createConversation(input: CreateConversationInput): Promise<ConversationModel> {
    if (input.groupNativeId) throw badInput(`Source "${this.sourceId}" has no group conversations.`, 'groupNativeId');
    if (input.happenedAt) throw badInput(`Source "${this.sourceId}" sets the creation time itself.`, 'happenedAt');
    if (input.participantNativeIds.length !== 1) {
      throw badInput(
        `Source "${this.sourceId}" needs exactly one contact (contact:<id>) to create a conversation.`,
        'participantIds',
      );
    }
    const participant = parseParticipantNativeId(input.participantNativeIds[0] as string);
    if (!participant || participant.type !== 'contact') {
      throw badInput(
        `Source "${this.sourceId}" creates conversations with a contact (contact:<id>), not an agent.`,
        'participantIds',
      );
    }
    const inboxId = input.inboxId != null ? Number(input.inboxId) : this.config.defaultInboxId;
    if (inboxId === undefined || !Number.isInteger(inboxId) || inboxId <= 0) {
      throw badInput(
        `Source "${this.sourceId}" needs an inbox id (a positive integer) to create a conversation.`,
        'inboxId',
      );
    }
    const dto = await this.client.createConversation(this.scope, {
      inboxId,
      contactId: participant.id,
      content: input.content ?? undefined,
      subject: input.subject ?? undefined,
    });
    this.invalidate();
    this.loaders.conversations.prime(dto.id, dto);
    await this.patchCatalog(dto);
    return this.map(dto);
  }

  override async updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel> {
    const displayId = this.requireDisplayId(nativeId);
    // Refuse what Chatwoot cannot do before writing anything (docs/vendors/README.md "Operations a backend cannot support").
    if (patch.pinned != null) throw unsupported(this.sourceId, 'pin');
    if (patch.archived != null) throw unsupported(this.sourceId, 'archive');
    if (patch.subject != null) throw unsupported(this.sourceId, 'subject');
    if (patch.happenedAt != null) throw unsupported(this.sourceId, 'happenedAt');
    const status = patch.status ? chatwootStatusOf(patch.status) : null;
    if (patch.status && !status) throw unsupported(this.sourceId, `status ${patch.status}`);

    // docs/vendors/chatwoot.md "Mute / unmute": mute resolves the conversation *and* blocks the contact (so every
    // conversation of that contact reads as muted). It goes first so that an explicit status in the same
    // patch wins over the resolve.
    if (patch.muted != null) await this.client.setMuted(this.scope, displayId, patch.muted);
    if (status) await this.client.toggleStatus(this.scope, displayId, status);
    if (patch.labels) await this.client.setLabels(this.scope, displayId, patch.labels);

    this.invalidate(patch.muted != null ? undefined : displayId);
    const dto = await this.loaders.conversations.load(displayId);
    if (!dto) throw this.notFound('Conversation');
    await this.patchCatalog(dto, patch.muted != null);
    return this.map(dto);
  }

  override async deleteConversation(nativeId: string): Promise<void> {
    const displayId = this.requireDisplayId(nativeId);
    await this.client.deleteConversation(this.scope, displayId);
    this.invalidate(displayId);
    // Upstream deletes in a background job, so a re-read could still find it: remove it outright.
    await this.sync.remove(nativeId);
  }

  /** docs/vendors/chatwoot.md "Delete msg": a soft delete upstream (the content becomes the "deleted" text). */
  override async deleteMessage(nativeId: string): Promise<void> {
    const p = parseMessageNativeId(nativeId);
    if (!p || p.accountId !== this.config.accountId) throw this.notFound('Message');
    await this.client.deleteMessage(this.scope, p.displayId, p.messageId);
    this.invalidate(p.displayId);
    // The deleted text replaces the content, which may be the last message's.
    await this.refreshCatalog(conversationNativeId(this.config.accountId, p.displayId));
  }

  override async markRead(nativeId: string): Promise<ConversationModel> {
    return this.setSeen(nativeId, true);
  }

  override async markUnread(nativeId: string): Promise<ConversationModel> {
    return this.setSeen(nativeId, false);
  }

  private async setSeen(nativeId: string, read: boolean): Promise<ConversationModel> {
    const displayId = this.requireDisplayId(nativeId);
    const dto = await this.client.setSeen(this.scope, displayId, read);
    this.invalidate(displayId);
    this.loaders.conversations.prime(displayId, dto);
    await this.patchCatalog(dto);
    return this.map(dto);
  }
}

function parseCursor(cursor: string, name: string): number {
  if (!/^\d{1,15}$/.test(cursor))
    throw badInput(`The "${name}" cursor is not a cursor of this conversation's messages.`, name);
  return Number(cursor);
}

function count(n: number | null | undefined, name: string): number | null {
  if (n === null || n === undefined) return null;
  if (!Number.isInteger(n) || n < 0) throw badInput(`"${name}" must be a non-negative integer.`, name);
  return n;
}
