import { z } from 'zod';
import { part, rowsOf } from '../decode';

/**
 * The Protocol (CityPay) wire format, docs/vendors/protocol.md. Ids are 16-char base62 strings; timestamps are
 * Unix epoch seconds (integers) and nullable. Objects are loose: unknown keys are allowed, and fields the
 * template's examples sometimes leave out (the contact embedded in a message has no `display_name` or
 * `conversation_id`) are optional. Optional nested parts (`part`: a message's contact, attachments, reactions; a
 * group's contacts) that cannot be read are left out of their object and reported; ids and required fields still fail.
 */
const epoch = z.number().nullish();

export const protocolContact = z.looseObject({
  id: z.string(),
  username: z.string().nullish(),
  phone_number: z.string().nullish(),
  avatar_url: z.string().nullish(),
  /** docs/vendors/protocol.md: null means "use `username`". */
  display_name: z.string().nullish(),
  conversation_id: z.string().nullish(),
  last_active_at: epoch,
  created_at: epoch,
});
export type ProtocolContactDto = z.infer<typeof protocolContact>;

export const protocolGroup = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  description: z.string().nullish(),
  avatar_url: z.string().nullish(),
  conversation_id: z.string().nullish(),
  /** "An array of contact objects that are members of the group" (groups page). */
  contacts: part('contacts', rowsOf(protocolContact).nullish()),
  created_at: epoch,
  archived_at: epoch,
});
export type ProtocolGroupDto = z.infer<typeof protocolGroup>;

export const protocolConversation = z.looseObject({
  id: z.string(),
  contact_id: z.string().nullish(),
  group_id: z.string().nullish(),
  pinned_message_id: z.string().nullish(),
  is_pinned: z.boolean().nullish(),
  is_muted: z.boolean().nullish(),
  last_active_at: epoch,
  /** "last opened by the authenticated user": the only conversation-level read marker (docs/vendors/protocol.md). */
  last_opened_at: epoch,
  created_at: epoch,
  archived_at: epoch,
});
export type ProtocolConversationDto = z.infer<typeof protocolConversation>;

export const protocolAttachment = z.looseObject({
  id: z.string(),
  message_id: z.string().nullish(),
  filename: z.string().nullish(),
  file_url: z.string().nullish(),
  /** A MIME type (docs/vendors/protocol.md), unlike Chatwoot's category. */
  file_type: z.string().nullish(),
  file_size: z.number().nullish(),
  created_at: epoch,
});
export type ProtocolAttachmentDto = z.infer<typeof protocolAttachment>;

export const protocolMessage = z.looseObject({
  id: z.string(),
  conversation_id: z.string(),
  /** "The contact who sent the message"; the API has no other direction marker (docs/vendors/protocol.md). */
  contact: part('contact', protocolContact.nullish()),
  message: z.string().nullish(),
  /** `[{emoji_name: [usernames]}]`; not mapped, so only its being an array is checked. */
  reactions: part('reactions', z.array(z.unknown()).nullish()),
  attachments: part('attachments', rowsOf(protocolAttachment).nullish()),
  read_at: epoch,
  created_at: epoch,
  updated_at: epoch,
});
export type ProtocolMessageDto = z.infer<typeof protocolMessage>;

/** Every list endpoint: `{"has_more": bool, "data": [...]}` (pagination page). */
export const protocolList = <S extends z.ZodType>(item: S) =>
  z.looseObject({ has_more: z.boolean(), data: rowsOf(item) });
export interface ProtocolListDto<T> {
  has_more: boolean;
  data: T[];
}

/** The errors page: `{"type":"api_error"|"invalid_request","message":"...","documentation_url":"..."}`. */
export const protocolError = z.looseObject({
  type: z.string(),
  message: z.string(),
  documentation_url: z.string().nullish(),
});

/** The webhooks page: `{"id":"a056V7R7NmNRjl70","type":"<resource>.<action>","payload":{...full object...}}`. */
export const protocolWebhook = z.looseObject({
  id: z.string().min(1),
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'expected "<resource>.<action>"'),
  payload: z.looseObject({
    id: z.string().nullish(),
    conversation_id: z.string().nullish(),
  }),
});
export type ProtocolWebhookDto = z.infer<typeof protocolWebhook>;
