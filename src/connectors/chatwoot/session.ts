import DataLoader from 'dataloader';
import { badInput, ErrorCode, fileTooLarge, GatewayError, unsupported } from '../../errors';
import { matchesFilter, pageFromAll } from '../paging';
import { UnsupportedSession } from '../UnsupportedSession';
import type {
  ConnectorSession,
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
import {
  CHATWOOT_MESSAGES_AFTER,
  CHATWOOT_MESSAGES_BEFORE,
  CHATWOOT_PAGE_SIZE,
  type ChatwootClient,
  type ListQuery,
} from './client';
import { createChatwootLoaders, type ChatwootLoaders } from './loaders';
import {
  chatwootStatusOf,
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
import type { CwConversationDto, CwMessageDto } from './types';

/** contracts §3 "Attachments on send": at most 15 files per message, 40 MB each. */
export const CHATWOOT_MAX_ATTACHMENT_SIZE = 40 * 1024 * 1024;
export const CHATWOOT_MAX_ATTACHMENTS = 15;
/** Pages read at once during a full scan (3000 requests a minute is the upstream limit, contracts §3). */
const SCAN_CONCURRENCY = 4;

export interface ChatwootSessionOptions {
  sourceId: string;
  accountId: number;
  defaultInboxId?: number;
}

interface Scanned {
  dto: CwConversationDto;
  model: ConversationModel;
}

/** One operation's view of a Chatwoot account; loaders and full-scan caches live and die with it. */
export class ChatwootSession extends UnsupportedSession implements ConnectorSession {
  private readonly ctx: ChatwootMapContext;
  private readonly loaders: ChatwootLoaders;
  /** Full reads of the list for filters Chatwoot cannot apply, keyed by the pushed-down query. */
  private readonly scans = new Map<string, Promise<Scanned[]>>();
  private readonly messages: DataLoader<string, MessageModel | null>;

  constructor(
    private readonly opts: ChatwootSessionOptions,
    private readonly client: ChatwootClient,
    private readonly scope: RequestScope,
  ) {
    super(opts.sourceId);
    this.ctx = { sourceId: opts.sourceId, accountId: opts.accountId };
    this.loaders = createChatwootLoaders(client, scope);
    this.messages = new DataLoader((ids) => Promise.all(ids.map((id) => this.fetchMessage(id))));
  }

  // -------------------------------------------------------------------------------------------------------
  // Ids

  private notFound(what: string): GatewayError {
    return new GatewayError(ErrorCode.NOT_FOUND, `${what} was not found in source "${this.sourceId}".`, { source: this.sourceId });
  }

  /** Display id of one of *this* account's conversations, or null. */
  private displayIdOf(nativeId: string): number | null {
    const p = parseConversationNativeId(nativeId);
    return p && p.accountId === this.opts.accountId ? p.displayId : null;
  }

  private requireDisplayId(nativeId: string): number {
    const id = this.displayIdOf(nativeId);
    if (id === null) throw this.notFound('Conversation');
    return id;
  }

  private map(dto: CwConversationDto): ConversationModel {
    return mapConversation(this.ctx, dto);
  }

  /** Forget what this session read about a conversation after writing to it. */
  private invalidate(displayId?: number) {
    if (displayId !== undefined) this.loaders.conversations.clear(displayId);
    else this.loaders.conversations.clearAll();
    this.scans.clear();
    this.messages.clearAll();
  }

  // -------------------------------------------------------------------------------------------------------
  // Listing

  async listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    const f = req.filter;
    const wanted = f.status ?? [];
    const statuses = wanted.map(chatwootStatusOf).filter((s): s is NonNullable<typeof s> => s !== null);
    // Chatwoot has no archive (contracts §5): a filter of ARCHIVED alone matches nothing.
    if (wanted.length > 0 && statuses.length === 0) return { items: [], total: 0 };
    // contracts §3: the list defaults to status=open, so always say what we want; one status is pushed down,
    // several are read as "all" and filtered here.
    const status = statuses.length === 1 ? (statuses[0] as string) : 'all';
    const labels = f.labels && f.labels.length > 0 ? f.labels : undefined;

    const exact = statuses.length <= 1 && !f.search && !f.unreadOnly && !f.participantNativeId;
    if (exact) return this.window({ status, labels }, req.offset, req.limit);

    const all = new Map<string, ConversationModel>();
    for (const { model } of await this.scan({ status, labels })) {
      const extra = model.lastMessage?.content ? [model.lastMessage.content] : [];
      if (matchesFilter(model, f, model.participants ?? [], extra)) all.set(model.nativeId, model);
    }
    if (f.search) {
      // contracts §3: `q` searches message contents (what the filter cannot see locally) but skips the status
      // filter, so everything but the text is re-applied here; names and subjects were matched above.
      const rest: ConversationFilterInput = { ...f, search: null };
      for (const { model } of await this.scan({ status: 'all', labels, q: f.search })) {
        if (!all.has(model.nativeId) && matchesFilter(model, rest)) all.set(model.nativeId, model);
      }
    }
    return pageFromAll([...all.values()], req.offset, req.limit);
  }

  /** Reads only the fixed 25-row pages that cover [offset, offset+limit); the total is meta.all_count. */
  private async window(q: Omit<ListQuery, 'page'>, offset: number, limit: number): Promise<ConversationPage> {
    const firstPage = Math.floor(offset / CHATWOOT_PAGE_SIZE) + 1;
    const lastPage = Math.floor((offset + Math.max(1, limit) - 1) / CHATWOOT_PAGE_SIZE) + 1;
    const pages = await Promise.all(
      Array.from({ length: lastPage - firstPage + 1 }, (_, i) => this.client.listConversations(this.scope, { ...q, page: firstPage + i })),
    );
    const rows = pages.flatMap((p) => p.payload);
    for (const dto of rows) this.loaders.conversations.prime(dto.id, dto);
    const skip = offset - (firstPage - 1) * CHATWOOT_PAGE_SIZE;
    return {
      items: rows.slice(skip, skip + Math.max(0, limit)).map((dto) => this.map(dto)),
      total: pages[0]?.meta.all_count ?? 0,
    };
  }

  /** Every page of one pushed-down query, read once per session. */
  private scan(q: Omit<ListQuery, 'page'>): Promise<Scanned[]> {
    const key = JSON.stringify([q.status, q.q ?? null, q.labels ?? null]);
    let p = this.scans.get(key);
    if (!p) {
      p = (async () => {
        const first = await this.client.listConversations(this.scope, { ...q, page: 1 });
        const pageCount = Math.ceil(first.meta.all_count / CHATWOOT_PAGE_SIZE);
        const rest: Array<typeof first> = [];
        if (first.payload.length === CHATWOOT_PAGE_SIZE) {
          const pending = Array.from({ length: Math.max(0, pageCount - 1) }, (_, i) => i + 2);
          const worker = async () => {
            for (let page = pending.shift(); page !== undefined; page = pending.shift()) {
              rest[page - 2] = await this.client.listConversations(this.scope, { ...q, page });
            }
          };
          await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
        }
        const seen = new Set<number>();
        const out: Scanned[] = [];
        for (const page of [first, ...rest]) {
          for (const dto of page?.payload ?? []) {
            // A conversation that moved between pages while we read is kept once.
            if (seen.has(dto.id)) continue;
            seen.add(dto.id);
            this.loaders.conversations.prime(dto.id, dto);
            out.push({ dto, model: this.map(dto) });
          }
        }
        return out;
      })();
      this.scans.set(key, p);
      p.catch(() => this.scans.delete(key));
    }
    return p;
  }

  // -------------------------------------------------------------------------------------------------------
  // Reads

  async loadConversation(nativeId: string): Promise<ConversationModel | null> {
    const id = this.displayIdOf(nativeId);
    if (id === null) return null;
    const dto = await this.loaders.conversations.load(id);
    return dto ? this.map(dto) : null;
  }

  async loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    // The conversation payload carries the contact (meta.sender) and the assignee (meta.assignee).
    if (conversation.participants) return conversation.participants;
    return (await this.loadConversation(conversation.nativeId))?.participants ?? [];
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

  /** contracts §3 "Messages": `after=N&before=N+1` is `id >= N AND id < N+1`, exactly one message. */
  private async fetchMessage(nativeId: string): Promise<MessageModel | null> {
    const p = parseMessageNativeId(nativeId);
    if (!p || p.accountId !== this.opts.accountId) return null;
    try {
      const page = await this.client.listMessages(this.scope, p.displayId, { after: p.messageId, before: p.messageId + 1 });
      const m = page.payload.find((x) => x.id === p.messageId);
      return m ? this.mapMessages([m], page.meta.agent_last_seen_at, p.displayId)[0] ?? null : null;
    } catch (e) {
      if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND) return null;
      throw e;
    }
  }

  private mapMessages(list: CwMessageDto[], agentLastSeenAt: string | null | undefined, displayId: number): MessageModel[] {
    const seen = cwTime(agentLastSeenAt);
    return list.map((m) => mapMessage(this.ctx, m, { conversationDisplayId: displayId, agentLastSeenAt: seen }));
  }

  /**
   * Relay paging over Chatwoot's message-id cursors (contracts §3 "Pagination"): `last`/`before` walk back
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

    let out: CwMessageDto[] = [];
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

  /** contracts §3 "Unread semantics": no global endpoint, so sum `unread_count` (capped at 10 each) over every conversation. */
  override async unreadCount(): Promise<SourceUnreadModel> {
    let total = 0;
    let withUnread = 0;
    for (const { model } of await this.scan({ status: 'all' })) {
      const n = model.unreadCount ?? 0;
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
      throw badInput(`Source "${this.sourceId}" accepts at most ${CHATWOOT_MAX_ATTACHMENTS} attachments a message.`, 'attachments');
    }
    for (const f of input.files) {
      if (f.data.length > CHATWOOT_MAX_ATTACHMENT_SIZE) throw fileTooLarge(this.sourceId, f.data.length, CHATWOOT_MAX_ATTACHMENT_SIZE);
    }
    const dto = await this.client.sendMessage(this.scope, displayId, { content: input.content, private: input.private, files: input.files });
    this.invalidate(displayId);
    return mapMessage(this.ctx, dto, { conversationDisplayId: displayId });
  }

  /**
   * contracts §3 "Create": an inbox and a contact; Chatwoot builds the contact_inbox (source_id) itself when
   * both ids are given. The optional first message is sent by the token's user.
   */
  override async createConversation(input: CreateConversationInput): Promise<ConversationModel> {
    if (input.groupNativeId) throw badInput(`Source "${this.sourceId}" has no group conversations.`, 'groupNativeId');
    if (input.happenedAt) throw badInput(`Source "${this.sourceId}" sets the creation time itself.`, 'happenedAt');
    if (input.participantNativeIds.length !== 1) {
      throw badInput(`Source "${this.sourceId}" needs exactly one contact (contact:<id>) to create a conversation.`, 'participantIds');
    }
    const participant = parseParticipantNativeId(input.participantNativeIds[0] as string);
    if (!participant || participant.type !== 'contact') {
      throw badInput(`Source "${this.sourceId}" creates conversations with a contact (contact:<id>), not an agent.`, 'participantIds');
    }
    const inboxId = input.inboxId != null ? Number(input.inboxId) : this.opts.defaultInboxId;
    if (inboxId === undefined || !Number.isInteger(inboxId) || inboxId <= 0) {
      throw badInput(`Source "${this.sourceId}" needs an inbox id (a positive integer) to create a conversation.`, 'inboxId');
    }
    const dto = await this.client.createConversation(this.scope, {
      inboxId,
      contactId: participant.id,
      content: input.content ?? undefined,
      subject: input.subject ?? undefined,
    });
    this.invalidate();
    this.loaders.conversations.prime(dto.id, dto);
    return this.map(dto);
  }

  override async updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel> {
    const displayId = this.requireDisplayId(nativeId);
    // Refuse what Chatwoot cannot do before writing anything (contracts §5 "Operations a backend cannot support").
    if (patch.pinned != null) throw unsupported(this.sourceId, 'pin');
    if (patch.archived != null) throw unsupported(this.sourceId, 'archive');
    if (patch.subject != null) throw unsupported(this.sourceId, 'subject');
    if (patch.happenedAt != null) throw unsupported(this.sourceId, 'happenedAt');
    const status = patch.status ? chatwootStatusOf(patch.status) : null;
    if (patch.status && !status) throw unsupported(this.sourceId, `status ${patch.status}`);

    // contracts §3 "Mute / unmute": mute resolves the conversation *and* blocks the contact (so every
    // conversation of that contact reads as muted). It goes first so that an explicit status in the same
    // patch wins over the resolve.
    if (patch.muted != null) await this.client.setMuted(this.scope, displayId, patch.muted);
    if (status) await this.client.toggleStatus(this.scope, displayId, status);
    if (patch.labels) await this.client.setLabels(this.scope, displayId, patch.labels);

    this.invalidate(patch.muted != null ? undefined : displayId);
    const dto = await this.loaders.conversations.load(displayId);
    if (!dto) throw this.notFound('Conversation');
    return this.map(dto);
  }

  override async deleteConversation(nativeId: string): Promise<void> {
    const displayId = this.requireDisplayId(nativeId);
    await this.client.deleteConversation(this.scope, displayId);
    this.invalidate(displayId);
  }

  /** contracts §3 "Delete msg": a soft delete upstream (the content becomes the "deleted" text). */
  override async deleteMessage(nativeId: string): Promise<void> {
    const p = parseMessageNativeId(nativeId);
    if (!p || p.accountId !== this.opts.accountId) throw this.notFound('Message');
    await this.client.deleteMessage(this.scope, p.displayId, p.messageId);
    this.invalidate(p.displayId);
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
    return this.map(dto);
  }
}

function parseCursor(cursor: string, name: string): number {
  if (!/^\d{1,15}$/.test(cursor)) throw badInput(`The "${name}" cursor is not a cursor of this conversation's messages.`, name);
  return Number(cursor);
}

function count(n: number | null | undefined, name: string): number | null {
  if (n === null || n === undefined) return null;
  if (!Number.isInteger(n) || n < 0) throw badInput(`"${name}" must be a non-negative integer.`, name);
  return n;
}
