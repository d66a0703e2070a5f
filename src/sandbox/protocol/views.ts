import type { PrAttachment, PrContact, PrConversation, PrGroup, PrMessage, ProtocolState } from './state';

/** Protocol's JSON of stored rows (docs/vendors/protocol.md objects), for answers, the control API and webhooks. */
export class ProtocolViews {
  constructor(
    private readonly state: ProtocolState,
    /** The emulator's own URL: attachments are served from it (`/files/:id/:name`). */
    private readonly baseUrl: () => string,
  ) {}

  readonly contact = (c: PrContact) => ({ ...c });

  readonly group = (g: PrGroup) => {
    const { contact_ids, ...rest } = g;
    return {
      ...rest,
      contacts: contact_ids
        .map((id) => this.state.contacts.get(id))
        .filter((c): c is PrContact => !!c)
        .map(this.contact),
    };
  };

  readonly conversation = (c: PrConversation) => ({ ...c });

  readonly attachment = (a: PrAttachment) => ({
    id: a.id,
    message_id: a.message_id,
    filename: a.filename,
    file_url: `${this.baseUrl()}/files/${a.id}/${encodeURIComponent(a.filename)}`,
    file_type: a.file_type,
    file_size: a.file_size,
    created_at: a.created_at,
  });

  readonly message = (m: PrMessage) => {
    const sender = this.state.contacts.get(m.contact_id);
    return {
      id: m.id,
      conversation_id: m.conversation_id,
      contact: sender ? this.contact(sender) : null,
      message: m.message,
      reactions: m.reactions,
      attachments: m.attachment_ids
        .map((id) => this.state.attachments.get(id))
        .filter((a): a is PrAttachment => !!a)
        .map(this.attachment),
      read_at: m.read_at,
      created_at: m.created_at,
      updated_at: m.updated_at,
    };
  };
}
