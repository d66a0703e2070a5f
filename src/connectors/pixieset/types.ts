import { z } from 'zod';
import { part, partOr, rowsOf } from '../decode';

/**
 * Pixieset Studio wire DTOs (seed 000, docs/vendors/pixieset.md). Unknown keys are allowed; missing required ones are
 * not. Optional nested parts (`part`: attachments, participants, messages) that cannot be read are left out of their
 * object and reported; a bad row of them is left out alone (`rowsOf`).
 */

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 time');

export const pixiesetAttachment = z.looseObject({
  id: z.string(),
  filename: z.string().nullish(),
  file_size: z.number().nullish(),
  content_type: z.string().nullish(),
  url: z.string().nullish(),
});
type PixiesetAttachmentRow = z.output<typeof pixiesetAttachment>;
export const pixiesetMessage = z.looseObject({
  id: z.string(),
  conversation_id: z.string().optional(),
  content: z.string().nullish(),
  sent_at: isoTime.nullish(),
  read_at: isoTime.nullish(),
  sender_type: z.enum(['client', 'photographer', 'system']),
  sender_id: z.string().nullish(),
  attachments: partOr('attachments', rowsOf(pixiesetAttachment).default([]), (): PixiesetAttachmentRow[] => []),
});
export const pixiesetParticipant = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  email: z.string().nullish(),
  type: z.string(),
  avatar_color: z.number().int().nullish(),
});
type PixiesetParticipantRow = z.output<typeof pixiesetParticipant>;
export const pixiesetConversation = z.looseObject({
  id: z.string(),
  client_id: z.string().nullish(),
  subject: z.string().nullish(),
  created_at: isoTime.nullish(),
  updated_at: isoTime.nullish(),
  last_message_at: isoTime.nullish(),
  status: z.enum(['active', 'archived']),
  unread_count: z.number().int().min(0).nullish(),
  participants: partOr('participants', rowsOf(pixiesetParticipant).default([]), (): PixiesetParticipantRow[] => []),
  messages: part('messages', rowsOf(pixiesetMessage).optional()),
});
export const pixiesetListResponse = z.object({
  data: rowsOf(pixiesetConversation),
  meta: z.looseObject({
    current_page: z.number().int(),
    per_page: z.number().int(),
    total: z.number().int(),
    last_page: z.number().int(),
  }),
});
export const pixiesetDetailResponse = z.object({ data: pixiesetConversation });
export const pixiesetUnreadResponse = z.object({
  data: z.object({ unread_count: z.number().int(), conversations_with_unread: z.number().int() }),
});
export const pixiesetMessageResponse = z.object({ data: pixiesetMessage });
export const pixiesetUploadResponse = z.object({
  data: z.object({
    upload_url: z.string(),
    attachment_id: z.string(),
    upload_fields: z.record(z.string(), z.string()),
    method: z.string(),
  }),
});
export const pixiesetClientResponse = z.object({
  data: z.looseObject({
    id: z.string(),
    first_name: z.string().nullish(),
    last_name: z.string().nullish(),
    email: z.string().nullish(),
    phone: z.string().nullish(),
    avatar_color: z.number().int().nullish(),
    type: z.string().nullish(),
  }),
});
/** Error bodies: `{error, code}` for API errors, `{error, message}` for auth errors. */
export const pixiesetError = z.looseObject({
  error: z.string().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  max_size: z.number().optional(),
});

export type PixiesetAttachmentDto = z.output<typeof pixiesetAttachment>;
export type PixiesetMessageDto = z.output<typeof pixiesetMessage>;
export type PixiesetParticipantDto = z.output<typeof pixiesetParticipant>;
export type PixiesetConversationDto = z.output<typeof pixiesetConversation>;
export type PixiesetClientDto = z.output<typeof pixiesetClientResponse>['data'];
