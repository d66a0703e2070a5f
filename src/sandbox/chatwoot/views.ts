import type {
  ChatwootState,
  CwAgentBot,
  CwAttachment,
  CwCaptainAssistant,
  CwContact,
  CwConversation,
  CwMessage,
  CwUser,
} from './state';

/**
 * JSON the way Chatwoot's jbuilder views and `push_event_data`/`webhook_data` methods build it (docs/vendors/chatwoot.md
 * "Objects"). Times: `x.to_i` epoch seconds where the view says so (nil → 0), `to_f` for conversation
 * updated_at, raw Rails times (ISO-8601 with milliseconds, or null) elsewhere.
 */

const toI = (ms: number | null) => (ms === null ? 0 : Math.floor(ms / 1000));
const toF = (ms: number) => ms / 1000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const MESSAGE_TYPE_NAME = ['incoming', 'outgoing', 'activity', 'template'] as const;

export class ChatwootViews {
  constructor(
    private readonly state: ChatwootState,
    private readonly baseUrl: () => string,
  ) {}

  // ----- attachments ---------------------------------------------------------------------------------------

  dataUrl(a: CwAttachment) {
    return `${this.baseUrl()}/rails/active_storage/blobs/redirect/${a.key}/${encodeURIComponent(a.filename)}`;
  }

  /** `Attachment#push_event_data`: no filename or MIME type; thumb_url is '' except for images. */
  attachment(a: CwAttachment, accountId: number) {
    return {
      id: a.id,
      message_id: a.message_id,
      file_type: a.file_type,
      account_id: accountId,
      extension: a.extension,
      data_url: this.dataUrl(a),
      thumb_url:
        a.file_type === 'image'
          ? `${this.baseUrl()}/rails/active_storage/representations/redirect/${a.key}/${encodeURIComponent(a.filename)}`
          : '',
      file_size: a.data.length,
      width: a.width,
      height: a.height,
    };
  }

  private attachmentsOf(m: CwMessage, accountId: number) {
    const list = m.attachment_ids
      .map((id) => this.state.attachments.get(id))
      .filter((a): a is CwAttachment => a !== undefined)
      .map((a) => this.attachment(a, accountId));
    // docs/vendors/chatwoot.md: `attachments` is only set when there are some.
    return list.length > 0 ? { attachments: list } : {};
  }

  // ----- people ----------------------------------------------------------------------------------------------

  /** The `api/v1/models/contact` partial (meta.sender, contact show). */
  contact(c: CwContact, withContactInboxes = false) {
    return {
      additional_attributes: c.additional_attributes,
      availability_status: 'offline',
      email: c.email,
      id: c.id,
      name: c.name,
      phone_number: c.phone_number,
      blocked: c.blocked,
      identifier: c.identifier,
      thumbnail: '',
      custom_attributes: c.custom_attributes,
      ...(c.last_activity_at !== null ? { last_activity_at: toI(c.last_activity_at) } : {}),
      created_at: toI(c.created_at),
      ...(withContactInboxes
        ? {
            contact_inboxes: [...this.state.contactInboxes.values()]
              .filter((ci) => ci.contact_id === c.id)
              .map((ci) => {
                const inbox = this.state.inbox(ci.inbox_id);
                return {
                  source_id: ci.source_id,
                  inbox: inbox
                    ? {
                        id: inbox.id,
                        avatar_url: '',
                        channel_id: inbox.channel_id,
                        name: inbox.name,
                        channel_type: inbox.channel_type,
                        provider: null,
                      }
                    : null,
                };
              }),
          }
        : {}),
    };
  }

  /** `Contact#push_event_data`. */
  contactPush(c: CwContact) {
    return {
      additional_attributes: c.additional_attributes,
      custom_attributes: c.custom_attributes,
      email: c.email,
      id: c.id,
      identifier: c.identifier,
      name: c.name,
      phone_number: c.phone_number,
      thumbnail: '',
      blocked: c.blocked,
      type: 'contact',
    };
  }

  /** `Contact#webhook_data`: no `type` key (docs/vendors/chatwoot.md "Sender webhook shapes"). */
  contactWebhook(c: CwContact, accountId: number) {
    const account = this.state.account(accountId);
    return {
      account: account ? { id: account.id, name: account.name } : null,
      additional_attributes: c.additional_attributes,
      avatar: '',
      custom_attributes: c.custom_attributes,
      email: c.email,
      id: c.id,
      identifier: c.identifier,
      name: c.name,
      phone_number: c.phone_number,
      thumbnail: '',
      blocked: c.blocked,
    };
  }

  private availableName(u: CwUser) {
    return u.display_name ?? u.name;
  }

  /** The `api/v1/models/agent` partial (meta.assignee, GET /agents). */
  agent(u: CwUser, accountId: number) {
    return {
      account_id: accountId,
      availability_status: u.availability_status,
      auto_offline: true,
      confirmed: true,
      email: u.email,
      available_name: this.availableName(u),
      custom_attributes: {},
      id: u.id,
      name: u.name,
      role: u.role,
      thumbnail: '',
      custom_role_id: null,
    };
  }

  /** `User#push_event_data`. */
  userPush(u: CwUser) {
    return {
      id: u.id,
      name: u.name,
      available_name: this.availableName(u),
      avatar_url: '',
      type: 'user',
      availability_status: u.availability_status,
      thumbnail: '',
    };
  }

  botPush(b: CwAgentBot) {
    return { id: b.id, name: b.name, avatar_url: '', type: 'agent_bot' };
  }

  /** The `api/v1/models/agent_bot_slim` partial: meta.assignee of a bot-assigned conversation (REST). */
  botSlim(b: CwAgentBot) {
    return {
      id: b.id,
      name: b.name,
      description: b.description,
      thumbnail: '',
      outgoing_url: 'https://bots.acme.example/captain',
      bot_type: 'webhook',
    };
  }

  /** `Captain::Assistant#push_event_data` and `#webhook_data` (the same hash). */
  captainPush(a: CwCaptainAssistant) {
    return {
      id: a.id,
      name: a.name,
      avatar_url: '',
      description: a.description,
      created_at: iso(a.created_at),
      type: 'captain_assistant',
    };
  }

  /** The agent bot show view. */
  bot(b: CwAgentBot, accountId: number) {
    return {
      id: b.id,
      name: b.name,
      description: b.description,
      thumbnail: '',
      outgoing_url: 'https://bots.acme.example/captain',
      bot_type: 'webhook',
      bot_config: {},
      account_id: accountId,
      system_bot: false,
    };
  }

  private senderPush(m: CwMessage) {
    if (m.sender_type === 'Contact' && m.sender_id !== null) {
      const c = this.state.contacts.get(m.sender_id);
      return c ? this.contactPush(c) : null;
    }
    if (m.sender_type === 'User') {
      const u = this.state.user(m.sender_id);
      return u ? this.userPush(u) : null;
    }
    if (m.sender_type === 'AgentBot' && m.sender_id !== null) {
      const b = this.state.bot(m.sender_id);
      return b ? this.botPush(b) : null;
    }
    if (m.sender_type === 'Captain::Assistant') {
      const a = this.state.captain(m.sender_id);
      return a ? this.captainPush(a) : null;
    }
    return null;
  }

  private senderWebhook(m: CwMessage, accountId: number) {
    if (m.sender_type === 'Contact' && m.sender_id !== null) {
      const c = this.state.contacts.get(m.sender_id);
      return c ? this.contactWebhook(c, accountId) : null;
    }
    if (m.sender_type === 'User') {
      const u = this.state.user(m.sender_id);
      return u ? { id: u.id, name: u.name, email: u.email, type: 'user' } : null;
    }
    if (m.sender_type === 'AgentBot' && m.sender_id !== null) {
      const b = this.state.bot(m.sender_id);
      return b ? { id: b.id, name: b.name, type: 'agent_bot' } : null;
    }
    if (m.sender_type === 'Captain::Assistant') {
      const a = this.state.captain(m.sender_id);
      return a ? this.captainPush(a) : null;
    }
    return null;
  }

  // ----- messages --------------------------------------------------------------------------------------------

  /** The `api/v1/models/message` partial (messages index, create, destroy): message_type is an int. */
  message(m: CwMessage, accountId: number) {
    const sender = this.senderPush(m);
    return {
      id: m.id,
      content: m.content,
      inbox_id: m.inbox_id,
      conversation_id: m.conversation_id,
      message_type: m.message_type,
      content_type: m.content_type,
      status: m.status,
      content_attributes: m.content_attributes,
      created_at: toI(m.created_at),
      private: m.private,
      source_id: m.source_id,
      ...(sender ? { sender } : {}),
      ...this.attachmentsOf(m, accountId),
    };
  }

  /** `Message#push_event_data`: every column (updated_at a raw time) plus a conversation digest. */
  messagePush(m: CwMessage, c: CwConversation, accountId: number) {
    const sender = this.senderPush(m);
    return {
      id: m.id,
      content: m.content,
      account_id: accountId,
      inbox_id: m.inbox_id,
      conversation_id: m.conversation_id,
      message_type: m.message_type,
      created_at: toI(m.created_at),
      updated_at: iso(m.updated_at),
      private: m.private,
      status: m.status,
      source_id: m.source_id,
      content_type: m.content_type,
      content_attributes: m.content_attributes,
      sender_type: m.sender_type,
      sender_id: m.sender_id,
      external_source_ids: {},
      additional_attributes: {},
      processed_message_content: m.content,
      sentiment: {},
      conversation: {
        assignee_id: c.assignee_id,
        unread_count: this.state.unreadOf(c),
        last_activity_at: toI(c.last_activity_at),
        contact_inbox: { source_id: this.state.contactInboxOf(c).source_id },
      },
      ...(sender ? { sender } : {}),
      ...this.attachmentsOf(m, accountId),
    };
  }

  /** `Message#webhook_data`: message_type as a string, created_at a raw time (docs/vendors/chatwoot.md). */
  messageWebhook(m: CwMessage, c: CwConversation, accountId: number, event: string) {
    const account = this.state.account(accountId);
    const inbox = this.state.inbox(m.inbox_id);
    return {
      event,
      account: account ? { id: account.id, name: account.name } : null,
      additional_attributes: {},
      content_attributes: m.content_attributes,
      content_type: m.content_type,
      content: m.content,
      conversation: this.conversationPush(c),
      created_at: iso(m.created_at),
      id: m.id,
      inbox: inbox ? { id: inbox.id, name: inbox.name } : null,
      message_type: MESSAGE_TYPE_NAME[m.message_type],
      private: m.private,
      sender: this.senderWebhook(m, accountId),
      source_id: m.source_id,
      ...this.attachmentsOf(m, accountId),
    };
  }

  // ----- conversations ---------------------------------------------------------------------------------------

  /** `_conversation.json.jbuilder` (list, show, create, update_last_seen, unread). */
  conversation(c: CwConversation, accountId: number) {
    const contact = this.state.contactOf(c);
    const assignee = this.state.user(c.assignee_id);
    const bot = this.state.bot(c.assignee_agent_bot_id);
    const inbox = this.state.inbox(c.inbox_id);
    const last = this.state.lastMessage(c);
    const lastNonActivity = this.state.lastNonActivity(c);
    return {
      meta: {
        sender: this.contact(contact),
        channel: inbox?.channel_type ?? null,
        // `assigned_entity` (assignee_agent_bot || assignee): the bot's slim partial, or the agent partial.
        ...(bot
          ? { assignee: this.botSlim(bot), assignee_type: 'AgentBot' }
          : assignee
            ? { assignee: this.agent(assignee, accountId), assignee_type: 'User' }
            : {}),
        hmac_verified: this.state.contactInboxOf(c).hmac_verified,
      },
      id: c.display_id,
      messages: last ? [this.messagePush(last, c, accountId)] : [],
      account_id: accountId,
      uuid: c.uuid,
      additional_attributes: c.additional_attributes,
      agent_last_seen_at: toI(c.agent_last_seen_at),
      assignee_last_seen_at: toI(c.assignee_last_seen_at),
      can_reply: true,
      contact_last_seen_at: toI(c.contact_last_seen_at),
      custom_attributes: c.custom_attributes,
      inbox_id: c.inbox_id,
      labels: [...c.labels],
      // docs/vendors/chatwoot.md: `muted` is `contact.blocked?`.
      muted: contact.blocked,
      // Emitted raw: an ISO time or null (docs/vendors/chatwoot.md "Timestamps").
      snoozed_until: iso(c.snoozed_until),
      status: c.status,
      created_at: toI(c.created_at),
      updated_at: toF(c.updated_at),
      timestamp: toI(c.last_activity_at),
      first_reply_created_at: toI(c.first_reply_created_at),
      unread_count: this.state.unreadOf(c),
      last_non_activity_message: lastNonActivity ? this.messagePush(lastNonActivity, c, accountId) : null,
      last_activity_at: toI(c.last_activity_at),
      priority: c.priority,
      waiting_since: toI(c.waiting_since),
      sla_policy_id: null,
    };
  }

  /** `Conversations::EventDataPresenter#push_data` (webhook conversation payloads). */
  conversationPush(c: CwConversation) {
    const contact = this.state.contactOf(c);
    const assignee = this.state.user(c.assignee_id);
    const bot = this.state.bot(c.assignee_agent_bot_id);
    const inbox = this.state.inbox(c.inbox_id);
    const ci = this.state.contactInboxOf(c);
    const chat = this.state.lastChat(c);
    const accountId = this.accountOf();
    return {
      additional_attributes: c.additional_attributes,
      can_reply: true,
      channel: inbox?.channel_type ?? null,
      contact_inbox: {
        id: ci.id,
        contact_id: ci.contact_id,
        inbox_id: ci.inbox_id,
        source_id: ci.source_id,
        created_at: iso(ci.created_at),
        updated_at: iso(ci.updated_at),
        hmac_verified: ci.hmac_verified,
        pubsub_token: ci.pubsub_token,
      },
      id: c.display_id,
      inbox_id: c.inbox_id,
      messages: chat ? [this.messagePush(chat, c, accountId)] : [],
      labels: [...c.labels],
      meta: {
        sender: this.contactPush(contact),
        assignee: bot ? this.botPush(bot) : assignee ? this.userPush(assignee) : null,
        assignee_type: bot ? 'AgentBot' : assignee ? 'User' : null,
        team: null,
        hmac_verified: ci.hmac_verified,
      },
      status: c.status,
      custom_attributes: c.custom_attributes,
      snoozed_until: iso(c.snoozed_until),
      unread_count: this.state.unreadOf(c),
      first_reply_created_at: iso(c.first_reply_created_at),
      priority: c.priority,
      waiting_since: toI(c.waiting_since),
      agent_last_seen_at: toI(c.agent_last_seen_at),
      contact_last_seen_at: toI(c.contact_last_seen_at),
      last_activity_at: toI(c.last_activity_at),
      timestamp: toI(c.last_activity_at),
      created_at: toI(c.created_at),
      updated_at: toF(c.updated_at),
    };
  }

  /** The sandbox holds one account's conversations. */
  private accountOf() {
    return this.state.accounts[0]?.id ?? 1;
  }

  /** Rails' `previous_changes` shape, times as raw Rails times. */
  static changed(attr: string, previous: unknown, current: unknown) {
    return [{ [attr]: { previous_value: previous, current_value: current } }];
  }
}
