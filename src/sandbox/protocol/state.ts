import { randomBytes } from 'node:crypto';
import { createRandom, type Random } from '../kit/random';

/**
 * The emulated Protocol account's data. Field names follow the vendor's JSON (docs/vendors/protocol.md); timestamps are
 * epoch seconds. Relations are kept as ids and expanded when serialized (routes.ts).
 */
export interface PrContact {
  id: string;
  username: string;
  phone_number: string;
  avatar_url: string | null;
  display_name: string | null;
  conversation_id: string | null;
  last_active_at: number | null;
  created_at: number;
}
export interface PrGroup {
  id: string;
  name: string;
  description: string | null;
  avatar_url: string | null;
  conversation_id: string | null;
  contact_ids: string[];
  created_at: number;
  archived_at: number | null;
}
export interface PrConversation {
  id: string;
  contact_id: string | null;
  group_id: string | null;
  pinned_message_id: string | null;
  is_pinned: boolean;
  is_muted: boolean;
  last_active_at: number | null;
  last_opened_at: number | null;
  created_at: number;
  archived_at: number | null;
}
export type PrReaction = Record<string, string[]>;
export interface PrMessage {
  id: string;
  conversation_id: string;
  contact_id: string;
  message: string;
  reactions: PrReaction[];
  attachment_ids: string[];
  read_at: number | null;
  created_at: number;
  updated_at: number | null;
}
export interface PrAttachment {
  id: string;
  message_id: string | null;
  filename: string;
  file_type: string;
  file_size: number;
  created_at: number;
  data: Buffer;
}

/** Anything a list serves: ordered newest first by `created_at`, then id (docs/vendors/protocol.md [inferred], Stripe-like). */
export interface Listed {
  id: string;
  created_at: number;
}
export const newestFirst = (a: Listed, b: Listed) =>
  b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export const nowEpoch = () => Math.floor(Date.now() / 1000);

/** docs/vendors/protocol.md: ids are 16-char base62 strings. */
export const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class ProtocolState {
  contacts = new Map<string, PrContact>();
  groups = new Map<string, PrGroup>();
  conversations = new Map<string, PrConversation>();
  messages = new Map<string, PrMessage>();
  attachments = new Map<string, PrAttachment>();
  /** Each conversation's messages, oldest first. */
  private byConversation = new Map<string, PrMessage[]>();
  private sortedConversations: PrConversation[] | null = null;
  /** For simulated traffic; separate from the seed so that resets give the same data. */
  rnd: Random = createRandom(1);

  /** `seeder` fills an empty state with the demo data (seed.ts); reset() empties and calls it again. */
  constructor(
    readonly selfContactId: string,
    private readonly seeder: (state: ProtocolState, r: Random, scale: number) => void,
    private readonly scale = 1,
    private readonly seed = 1,
  ) {
    this.reset();
  }

  reset() {
    this.contacts.clear();
    this.groups.clear();
    this.conversations.clear();
    this.messages.clear();
    this.attachments.clear();
    this.byConversation.clear();
    this.sortedConversations = null;
    this.seeder(this, createRandom(this.seed), this.scale);
    this.rnd = createRandom(this.seed + 7919);
  }

  newId(): string {
    const bytes = randomBytes(16);
    let s = '';
    for (const b of bytes) s += BASE62[b % 62];
    return s;
  }

  // Conversations

  addConversation(c: PrConversation) {
    this.conversations.set(c.id, c);
    this.byConversation.set(c.id, []);
    this.sortedConversations = null;
  }

  /** Every conversation in list order (cached: the order changes only when one is added or removed). */
  conversationList(): PrConversation[] {
    this.sortedConversations ??= [...this.conversations.values()].sort(newestFirst);
    return this.sortedConversations;
  }

  /** Deletes a conversation with its messages and their attachments; unlinks its contact or group. */
  deleteConversation(id: string) {
    const c = this.conversations.get(id);
    if (!c) return;
    for (const m of [...this.messagesOf(id)]) this.deleteMessage(m.id);
    this.conversations.delete(id);
    this.byConversation.delete(id);
    this.sortedConversations = null;
    const contact = c.contact_id ? this.contacts.get(c.contact_id) : undefined;
    if (contact?.conversation_id === id) contact.conversation_id = null;
    const group = c.group_id ? this.groups.get(c.group_id) : undefined;
    if (group?.conversation_id === id) group.conversation_id = null;
  }

  // Messages

  messagesOf(conversationId: string): PrMessage[] {
    return this.byConversation.get(conversationId) ?? [];
  }

  addMessage(m: PrMessage) {
    this.messages.set(m.id, m);
    const list = this.byConversation.get(m.conversation_id);
    if (!list) throw new Error(`no conversation ${m.conversation_id}`);
    list.push(m);
    const prev = list[list.length - 2];
    if (prev && newestFirst(prev, m) < 0) list.sort((a, b) => newestFirst(b, a));
    for (const id of m.attachment_ids) {
      const a = this.attachments.get(id);
      if (a) a.message_id = m.id;
    }
    const conv = this.conversations.get(m.conversation_id);
    if (conv && (conv.last_active_at === null || m.created_at >= conv.last_active_at))
      conv.last_active_at = m.created_at;
    const sender = this.contacts.get(m.contact_id);
    if (sender && (sender.last_active_at === null || m.created_at > sender.last_active_at))
      sender.last_active_at = m.created_at;
  }

  deleteMessage(id: string) {
    const m = this.messages.get(id);
    if (!m) return;
    this.messages.delete(id);
    for (const a of m.attachment_ids) this.attachments.delete(a);
    const list = this.byConversation.get(m.conversation_id);
    if (list) {
      const i = list.indexOf(m);
      if (i >= 0) list.splice(i, 1);
    }
    const conv = this.conversations.get(m.conversation_id);
    if (conv?.pinned_message_id === id) conv.pinned_message_id = null;
  }

  // Unread (the connector's derivation, docs/vendors/protocol.md)

  /**
   * Incoming messages (sender ≠ self) with `read_at == null` created after `last_opened_at`; with no
   * `last_opened_at`, every unread incoming message.
   */
  unreadOf(c: PrConversation): number {
    let n = 0;
    for (const m of this.messagesOf(c.id)) {
      if (m.contact_id === this.selfContactId || m.read_at !== null) continue;
      if (c.last_opened_at === null || m.created_at > c.last_opened_at) n++;
    }
    return n;
  }

  /** The user opens the conversation in the app: it and its incoming messages become read. */
  markRead(c: PrConversation, at = nowEpoch()) {
    c.last_opened_at = at;
    for (const m of this.messagesOf(c.id))
      if (m.contact_id !== this.selfContactId && m.read_at === null) m.read_at = at;
  }
}
