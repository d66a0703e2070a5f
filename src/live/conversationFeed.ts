import type { ConversationModel, SourceChange } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import type { LiveContext } from './context';
import { conversationTopic, isConversationMessage, type ConversationMessage } from './protocol';

/** A `conversation:<source>` event as subscribers on this instance see it. */
export interface ConversationEvent {
  sourceId: string;
  conversationNativeId: string;
  /**
   * The conversation as it is now, with its participants, last message and unread count filled in; read once
   * per event on this instance however many subscribers ask. Null when it is gone or cannot be read.
   */
  load(): Promise<ConversationModel | null>;
}

type Listener = (event: ConversationEvent) => void;

/**
 * A change this instance heard of (webhook batch, poll, the gateway's own write): a conversation, or null for
 * "something in the source changed". Called before the change is announced (LiveEngine.onChange).
 */
export type ChangeListener = (sourceId: string, conversationNativeId: string | null) => void;

interface Topic {
  listeners: Set<Listener>;
  subscribed: Promise<() => Promise<void>>;
}

/**
 * The conversation feed (docs/live.md "Conversation feed"): announces changed conversations on
 * `conversation:<source>`, and fans each announcement out to this instance's subscribers from one subscription
 * per watched source, reading the conversation once per event (or taking the model a poll just read).
 */
export class ConversationFeed {
  private readonly topics = new Map<string, Topic>();
  /** Conversations a poll of this instance just read in full, keyed by source and id, for the next event of each. */
  private readonly hints = new Map<string, ConversationModel>();

  /** Listeners of every change heard on this instance (LiveEngine.onChange: the read cache). */
  private readonly changeListeners = new Set<ChangeListener>();

  constructor(private readonly ctx: LiveContext) {}

  /** Adds a listener of every change heard on this instance; returns the function that removes it. */
  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Tells the change listeners, at once (a listener that throws is reported, never stops the change). */
  changed(sourceId: string, conversationNativeId: string | null): void {
    for (const l of this.changeListeners) {
      try {
        l(sourceId, conversationNativeId);
      } catch (e) {
        this.ctx.report(e, sourceId);
      }
    }
  }

  /** Announces one conversation of a source. */
  async publish(sourceId: string, conversationNativeId: string): Promise<void> {
    this.changed(sourceId, conversationNativeId);
    const message: ConversationMessage = { sourceId, conversationNativeId };
    await this.ctx.pubsub.publish(conversationTopic(sourceId), message);
  }

  /** Announces each conversation the changes name, once. */
  async announce(sourceId: string, changes: SourceChange[]): Promise<void> {
    const ids = new Set(changes.map((c) => c.conversationNativeId).filter((id): id is string => !!id));
    if (changes.some((c) => !c.conversationNativeId)) this.changed(sourceId, null);
    for (const id of ids) await this.publish(sourceId, id);
  }

  /**
   * Keeps the models of a poll for the next event of each conversation. They replace the previous poll's of the
   * source (so hints stay bounded by the source's size).
   */
  remember(sourceId: string, changes: SourceChange[]): void {
    for (const key of this.hints.keys()) if (key.startsWith(`${sourceId}\u0000`)) this.hints.delete(key);
    for (const c of changes) {
      if (c.conversation && c.conversationNativeId)
        this.hints.set(`${sourceId}\u0000${c.conversationNativeId}`, c.conversation);
    }
  }

  /** Adds a listener of the source's events; resolves once this instance's subscription is live. */
  async join(sourceId: string, listener: Listener): Promise<void> {
    let topic = this.topics.get(sourceId);
    if (!topic) {
      const listeners = new Set<Listener>();
      const subscribed = this.ctx.pubsub.subscribe(conversationTopic(sourceId), (p) => {
        if (!isConversationMessage(p) || p.sourceId !== sourceId) return;
        let loaded: Promise<ConversationModel | null> | null = null;
        const event: ConversationEvent = {
          sourceId,
          conversationNativeId: p.conversationNativeId,
          load: () => (loaded ??= this.load(sourceId, p.conversationNativeId)),
        };
        for (const l of listeners) l(event);
      });
      const created: Topic = { listeners, subscribed };
      topic = created;
      this.topics.set(sourceId, created);
      subscribed.catch(() => {
        if (this.topics.get(sourceId) === created) this.topics.delete(sourceId);
      });
    }
    topic.listeners.add(listener);
    try {
      await topic.subscribed;
    } catch (e) {
      topic.listeners.delete(listener);
      throw e;
    }
  }

  /** Removes a listener; the last one of a source ends this instance's subscription. */
  async leave(sourceId: string, listener: Listener): Promise<void> {
    const topic = this.topics.get(sourceId);
    if (!topic) return;
    topic.listeners.delete(listener);
    if (topic.listeners.size > 0) return;
    this.topics.delete(sourceId);
    const unsubscribe = await topic.subscribed.catch(() => null);
    await unsubscribe?.();
  }

  /**
   * One read of a changed conversation for every subscriber of this instance: the row and what its fields need
   * (participants, last message and its sender, unread count), so that subscribers' field resolvers find them
   * in the model instead of each asking the source.
   */
  private async load(sourceId: string, nativeId: string): Promise<ConversationModel | null> {
    const connector = this.ctx.connectors.get(sourceId);
    if (!connector) return null;
    const s = connector.openSession(this.ctx.scope(sourceId));
    const hintKey = `${sourceId}\u0000${nativeId}`;
    const hint = this.hints.get(hintKey);
    this.hints.delete(hintKey);
    let c: ConversationModel | null;
    try {
      c = hint ?? (await s.loadConversation(nativeId));
    } catch (e) {
      if (!(e instanceof GatewayError && (e.code === ErrorCode.NOT_FOUND || e.code === ErrorCode.FORBIDDEN)))
        this.ctx.report(e, sourceId);
      return null;
    }
    if (!c) return null;
    const conversation = c;
    // Each piece is optional: when it fails, the field resolver asks again (and reports the error itself).
    const soft = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
    const [participants, lastMessage, unreadCount] = await Promise.all([
      conversation.participants ? conversation.participants : soft(s.loadParticipants(conversation)),
      conversation.lastMessage !== undefined ? conversation.lastMessage : soft(s.loadLastMessage(conversation)),
      conversation.unreadCount !== undefined
        ? conversation.unreadCount
        : s.loadUnreadCount
          ? soft(s.loadUnreadCount(conversation))
          : null,
    ]);
    let last = lastMessage;
    if (last && !last.sender && last.senderRef) {
      const ref = last.senderRef;
      const sender = (participants ?? []).find((p) => p.nativeId === ref) ?? (await soft(s.loadParticipant(ref)));
      if (sender) last = { ...last, sender };
    }
    return {
      ...conversation,
      participants: participants ?? conversation.participants,
      ...(last !== undefined ? { lastMessage: last } : {}),
      unreadCount: unreadCount === undefined ? conversation.unreadCount : unreadCount,
    };
  }

  /** Forgets every listener; returns this instance's subscriptions, for the engine to end. */
  async close(): Promise<Array<(() => Promise<void>) | null>> {
    const topics = [...this.topics.values()];
    this.topics.clear();
    return Promise.all(topics.map((t) => t.subscribed.catch(() => null)));
  }
}
