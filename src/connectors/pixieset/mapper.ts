import type { AttachmentModel, ConversationModel, MessageModel, ParticipantModel } from '../types';
import type {
  PixiesetAttachmentDto,
  PixiesetClientDto,
  PixiesetConversationDto,
  PixiesetMessageDto,
  PixiesetParticipantDto,
} from './types';

/** Pure mapping of Pixieset DTOs onto the canonical models (docs/vendors/README.md). */

const time = (s: string | null | undefined) => (s ? new Date(s) : null);

/**
 * docs/vendors/README.md: Pixieset has no avatar URL, only a palette index for clients. The palette is the Studio UI's
 * [inferred]; any stable mapping serves apps that want a colour.
 */
export const PIXIESET_PALETTE = [
  '#E57373',
  '#F06292',
  '#BA68C8',
  '#9575CD',
  '#7986CB',
  '#64B5F6',
  '#4FC3F7',
  '#4DD0E1',
  '#4DB6AC',
  '#81C784',
  '#AED581',
  '#FFB74D',
] as const;
const colour = (i: number | null | undefined) => (i == null ? null : (PIXIESET_PALETTE[((i % 12) + 12) % 12] ?? null));

export function mapParticipant(sourceId: string, p: PixiesetParticipantDto): ParticipantModel {
  return {
    sourceId,
    nativeId: p.id,
    name: p.name ?? null,
    email: p.email ?? null,
    phone: null,
    kind: p.type === 'photographer' ? 'AGENT' : 'CONTACT',
    avatarUrl: null,
    avatarColor: colour(p.avatar_color),
  };
}

export function mapClient(sourceId: string, c: PixiesetClientDto): ParticipantModel {
  const name = [c.first_name, c.last_name].filter(Boolean).join(' ');
  return {
    sourceId,
    nativeId: c.id,
    name: name || null,
    email: c.email ?? null,
    phone: c.phone ?? null,
    kind: 'CONTACT',
    avatarUrl: null,
    avatarColor: colour(c.avatar_color),
  };
}

export function mapAttachment(sourceId: string, a: PixiesetAttachmentDto): AttachmentModel {
  return {
    sourceId,
    nativeId: a.id,
    filename: a.filename ?? null,
    contentType: a.content_type ?? null,
    size: a.file_size ?? null,
    url: a.url ?? null,
  };
}

/** docs/vendors/README.md: client → incoming, photographer → outgoing, system → activity. */
export function mapMessage(
  sourceId: string,
  m: PixiesetMessageDto,
  conversationId: string,
  participants: ParticipantModel[] | null,
): MessageModel {
  const senderId = m.sender_id ?? null;
  const conv = m.conversation_id ?? conversationId;
  return {
    sourceId,
    // Message ids travel with their conversation: only the conversation's detail returns a message.
    nativeId: `${conv}/${m.id}`,
    conversationNativeId: conv,
    content: m.content ?? null,
    sentAt: time(m.sent_at),
    readAt: time(m.read_at),
    direction: m.sender_type === 'client' ? 'INCOMING' : m.sender_type === 'photographer' ? 'OUTGOING' : 'ACTIVITY',
    private: false,
    sender: (senderId && participants?.find((p) => p.nativeId === senderId)) || null,
    senderRef: senderId,
    attachments: m.attachments.map((a) => mapAttachment(sourceId, a)),
  };
}

export function mapConversation(sourceId: string, c: PixiesetConversationDto): ConversationModel {
  const participants = c.participants.map((p) => mapParticipant(sourceId, p));
  const messages = c.messages?.map((m) => mapMessage(sourceId, m, c.id, participants));
  // The newest by sent_at, whatever order the vendor embeds them in (undocumented: docs/vendors/pixieset.md
  // "Assumptions"); the later one on a tie.
  const last = messages?.reduce<MessageModel | undefined>(
    (a, m) => (!a || (m.sentAt?.getTime() ?? 0) >= (a.sentAt?.getTime() ?? 0) ? m : a),
    undefined,
  );
  return {
    sourceId,
    nativeId: c.id,
    subject: c.subject ?? null,
    status: c.status === 'archived' ? 'ARCHIVED' : 'OPEN',
    channel: 'pixieset',
    createdAt: time(c.created_at),
    updatedAt: time(c.updated_at),
    lastMessageAt: time(c.last_message_at) ?? last?.sentAt ?? null,
    unreadCount: c.unread_count ?? 0,
    muted: false,
    pinned: false,
    archived: c.status === 'archived',
    labels: [],
    participants,
    // Only when messages were embedded; otherwise the session loads the detail.
    lastMessage: messages ? (last ?? null) : undefined,
  };
}
