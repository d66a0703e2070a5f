import { PHOTOGRAPHER, type PixiesetState, type PxConversation, type PxMessage } from './state';

/** docs/vendors/pixieset.md: ISO-8601 UTC with microseconds, Laravel's serialization. */
export const ts = (d: Date | null) => (d ? d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') : null);

/** Pixieset's JSON of stored rows (docs/vendors/pixieset.md): list and detail shapes of a conversation, messages. */
export class PixiesetViews {
  constructor(
    private readonly state: PixiesetState,
    /** The emulator's own URL: attachments are served from it (`/storage/...`). */
    private readonly baseUrl: () => string,
  ) {}

  readonly attachment = (id: string) => {
    const a = this.state.attachments.get(id);
    if (!a) return null;
    return {
      id: a.id,
      filename: a.filename,
      file_size: a.file_size,
      content_type: a.content_type,
      url: `${this.baseUrl()}/storage/attachments/${a.id}/${encodeURIComponent(a.filename)}`,
    };
  };
  readonly message = (m: PxMessage) => ({
    id: m.id,
    conversation_id: m.conversation_id,
    content: m.content,
    sent_at: ts(m.sent_at),
    sender_type: m.sender_type,
    sender_id: m.sender_id,
    read_at: ts(m.read_at),
    attachments: m.attachment_ids.map(this.attachment).filter((a) => a !== null),
  });
  readonly participants = (c: PxConversation, detail: boolean) => {
    const client = this.state.clients.get(c.client_id);
    const out: Array<Record<string, unknown>> = [];
    if (client) {
      out.push({
        id: client.id,
        name: `${client.first_name} ${client.last_name}`,
        email: client.email,
        type: 'client',
        ...(detail ? { avatar_color: client.avatar_color } : {}),
      });
    }
    out.push({ id: PHOTOGRAPHER.id, name: PHOTOGRAPHER.name, email: PHOTOGRAPHER.email, type: 'photographer' });
    return out;
  };
  // The list shape of seed 000 has no created_at/updated_at; the detail shape has them (docs/vendors/pixieset.md).
  readonly list = (c: PxConversation, withMessages: boolean) => ({
    id: c.id,
    client_id: c.client_id,
    subject: c.subject,
    last_message_at: ts(c.last_message_at),
    unread_count: this.state.unreadOf(c),
    status: c.status,
    participants: this.participants(c, false),
    // [inferred] the list embeds the newest message only (the seed's example shows one), the detail all of them.
    ...(withMessages ? { messages: c.messages.slice(-1).map(this.message) } : {}),
  });
  readonly detail = (c: PxConversation, withMessages: boolean) => ({
    id: c.id,
    client_id: c.client_id,
    subject: c.subject,
    created_at: ts(c.created_at),
    updated_at: ts(c.updated_at),
    last_message_at: ts(c.last_message_at),
    status: c.status,
    unread_count: this.state.unreadOf(c),
    participants: this.participants(c, true),
    ...(withMessages ? { messages: c.messages.map(this.message) } : {}),
  });
}
