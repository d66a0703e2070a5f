import type {
  AttachmentUploadModel,
  AttachmentUploadRequest,
  ConnectorSession,
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
import { SOURCE_GROUP, type ReadCacheStore } from './store';

/** What a connector's sessions are like, learnt from the first one opened. */
export interface SessionTraits {
  /** The vendor's sessions have the optional `loadUnreadCount`. */
  hasUnreadCount?: boolean;
  /** The vendor's sessions have the optional `listContacts`. */
  hasListContacts?: boolean;
}

/** How a cached session tells every instance that its own write changed something (readCache/index.ts). */
export type WriteInvalidation = (sourceId: string, conversationNativeId: string | null) => Promise<void>;

/**
 * One operation's session of a cached source: the vendor's own session underneath, with its reads of message
 * pages, conversations, participants, last messages, unread counts and messages answered from the cache when
 * they may be (readCache/store.ts) and stored after an upstream read. Lists and totals go to the vendor session
 * (the catalog serves them). Every write goes through and then drops what it changed, on every instance, before
 * it answers.
 *
 * An answer whose read reported a row left out (`scope.report`, connectors/decode.ts) is not stored, so a later
 * hit never hides that error.
 */
export class CachedSession implements ConnectorSession {
  private session: ConnectorSession | null = null;
  /** Set once the vendor session reported a problem: nothing it reads from then on is stored. */
  private tainted = false;

  constructor(
    private readonly sourceId: string,
    private readonly open: (scope: RequestScope) => ConnectorSession,
    private readonly scope: RequestScope,
    private readonly store: ReadCacheStore,
    private readonly invalidateWrite: WriteInvalidation,
    /** What the connector's sessions are like, learnt once per connector (shared by its cached sessions). */
    private readonly traits: SessionTraits,
  ) {}

  /** The vendor's session, opened at the first call that needs it (an operation answered from the cache opens none). */
  private get inner(): ConnectorSession {
    if (!this.session) {
      const scope = this.scope;
      this.session = this.open({
        ...scope,
        report: (e) => {
          this.tainted = true;
          scope.report?.(e);
        },
      });
    }
    return this.session;
  }

  /** Present exactly when the vendor's sessions have it (callers ask before calling: the contract's optional member). */
  get loadUnreadCount(): ((conversation: ConversationModel) => Promise<number | null>) | undefined {
    this.traits.hasUnreadCount ??= typeof this.inner.loadUnreadCount === 'function';
    return this.traits.hasUnreadCount ? this.cachedUnreadCount : undefined;
  }

  /**
   * Present exactly when the vendor's sessions have it, and not cached: the people index (src/people/) keeps what
   * it reads of the listing and follows the same change events itself.
   */
  get listContacts(): ConnectorSession['listContacts'] {
    this.traits.hasListContacts ??= typeof this.inner.listContacts === 'function';
    return this.traits.hasListContacts ? (opts) => this.inner.listContacts!(opts) : undefined;
  }

  private readonly cachedUnreadCount = (c: ConversationModel): Promise<number | null> =>
    this.cached(`uc\u0000${c.nativeId}`, c.nativeId, () => {
      const inner = this.inner;
      return inner.loadUnreadCount ? inner.loadUnreadCount(c) : Promise.resolve(null);
    });

  /** The cached answer under `method\0args`, else the vendor's, stored in `group` (or the group `groupOf` names). */
  private async cached<T>(
    key: string,
    group: string | null,
    read: () => Promise<T>,
    groupOf?: (value: T) => string,
  ): Promise<T> {
    const full = `${this.sourceId}\u0000${key}`;
    const hit = this.store.get(this.sourceId, full);
    if (hit) return hit.value as T;
    const ticket = this.store.ticket(this.sourceId);
    const value = await read();
    if (!this.tainted) {
      const g = group ?? groupOf?.(value) ?? SOURCE_GROUP;
      this.store.set(this.sourceId, full, g, value, ticket);
    }
    return value;
  }

  /** A write: goes through, then drops what it may have changed (also when it failed: it may have half happened). */
  private async write<T>(group: string | null, run: () => Promise<T>, groupOf?: (value: T) => string | null) {
    let value: T;
    try {
      value = await run();
    } catch (e) {
      await this.invalidateWrite(this.sourceId, group);
      throw e;
    }
    await this.invalidateWrite(this.sourceId, group ?? groupOf?.(value) ?? null);
    return value;
  }

  listConversations(req: ListConversationsRequest): Promise<ConversationPage> {
    return this.inner.listConversations(req);
  }

  loadConversation(nativeId: string): Promise<ConversationModel | null> {
    return this.cached(`c\u0000${nativeId}`, nativeId, () => this.inner.loadConversation(nativeId));
  }

  loadParticipants(conversation: ConversationModel): Promise<ParticipantModel[]> {
    return this.cached(`ps\u0000${conversation.nativeId}`, conversation.nativeId, () =>
      this.inner.loadParticipants(conversation),
    );
  }

  loadParticipant(nativeId: string): Promise<ParticipantModel | null> {
    return this.cached(`p\u0000${nativeId}`, SOURCE_GROUP, () => this.inner.loadParticipant(nativeId));
  }

  loadLastMessage(conversation: ConversationModel): Promise<MessageModel | null> {
    return this.cached(`lm\u0000${conversation.nativeId}`, conversation.nativeId, () =>
      this.inner.loadLastMessage(conversation),
    );
  }

  loadMessage(nativeId: string): Promise<MessageModel | null> {
    // Its conversation is known once read: the answer joins that conversation's group (a miss: the source's).
    return this.cached(
      `m\u0000${nativeId}`,
      null,
      () => this.inner.loadMessage(nativeId),
      (m) => m?.conversationNativeId ?? SOURCE_GROUP,
    );
  }

  listMessages(conversationNativeId: string, req: MessagePageRequest): Promise<MessagePage> {
    const args = `${req.first ?? ''}\u0000${req.after ?? ''}\u0000${req.last ?? ''}\u0000${req.before ?? ''}`;
    return this.cached(`ms\u0000${conversationNativeId}\u0000${args}`, conversationNativeId, () =>
      this.inner.listMessages(conversationNativeId, req),
    );
  }

  unreadCount(): Promise<SourceUnreadModel | null> {
    return this.inner.unreadCount();
  }

  sendMessage(input: SendMessageInput): Promise<MessageModel> {
    return this.write(input.conversationNativeId, () => this.inner.sendMessage(input));
  }

  createConversation(input: CreateConversationInput): Promise<ConversationModel> {
    // A new conversation: nothing cached is about it, but a miss for its id may be (a null answer).
    return this.write(
      null,
      () => this.inner.createConversation(input),
      (c) => c.nativeId,
    );
  }

  updateConversation(nativeId: string, patch: UpdateConversationPatch): Promise<ConversationModel> {
    return this.write(nativeId, () => this.inner.updateConversation(nativeId, patch));
  }

  deleteConversation(nativeId: string): Promise<void> {
    return this.write(nativeId, () => this.inner.deleteConversation(nativeId));
  }

  editMessage(nativeId: string, content: string): Promise<MessageModel> {
    return this.write(
      this.messageGroup(nativeId),
      () => this.inner.editMessage(nativeId, content),
      (m) => m.conversationNativeId,
    );
  }

  deleteMessage(nativeId: string): Promise<void> {
    return this.write(this.messageGroup(nativeId), () => this.inner.deleteMessage(nativeId));
  }

  markRead(nativeId: string): Promise<ConversationModel> {
    return this.write(nativeId, () => this.inner.markRead(nativeId));
  }

  markUnread(nativeId: string): Promise<ConversationModel> {
    return this.write(nativeId, () => this.inner.markUnread(nativeId));
  }

  createAttachmentUpload(req: AttachmentUploadRequest): Promise<AttachmentUploadModel> {
    return this.inner.createAttachmentUpload(req);
  }

  /** The conversation of a message when a cached answer says it; null (the whole source) otherwise. */
  private messageGroup(messageNativeId: string): string | null {
    const g = this.store.groupOf(`${this.sourceId}\u0000m\u0000${messageNativeId}`);
    return g && g !== SOURCE_GROUP ? g : null;
  }
}
