import type { AttachmentModel, ConversationModel, MessageModel, ParticipantModel } from '../types';
import type {
  ProtocolAttachmentDto,
  ProtocolContactDto,
  ProtocolConversationDto,
  ProtocolGroupDto,
  ProtocolMessageDto,
} from './types';

/**
 * Pure Protocol DTO → canonical model mapping (docs/vendors/README.md, column PR). No I/O: what a conversation needs from
 * other objects (its contact or group, the self contact) is handed in by the session, which loads it.
 */

/** docs/vendors/protocol.md: timestamps are Unix epoch seconds, nullable. */
export function fromEpoch(seconds: number | null | undefined): Date | null {
  return seconds === null || seconds === undefined ? null : new Date(seconds * 1000);
}

/** docs/vendors/README.md Participant: name = `display_name ?? username`. */
export function contactName(c: Pick<ProtocolContactDto, 'display_name' | 'username'>): string | null {
  return c.display_name ?? c.username ?? null;
}

/**
 * A contact as a participant. The API has no "me" (docs/vendors/protocol.md), so the configured self contact is the
 * AGENT (the API user) and every other contact a CONTACT. Protocol has no email (docs/vendors/README.md).
 */
export function mapContact(sourceId: string, c: ProtocolContactDto, selfContactId: string | null): ParticipantModel {
  return {
    sourceId,
    nativeId: c.id,
    name: contactName(c),
    email: null,
    phone: c.phone_number ?? null,
    kind: selfContactId !== null && c.id === selfContactId ? 'AGENT' : 'CONTACT',
    avatarUrl: c.avatar_url ?? null,
    avatarColor: null,
  };
}

export function mapAttachment(sourceId: string, a: ProtocolAttachmentDto): AttachmentModel {
  return {
    sourceId,
    nativeId: a.id,
    filename: a.filename ?? null,
    contentType: a.file_type ?? null,
    size: a.file_size ?? null,
    url: a.file_url ?? null,
  };
}

/**
 * A message. Direction: OUTGOING when the sender is the self contact, else INCOMING (docs/vendors/README.md
 * "direction"); without a configured self contact every message is INCOMING.
 * Message routes are flat (`/v1/messages/:id`), so the native id is the vendor id alone.
 */
export function mapMessage(sourceId: string, m: ProtocolMessageDto, selfContactId: string | null): MessageModel {
  return {
    sourceId,
    nativeId: m.id,
    conversationNativeId: m.conversation_id,
    content: m.message ?? null,
    sentAt: fromEpoch(m.created_at),
    readAt: fromEpoch(m.read_at),
    direction: isOwn(m, selfContactId) ? 'OUTGOING' : 'INCOMING',
    private: false,
    sender: m.contact ? mapContact(sourceId, m.contact, selfContactId) : null,
    attachments: (m.attachments ?? []).map((a) => mapAttachment(sourceId, a)),
  };
}

function isOwn(m: ProtocolMessageDto, selfContactId: string | null): boolean {
  return selfContactId !== null && m.contact?.id === selfContactId;
}

/**
 * Unread, derived (docs/vendors/protocol.md, lead's decision): an incoming message (sender ≠ self) with `read_at == null`
 * that arrived after the conversation was last opened; with `last_opened_at == null` every such message counts.
 */
export function isUnread(
  m: ProtocolMessageDto,
  conv: Pick<ProtocolConversationDto, 'last_opened_at'>,
  selfContactId: string | null,
): boolean {
  if (isOwn(m, selfContactId) || m.read_at != null) return false;
  if (conv.last_opened_at == null) return true;
  return m.created_at != null && m.created_at > conv.last_opened_at;
}

export function countUnread(
  messages: ProtocolMessageDto[],
  conv: Pick<ProtocolConversationDto, 'last_opened_at'>,
  selfContactId: string | null,
): number {
  let n = 0;
  for (const m of messages) if (isUnread(m, conv, selfContactId)) n++;
  return n;
}

/** What a conversation's mapping needs besides the conversation itself. */
export interface ConversationContext {
  /** The other contact of a one-to-one conversation (null when unknown or deleted). */
  contact?: ProtocolContactDto | null;
  /** The group of a group conversation (null when unknown or deleted). */
  group?: ProtocolGroupDto | null;
  /** The self contact, listed as the AGENT participant when known. */
  self?: ProtocolContactDto | null;
  selfContactId: string | null;
  /** Set when the caller already computed it; otherwise the gateway asks `loadUnreadCount`. */
  unreadCount?: number;
}

/**
 * A conversation (docs/vendors/README.md, column PR). Protocol has no subject, status, `updated_at`, unread count or
 * labels: subject is the group's name or the contact's name, status is ARCHIVED when `archived_at` is set and
 * OPEN otherwise, `updatedAt` is null, labels are empty. Participants are the group's contacts (or the one
 * contact) plus the self contact; the group itself is not a participant (it is `groupNativeId` on create).
 */
export function mapConversation(
  sourceId: string,
  c: ProtocolConversationDto,
  ctx: ConversationContext,
): ConversationModel {
  const { contact = null, group = null, self = null, selfContactId } = ctx;
  const subject = c.group_id ? (group?.name ?? null) : contact ? contactName(contact) : null;
  const members: ProtocolContactDto[] = c.group_id ? (group?.contacts ?? []) : contact ? [contact] : [];
  const participants = members.map((m) => mapContact(sourceId, m, selfContactId));
  if (self && !participants.some((p) => p.nativeId === self.id))
    participants.push(mapContact(sourceId, self, selfContactId));
  return {
    sourceId,
    nativeId: c.id,
    subject,
    status: c.archived_at != null ? 'ARCHIVED' : 'OPEN',
    channel: 'protocol',
    createdAt: fromEpoch(c.created_at),
    updatedAt: null,
    lastMessageAt: fromEpoch(c.last_active_at),
    unreadCount: ctx.unreadCount,
    muted: c.is_muted ?? false,
    pinned: c.is_pinned ?? false,
    archived: c.archived_at != null,
    labels: [],
    participants,
  };
}
