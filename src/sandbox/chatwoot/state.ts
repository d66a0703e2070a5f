import { createHash } from 'node:crypto';

/**
 * The emulated Chatwoot account's data. Field names follow Chatwoot's columns (docs/vendors/chatwoot.md "Objects");
 * times are kept in epoch milliseconds and serialized the way each Chatwoot view does (views.ts).
 */

export type CwStatus = 'open' | 'resolved' | 'pending' | 'snoozed';
/** docs/vendors/chatwoot.md: message_type enum 0 incoming, 1 outgoing, 2 activity, 3 template. */
export const MESSAGE_TYPE = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;
export type CwMessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE];

export interface CwAccount {
  id: number;
  name: string;
}
export interface CwUser {
  id: number;
  name: string;
  display_name: string | null;
  email: string;
  role: 'administrator' | 'agent';
  availability_status: 'available' | 'busy' | 'offline';
  access_token: string;
  /** Inboxes the user is a member of; administrators see every inbox. */
  inbox_ids: number[];
  account_ids: number[];
}
export interface CwAgentBot {
  id: number;
  name: string;
  description: string;
}
/**
 * A Captain assistant (Enterprise/Cloud, `enterprise/app/models/captain/assistant.rb`): it answers as a message
 * sender of type `Captain::Assistant` (docs/vendors/chatwoot.md "Bots").
 */
export interface CwCaptainAssistant {
  id: number;
  name: string;
  description: string;
  created_at: number;
}
export interface CwInbox {
  id: number;
  name: string;
  channel_type: 'Channel::WebWidget' | 'Channel::Email' | 'Channel::Api';
  channel_id: number;
}
export interface CwContact {
  id: number;
  name: string;
  email: string | null;
  phone_number: string | null;
  identifier: string | null;
  blocked: boolean;
  additional_attributes: Record<string, unknown>;
  custom_attributes: Record<string, unknown>;
  created_at: number;
  last_activity_at: number | null;
}
export interface CwContactInbox {
  id: number;
  contact_id: number;
  inbox_id: number;
  source_id: string;
  hmac_verified: boolean;
  pubsub_token: string;
  created_at: number;
  updated_at: number;
}
export interface CwAttachment {
  id: number;
  message_id: number;
  /** A category, not a MIME type (docs/vendors/chatwoot.md "Attachment"). */
  file_type: 'image' | 'audio' | 'video' | 'file';
  extension: string | null;
  filename: string;
  content_type: string;
  /** ActiveStorage signed blob id, part of `data_url`. */
  key: string;
  data: Buffer;
  width: number | null;
  height: number | null;
}
export interface CwMessage {
  id: number;
  /** The conversation's display id. */
  conversation_id: number;
  inbox_id: number;
  content: string | null;
  message_type: CwMessageType;
  content_type: string;
  content_attributes: Record<string, unknown>;
  private: boolean;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  source_id: string | null;
  sender_type: 'Contact' | 'User' | 'AgentBot' | 'Captain::Assistant' | null;
  sender_id: number | null;
  created_at: number;
  updated_at: number;
  attachment_ids: number[];
}
export interface CwConversation {
  /** Database id; paths and JSON use display_id (docs/vendors/chatwoot.md "IDs"). */
  db_id: number;
  display_id: number;
  uuid: string;
  inbox_id: number;
  contact_id: number;
  contact_inbox_id: number;
  assignee_id: number | null;
  /**
   * An agent bot assignee (`assignee_agent_bot_id`, app/models/conversation.rb): `assigned_entity` is the bot when
   * set; assigning a user clears it (`reset_agent_bot_when_assignee_present`).
   */
  assignee_agent_bot_id: number | null;
  status: CwStatus;
  snoozed_until: number | null;
  priority: 'low' | 'medium' | 'high' | 'urgent' | null;
  labels: string[];
  additional_attributes: Record<string, unknown>;
  custom_attributes: Record<string, unknown>;
  agent_last_seen_at: number | null;
  assignee_last_seen_at: number | null;
  contact_last_seen_at: number | null;
  created_at: number;
  updated_at: number;
  last_activity_at: number;
  first_reply_created_at: number | null;
  waiting_since: number | null;
  messages: CwMessage[];
}

/** The account the sandbox token belongs to. */
export const ACCOUNT_ID = 1;
/** An account that exists but the sandbox users are not members of (401 "not authorized to access"). */
export const FOREIGN_ACCOUNT_ID = 2;
export const ADMIN_TOKEN = 'sandbox-chatwoot-api-access-token';
/** A plain agent, member of the Website inbox only: for Pundit failures (docs/vendors/chatwoot.md: 401, not 403). */
export const AGENT_TOKEN = 'sandbox-chatwoot-agent-access-token';
export const WEBSITE_INBOX_ID = 1;
export const EMAIL_INBOX_ID = 2;
export const API_INBOX_ID = 3;

/** docs/vendors/chatwoot.md "Unread semantics": `.last(10)` upstream. */
export const UNREAD_CAP = 10;
/** docs/vendors/chatwoot.md "Delete msg": the i18n text a deleted message's content becomes. */
export const DELETED_TEXT = 'This message was deleted';

export class ChatwootState {
  accounts: CwAccount[] = [];
  users: CwUser[] = [];
  agentBots: CwAgentBot[] = [];
  captainAssistants: CwCaptainAssistant[] = [];
  inboxes: CwInbox[] = [];
  contacts = new Map<number, CwContact>();
  contactInboxes = new Map<number, CwContactInbox>();
  /** By display id. */
  conversations = new Map<number, CwConversation>();
  attachments = new Map<number, CwAttachment>();
  /** By ActiveStorage key, for serving bytes. */
  blobs = new Map<string, CwAttachment>();
  nextIds = { conversation: 1, conversationDb: 1, message: 1, attachment: 1, contactInbox: 1 };

  /** `seeder` fills an empty state with the demo data (seed.ts); reset() empties and calls it again. */
  constructor(private readonly seeder: (state: ChatwootState) => void) {
    this.reset();
  }

  reset() {
    this.accounts = [];
    this.users = [];
    this.agentBots = [];
    this.captainAssistants = [];
    this.inboxes = [];
    this.contacts.clear();
    this.contactInboxes.clear();
    this.conversations.clear();
    this.attachments.clear();
    this.blobs.clear();
    this.nextIds = { conversation: 1, conversationDb: 1, message: 1, attachment: 1, contactInbox: 1 };
    this.seeder(this);
  }

  account(id: number) {
    return this.accounts.find((a) => a.id === id) ?? null;
  }
  user(id: number | null) {
    return id === null ? null : (this.users.find((u) => u.id === id) ?? null);
  }
  userByToken(token: string) {
    return this.users.find((u) => u.access_token === token) ?? null;
  }
  inbox(id: number) {
    return this.inboxes.find((i) => i.id === id) ?? null;
  }
  bot(id: number | null) {
    return id === null ? null : (this.agentBots.find((b) => b.id === id) ?? null);
  }
  captain(id: number | null) {
    return id === null ? null : (this.captainAssistants.find((b) => b.id === id) ?? null);
  }

  /**
   * `assign_conversation` (conversations_controller.rb): the conversation's assignee becomes `user` (an agent bot
   * assignee is cleared), with the "self-assigned" activity message. Returns the previous assignee id when it
   * changed, undefined when nothing changed.
   */
  assign(c: CwConversation, user: CwUser): number | null | undefined {
    if (c.assignee_id === user.id && c.assignee_agent_bot_id === null) return undefined;
    const previous = c.assignee_id;
    c.assignee_id = user.id;
    c.assignee_agent_bot_id = null;
    this.touch(c);
    this.addActivity(c, `${user.name} self-assigned this conversation`);
    return previous;
  }
  contactOf(c: CwConversation): CwContact {
    const contact = this.contacts.get(c.contact_id);
    if (!contact) throw new Error(`conversation ${c.display_id} has no contact ${c.contact_id}`);
    return contact;
  }
  contactInboxOf(c: CwConversation): CwContactInbox {
    const ci = this.contactInboxes.get(c.contact_inbox_id);
    if (!ci) throw new Error(`conversation ${c.display_id} has no contact inbox ${c.contact_inbox_id}`);
    return ci;
  }
  canSeeInbox(u: CwUser, inboxId: number) {
    return u.role === 'administrator' || u.inbox_ids.includes(inboxId);
  }

  /** docs/vendors/chatwoot.md: incoming messages created after agent_last_seen_at (all when null), capped at 10. */
  unreadOf(c: CwConversation): number {
    return Math.min(UNREAD_CAP, this.uncappedUnreadOf(c));
  }
  uncappedUnreadOf(c: CwConversation): number {
    const seen = c.agent_last_seen_at;
    let n = 0;
    for (const m of c.messages)
      if (m.message_type === MESSAGE_TYPE.incoming && (seen === null || m.created_at > seen)) n++;
    return n;
  }
  lastMessage(c: CwConversation): CwMessage | null {
    return c.messages[c.messages.length - 1] ?? null;
  }
  /** `non_activity_messages.first` (newest first). */
  lastNonActivity(c: CwConversation): CwMessage | null {
    for (let i = c.messages.length - 1; i >= 0; i--) {
      const m = c.messages[i] as CwMessage;
      if (m.message_type !== MESSAGE_TYPE.activity) return m;
    }
    return null;
  }
  /** `messages.chat.last`: neither activity nor private (webhook push_data). */
  lastChat(c: CwConversation): CwMessage | null {
    for (let i = c.messages.length - 1; i >= 0; i--) {
      const m = c.messages[i] as CwMessage;
      if (m.message_type !== MESSAGE_TYPE.activity && !m.private) return m;
    }
    return null;
  }

  /** A monotonic clock: a message is never older than the one before it in its conversation. */
  now(c?: CwConversation): number {
    const t = Date.now();
    const last = c ? this.lastMessage(c) : null;
    return last && last.created_at > t ? last.created_at : t;
  }

  touch(c: CwConversation, at = Date.now()) {
    c.updated_at = Math.max(at, c.updated_at + 1);
  }

  /**
   * Adds a message the way Message's after_create callbacks do: `last_activity_at` follows every message
   * (activity ones too), an outgoing human reply sets first_reply_created_at and clears waiting_since, an
   * incoming one starts waiting_since.
   */
  addMessage(
    c: CwConversation,
    m: Omit<CwMessage, 'id' | 'conversation_id' | 'inbox_id' | 'created_at' | 'updated_at' | 'attachment_ids'> & {
      created_at?: number;
      files?: Array<{ filename: string; contentType: string; data: Buffer }>;
    },
  ): CwMessage {
    const at = m.created_at ?? this.now(c);
    const msg: CwMessage = {
      id: this.nextIds.message++,
      conversation_id: c.display_id,
      inbox_id: c.inbox_id,
      content: m.content,
      message_type: m.message_type,
      content_type: m.content_type,
      content_attributes: m.content_attributes,
      private: m.private,
      status: m.status,
      source_id: m.source_id,
      sender_type: m.sender_type,
      sender_id: m.sender_id,
      created_at: at,
      updated_at: at,
      attachment_ids: [],
    };
    for (const f of m.files ?? []) msg.attachment_ids.push(this.addAttachment(msg.id, f).id);
    c.messages.push(msg);
    c.last_activity_at = at;
    this.touch(c, at);
    if (msg.message_type === MESSAGE_TYPE.outgoing && !msg.private && msg.sender_type === 'User') {
      c.first_reply_created_at ??= at;
      c.waiting_since = null;
    }
    if (msg.message_type === MESSAGE_TYPE.incoming) {
      c.waiting_since ??= at;
      const contact = this.contacts.get(c.contact_id);
      if (contact) contact.last_activity_at = at;
    }
    return msg;
  }

  addAttachment(messageId: number, f: { filename: string; contentType: string; data: Buffer }): CwAttachment {
    const id = this.nextIds.attachment++;
    const dot = f.filename.lastIndexOf('.');
    const ext = dot > 0 ? f.filename.slice(dot + 1).toLowerCase() : null;
    const major = f.contentType.split('/')[0];
    const a: CwAttachment = {
      id,
      message_id: messageId,
      file_type: major === 'image' || major === 'audio' || major === 'video' ? major : 'file',
      // Upstream's `extension` column is often empty; the sandbox fills it for images only, so clients
      // exercise both ways of finding a MIME type (docs/vendors/README.md "Attachment").
      extension: major === 'image' ? ext : null,
      filename: f.filename,
      content_type: f.contentType,
      key: signedBlobId(id),
      data: f.data,
      width: major === 'image' ? 1 : null,
      height: major === 'image' ? 1 : null,
    };
    this.attachments.set(id, a);
    this.blobs.set(a.key, a);
    return a;
  }

  removeAttachments(m: CwMessage) {
    for (const id of m.attachment_ids) {
      const a = this.attachments.get(id);
      if (a) this.blobs.delete(a.key);
      this.attachments.delete(id);
    }
    m.attachment_ids = [];
  }

  /** An activity message as Chatwoot's status/mute callbacks write them. */
  addActivity(c: CwConversation, content: string, at?: number): CwMessage {
    return this.addMessage(c, {
      content,
      message_type: MESSAGE_TYPE.activity,
      content_type: 'text',
      content_attributes: {},
      private: false,
      status: 'sent',
      source_id: null,
      sender_type: null,
      sender_id: null,
      created_at: at,
    });
  }

  /** Returns the previous status when it changed. `ensure_snooze_until_reset`: only snoozed keeps snoozed_until. */
  setStatus(
    c: CwConversation,
    status: CwStatus,
    by: CwUser | null,
    snoozedUntil: number | null = null,
  ): CwStatus | null {
    const previous = c.status;
    c.snoozed_until = status === 'snoozed' ? snoozedUntil : null;
    if (previous === status) return null;
    c.status = status;
    this.touch(c);
    const name = by?.name ?? 'Automation System';
    const text: Record<CwStatus, string> = {
      open: `Conversation was reopened by ${name}`,
      resolved: `Conversation was marked resolved by ${name}`,
      pending: `Conversation was marked as pending by ${name}`,
      snoozed: `Conversation was snoozed by ${name}`,
    };
    this.addActivity(c, text[status]);
    return previous;
  }

  findOrCreateContactInbox(contact: CwContact, inbox: CwInbox, sourceId: string, at = Date.now()): CwContactInbox {
    for (const ci of this.contactInboxes.values()) {
      if (ci.contact_id === contact.id && ci.inbox_id === inbox.id && ci.source_id === sourceId) return ci;
    }
    const ci: CwContactInbox = {
      id: this.nextIds.contactInbox++,
      contact_id: contact.id,
      inbox_id: inbox.id,
      source_id: sourceId,
      hmac_verified: false,
      pubsub_token: createHash('sha1').update(`pubsub-${sourceId}`).digest('hex').slice(0, 24),
      created_at: at,
      updated_at: at,
    };
    this.contactInboxes.set(ci.id, ci);
    return ci;
  }
}

/** Looks like an ActiveStorage signed id; deterministic per attachment. */
function signedBlobId(id: number): string {
  const payload = Buffer.from(JSON.stringify({ _rails: { data: id, pur: 'blob_id' } }))
    .toString('base64')
    .replace(/=+$/, '');
  return `${payload}--${createHash('sha1').update(`blob-${id}`).digest('hex')}`;
}
