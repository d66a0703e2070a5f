import type {
  AttachmentModel,
  ConversationModel,
  ConversationStatus,
  MessageDirection,
  MessageModel,
  ParticipantModel,
} from '../types';
import type {
  ChatwootAgentBotDto,
  ChatwootAgentDto,
  ChatwootAttachmentDto,
  ChatwootContactDto,
  ChatwootConversationDto,
  ChatwootMessageDto,
  ChatwootSenderDto,
} from './types';

/** Pure mapping of Chatwoot DTOs onto the canonical models (docs/vendors/README.md, column CW). No I/O. */

export interface ChatwootMapContext {
  sourceId: string;
  /** Display ids are unique per account only, so every native conversation id carries the account. */
  accountId: number;
}

// ---------------------------------------------------------------------------------------------------------
// Native ids

/** docs/vendors/README.md "IDs": `<account_id>:<display_id>`. */
export const conversationNativeId = (accountId: number, displayId: number) => `${accountId}:${displayId}`;
/** The message routes nest under the conversation: `<account_id>:<display_id>/<message_id>`. */
export const messageNativeId = (accountId: number, displayId: number, messageId: number) =>
  `${accountId}:${displayId}/${messageId}`;

export function parseConversationNativeId(id: string): { accountId: number; displayId: number } | null {
  const m = /^(\d+):(\d+)$/.exec(id);
  return m ? { accountId: Number(m[1]), displayId: Number(m[2]) } : null;
}

export function parseMessageNativeId(id: string): { accountId: number; displayId: number; messageId: number } | null {
  const m = /^(\d+):(\d+)\/(\d+)$/.exec(id);
  return m ? { accountId: Number(m[1]), displayId: Number(m[2]), messageId: Number(m[3]) } : null;
}

/**
 * Participants are namespaced because contact, user, agent bot and Captain assistant ids collide
 * (docs/vendors/README.md "Participant"): `contact:<id>`, `user:<id>`, `agent_bot:<id>`, `captain_assistant:<id>`.
 * A Captain assistant cannot be loaded by id through the Application API, so only the first three parse here
 * (loadParticipant answers null for the fourth).
 */
export type ChatwootParticipantType = 'contact' | 'user' | 'agent_bot';
export function parseParticipantNativeId(id: string): { type: ChatwootParticipantType; id: number } | null {
  const m = /^(contact|user|agent_bot):(\d+)$/.exec(id);
  return m ? { type: m[1] as ChatwootParticipantType, id: Number(m[2]) } : null;
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

/**
 * docs/vendors/chatwoot.md "Timestamps": REST epochs are seconds and `nil.to_i` gives 0, so 0 means null; conversation
 * `updated_at` is a float; webhook message `created_at` and the messages index's `agent_last_seen_at` are ISO.
 */
export function cwTime(v: number | string | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return v === 0 || !Number.isFinite(v) ? null : new Date(Math.round(v * 1000));
  if (/^\d+(\.\d+)?$/.test(v)) return cwTime(Number(v));
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t);
}

/** Chatwoot sends '' for "no avatar". */
const blank = (s: string | null | undefined) => (s && s.trim() !== '' ? s : null);

/**
 * docs/vendors/README.md "direction": REST `message_type` is 0 incoming, 1 outgoing, 2 activity, 3 template; webhooks
 * send the enum name. A template is something we sent, so OUTGOING.
 */
export function mapDirection(t: number | string): MessageDirection {
  switch (t) {
    case 0:
    case 'incoming':
      return 'INCOMING';
    case 2:
    case 'activity':
      return 'ACTIVITY';
    default:
      return 'OUTGOING';
  }
}

const STATUS: Record<string, ConversationStatus> = {
  open: 'OPEN',
  pending: 'PENDING',
  snoozed: 'SNOOZED',
  resolved: 'RESOLVED',
};
export const mapStatus = (s: string): ConversationStatus => STATUS[s] ?? 'OPEN';

/** The statuses `toggle_status` accepts (docs/vendors/chatwoot.md "Status"); Chatwoot has no archive. */
export function chatwootStatusOf(s: ConversationStatus): 'open' | 'pending' | 'snoozed' | 'resolved' | null {
  switch (s) {
    case 'OPEN':
      return 'open';
    case 'PENDING':
      return 'pending';
    case 'SNOOZED':
      return 'snoozed';
    case 'RESOLVED':
      return 'resolved';
    default:
      return null;
  }
}

/**
 * docs/vendors/chatwoot.md "Attachment": Chatwoot has no MIME field, only `extension`; [inferred] map the extensions its
 * allow-list accepts (images, audio, video, office documents, archives, text) to their MIME types.
 */
const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  svg: 'image/svg+xml',
  heic: 'image/heic',
  ico: 'image/x-icon',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/opus',
  aac: 'audio/aac',
  amr: 'audio/amr',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  '3gp': 'video/3gpp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  rtf: 'application/rtf',
  json: 'application/json',
  xml: 'application/xml',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  zip: 'application/zip',
  '7z': 'application/x-7z-compressed',
  rar: 'application/vnd.rar',
  tar: 'application/x-tar',
  gz: 'application/gzip',
};
export function mimeFromExtension(ext: string | null | undefined): string | null {
  if (!ext) return null;
  return MIME[ext.replace(/^\./, '').toLowerCase()] ?? null;
}

/** docs/vendors/README.md "Attachment" [inferred]: the filename is the last segment of the `data_url` path. */
export function filenameFromUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? '';
  }
  const last = path.split('/').filter(Boolean).pop();
  if (!last) return null;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Participants

export function mapContact(ctx: ChatwootMapContext, c: ChatwootContactDto): ParticipantModel {
  return {
    sourceId: ctx.sourceId,
    nativeId: `contact:${c.id}`,
    name: blank(c.name),
    email: blank(c.email),
    phone: blank(c.phone_number),
    kind: 'CONTACT',
    avatarUrl: blank(c.thumbnail),
    avatarColor: null,
  };
}

/** docs/vendors/README.md: a user's display name is `available_name`; its avatar is `avatar_url` (`thumbnail` in the agent partial). */
export function mapAgent(ctx: ChatwootMapContext, a: ChatwootAgentDto): ParticipantModel {
  return {
    sourceId: ctx.sourceId,
    nativeId: `user:${a.id}`,
    name: blank(a.available_name) ?? blank(a.name),
    email: blank(a.email),
    phone: null,
    kind: 'AGENT',
    avatarUrl: blank(a.avatar_url) ?? blank(a.thumbnail),
    avatarColor: null,
  };
}

export function mapAgentBot(
  ctx: ChatwootMapContext,
  b: ChatwootAgentBotDto & { avatar_url?: string | null },
): ParticipantModel {
  return bot(ctx, 'agent_bot', b);
}

/**
 * docs/vendors/chatwoot.md "Bots": Captain (Enterprise/Cloud) answers as a `Captain::Assistant`, whose
 * `push_event_data` and `webhook_data` are `{id, name, avatar_url, description, created_at, type:
 * "captain_assistant"}` (enterprise/app/models/captain/assistant.rb). A bot, never a human agent: its ids are not
 * user ids.
 */
export function mapCaptainAssistant(ctx: ChatwootMapContext, b: ChatwootSenderDto): ParticipantModel {
  return bot(ctx, 'captain_assistant', b);
}

/** A BOT participant, its id namespaced by the kind of bot (never colliding with `user:` or `contact:` ids). */
function bot(
  ctx: ChatwootMapContext,
  namespace: 'agent_bot' | 'captain_assistant',
  b: { id: number | string; name?: string | null; avatar_url?: string | null; thumbnail?: string | null },
): ParticipantModel {
  return {
    sourceId: ctx.sourceId,
    nativeId: `${namespace}:${b.id}`,
    name: blank(b.name),
    email: null,
    phone: null,
    kind: 'BOT',
    avatarUrl: blank(b.avatar_url) ?? blank(b.thumbnail),
    avatarColor: null,
  };
}

/**
 * docs/vendors/README.md "kind": `type` contact|user|agent_bot|captain_assistant; a webhook contact has no `type`.
 * An unknown `type` is not taken for a contact (its id would collide with a contact's): it maps as a bot of that
 * type.
 */
export function mapSender(ctx: ChatwootMapContext, s: ChatwootSenderDto): ParticipantModel {
  if (s.type === 'user') return mapAgent(ctx, s);
  if (s.type === 'agent_bot') return mapAgentBot(ctx, s);
  if (s.type === 'captain_assistant') return mapCaptainAssistant(ctx, s);
  if (s.type && s.type !== 'contact' && /^[a-z_]{1,40}$/.test(s.type)) {
    return { ...mapAgentBot(ctx, s), nativeId: `${s.type}:${s.id}` };
  }
  return mapContact(ctx, s);
}

/**
 * push_event_data carries `sender_type` ("Contact"|"User"|"AgentBot"|"Captain::Assistant", the polymorphic class)
 * and `sender_id` beside `sender`.
 */
function senderRefOf(m: ChatwootMessageDto): string | null {
  const type = typeof m.sender_type === 'string' ? m.sender_type.toLowerCase() : null;
  const id = typeof m.sender_id === 'number' ? m.sender_id : null;
  if (!type || id === null) return null;
  if (type === 'contact') return `contact:${id}`;
  if (type === 'user' || type === 'agent') return `user:${id}`;
  if (type === 'agentbot' || type === 'agent_bot') return `agent_bot:${id}`;
  if (type === 'captain::assistant' || type === 'captain_assistant') return `captain_assistant:${id}`;
  return null;
}

/**
 * The assigned entity of a conversation (docs/vendors/chatwoot.md "Bots"): an agent bot when `meta.assignee_type`
 * is "AgentBot" (or, without it, when the webhook shape says `type: "agent_bot"`), a human agent otherwise.
 */
export function mapAssignee(ctx: ChatwootMapContext, meta: ChatwootConversationDto['meta']): ParticipantModel | null {
  const a = meta.assignee;
  if (!a) return null;
  const bot = meta.assignee_type ? meta.assignee_type === 'AgentBot' : a.type === 'agent_bot';
  return bot ? mapAgentBot(ctx, a) : mapAgent(ctx, a);
}

// ---------------------------------------------------------------------------------------------------------
// Messages

export function mapAttachment(ctx: ChatwootMapContext, a: ChatwootAttachmentDto): AttachmentModel {
  const filename = filenameFromUrl(a.data_url);
  const fromName = filename && filename.includes('.') ? filename.slice(filename.lastIndexOf('.') + 1) : null;
  return {
    sourceId: ctx.sourceId,
    nativeId: String(a.id),
    filename,
    // `extension` is often null upstream; the filename's own extension is the next best hint.
    contentType: mimeFromExtension(a.extension) ?? mimeFromExtension(fromName),
    size: a.file_size ?? null,
    url: blank(a.data_url),
  };
}

export interface MessageMapOptions {
  /** Display id of the conversation when the payload does not carry `conversation_id` (webhooks). */
  conversationDisplayId?: number;
  /** docs/vendors/README.md "readAt" [inferred]: an incoming message is read when `created_at <= agent_last_seen_at`. */
  agentLastSeenAt?: Date | null;
}

/** Maps a REST message, a push_event_data message or a webhook message (docs/vendors/chatwoot.md "Message"). */
export function mapMessage(ctx: ChatwootMapContext, m: ChatwootMessageDto, opts: MessageMapOptions = {}): MessageModel {
  // Webhook messages carry no conversation_id, only the conversation's push_data under `conversation`.
  const embedded = m.conversation;
  const embeddedId =
    embedded && typeof embedded === 'object' && 'id' in embedded && typeof embedded.id === 'number'
      ? embedded.id
      : undefined;
  const displayId = m.conversation_id ?? opts.conversationDisplayId ?? embeddedId;
  if (displayId === undefined || displayId === null) {
    throw new TypeError(`A Chatwoot message (id ${m.id}) must carry its conversation's display id.`);
  }
  const direction = mapDirection(m.message_type);
  const sentAt = cwTime(m.created_at);
  const seen = opts.agentLastSeenAt ?? null;
  const readAt =
    direction === 'INCOMING' && seen && sentAt && Math.floor(sentAt.getTime() / 1000) <= seen.getTime() / 1000
      ? seen
      : null;
  const sender = m.sender ? mapSender(ctx, m.sender) : null;
  return {
    sourceId: ctx.sourceId,
    nativeId: messageNativeId(ctx.accountId, displayId, m.id),
    conversationNativeId: conversationNativeId(ctx.accountId, displayId),
    content: m.content ?? null,
    sentAt,
    readAt,
    direction,
    private: m.private === true,
    sender,
    senderRef: sender ? sender.nativeId : senderRefOf(m),
    attachments: (m.attachments ?? []).map((a) => mapAttachment(ctx, a)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Conversations

/** docs/vendors/README.md "subject" [inferred]: only email conversations have one, in `additional_attributes.mail_subject`. */
function subjectOf(c: ChatwootConversationDto): string | null {
  const s = c.additional_attributes?.mail_subject;
  return typeof s === 'string' && s.trim() !== '' ? s : null;
}

export function mapConversation(ctx: ChatwootMapContext, c: ChatwootConversationDto): ConversationModel {
  const participants: ParticipantModel[] = [];
  if (c.meta.sender) participants.push(mapContact(ctx, c.meta.sender));
  const assignee = mapAssignee(ctx, c.meta);
  if (assignee) participants.push(assignee);
  const agentLastSeenAt = cwTime(c.agent_last_seen_at);
  // docs/vendors/README.md "lastMessage": last_non_activity_message, else the embedded last message.
  const last = c.last_non_activity_message ?? c.messages?.[0];
  const hasLastField = c.last_non_activity_message !== undefined || c.messages !== undefined;
  return {
    sourceId: ctx.sourceId,
    nativeId: conversationNativeId(ctx.accountId, c.id),
    subject: subjectOf(c),
    status: mapStatus(c.status),
    channel: c.meta.channel ?? null,
    createdAt: cwTime(c.created_at),
    updatedAt: cwTime(c.updated_at),
    lastMessageAt: cwTime(c.last_activity_at ?? c.timestamp),
    // docs/vendors/chatwoot.md "Unread semantics": capped at 10 upstream (capabilities.exactUnreadCounts is false).
    unreadCount: c.unread_count ?? null,
    // docs/vendors/README.md "muted": Chatwoot's `muted` is "the contact is blocked", the closest thing it has.
    muted: c.muted === true,
    pinned: false,
    archived: false,
    labels: [...c.labels],
    participants,
    lastMessage: last
      ? mapMessage(ctx, last, { conversationDisplayId: c.id, agentLastSeenAt })
      : hasLastField
        ? null
        : undefined,
  };
}
