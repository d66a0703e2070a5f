import { z } from 'zod';
import { part, partOr, rowsOf } from '../decode';

/**
 * Chatwoot Application API wire DTOs (docs/vendors/chatwoot.md, jbuilder views at bdcb1934c). Unknown keys are allowed;
 * the fields the mapper reads are checked. Chatwoot serializes `nil.to_i` as 0, so epoch fields are numbers
 * where 0 means null (the mapper turns 0 into null). Lists decode row by row (`rowsOf`): one odd row is left out
 * and reported, never the whole page. Optional nested parts (`part`: a sender, an assignee, the last message, the
 * attachments) that cannot be read are left out of their object and reported; ids and required fields still fail.
 */

/** docs/vendors/chatwoot.md: REST epochs are integer seconds; message `created_at` is an ISO string in webhooks. */
const epochOrIso = z.union([z.number(), z.string()]);

export const chatwootAttachment = z.looseObject({
  id: z.number(),
  message_id: z.number().nullish(),
  /** A category (image|audio|video|file|location|…), not a MIME type (docs/vendors/chatwoot.md "Attachment"). */
  file_type: z.string().nullish(),
  extension: z.string().nullish(),
  data_url: z.string().nullish(),
  thumb_url: z.string().nullish(),
  file_size: z.number().nullish(),
});

/**
 * A message sender: contact (`type: "contact"`, or no `type` in webhooks), user (`type: "user"`), agent bot
 * (`type: "agent_bot"`) or Captain assistant (`type: "captain_assistant"`, Enterprise/Cloud) (docs/vendors/chatwoot.md
 * "Message", "Sender webhook shapes", "Bots").
 */
export const chatwootSender = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  available_name: z.string().nullish(),
  email: z.string().nullish(),
  phone_number: z.string().nullish(),
  thumbnail: z.string().nullish(),
  avatar_url: z.string().nullish(),
  type: z.string().nullish(),
});

export const chatwootMessage = z.looseObject({
  id: z.number(),
  content: z.string().nullish(),
  /** Display id of the conversation. */
  conversation_id: z.number().nullish(),
  /** docs/vendors/chatwoot.md: int in REST (0..3), string in webhooks. */
  message_type: z.union([z.number().int(), z.string()]),
  content_type: z.string().nullish(),
  content_attributes: part('content_attributes', z.record(z.string(), z.unknown()).nullish()),
  created_at: epochOrIso,
  private: z.boolean().nullish(),
  status: z.string().nullish(),
  sender: part('sender', chatwootSender.nullish()),
  /** docs/vendors/chatwoot.md: the key is absent when there are none. */
  attachments: part('attachments', rowsOf(chatwootAttachment).optional()),
});

/** meta.sender: the `api/v1/models/contact` partial. */
export const chatwootContact = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  email: z.string().nullish(),
  phone_number: z.string().nullish(),
  thumbnail: z.string().nullish(),
  blocked: z.boolean().nullish(),
});

/** meta.assignee: the `api/v1/models/agent` partial (`thumbnail` is the avatar URL). */
export const chatwootAgent = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  available_name: z.string().nullish(),
  email: z.string().nullish(),
  thumbnail: z.string().nullish(),
  avatar_url: z.string().nullish(),
});

export const chatwootAgentBot = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  thumbnail: z.string().nullish(),
});

export const chatwootConversation = z.looseObject({
  /** The display id (per account), not the DB id (docs/vendors/chatwoot.md "IDs"). */
  id: z.number(),
  account_id: z.number().optional(),
  inbox_id: z.number().nullish(),
  meta: z.looseObject({
    sender: part('sender', chatwootContact.nullish()),
    /**
     * The assigned entity: an agent (the `agent` partial in REST, `User#push_event_data` in webhooks) or an agent
     * bot (`agent_bot_slim` in REST, `AgentBot#push_event_data` with `type: "agent_bot"` in webhooks), told apart by
     * `assignee_type` (docs/vendors/chatwoot.md "Bots").
     */
    assignee: part('assignee', chatwootAgent.nullish()),
    /** "User" or "AgentBot" (`_conversation.json.jbuilder`, `Conversations::EventDataPresenter#push_meta`). */
    assignee_type: z.string().nullish(),
    channel: z.string().nullish(),
  }),
  /** docs/vendors/chatwoot.md: the last message only (push_event_data shape). */
  messages: part('messages', rowsOf(chatwootMessage).optional()),
  labels: partOr('labels', z.array(z.string()).default([]), (): string[] => []),
  muted: z.boolean().nullish(),
  status: z.enum(['open', 'resolved', 'pending', 'snoozed']),
  additional_attributes: part('additional_attributes', z.record(z.string(), z.unknown()).nullish()),
  agent_last_seen_at: z.number().nullish(),
  created_at: z.number().nullish(),
  /** docs/vendors/chatwoot.md: a float epoch (`updated_at.to_f`). */
  updated_at: z.number().nullish(),
  timestamp: z.number().nullish(),
  last_activity_at: z.number().nullish(),
  unread_count: z.number().int().min(0).nullish(),
  /** A message, or null; the seed's example shows `{}` for "none", read as null too. */
  last_non_activity_message: part(
    'last_non_activity_message',
    z.preprocess(
      (v) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 ? null : v),
      chatwootMessage.nullish(),
    ),
  ),
});

export const chatwootCounts = z.looseObject({
  mine_count: z.number().optional(),
  assigned_count: z.number().optional(),
  unassigned_count: z.number().optional(),
  all_count: z.number(),
});

export const chatwootConversationList = z.object({
  data: z.object({ meta: chatwootCounts, payload: rowsOf(chatwootConversation) }),
});

/** `POST /conversations/filter`: `{meta, payload}`, without the list's `data` wrapper (filter.json.jbuilder). */
export const chatwootFilterPage = z.object({ meta: z.looseObject({}), payload: rowsOf(chatwootConversation) });
/**
 * `GET /conversations/unread_counts` (docs/vendors/chatwoot.md "Unread semantics"): per inbox, the number of open
 * conversations with unread incoming messages (positive counts only); labels and teams likewise.
 */
export const chatwootUnreadCounts = z.object({
  payload: z.looseObject({ inboxes: z.record(z.string(), z.number().int().nonnegative()) }),
});

export const chatwootMessageList = z.object({
  meta: z.looseObject({
    /** Raw Rails time here (ISO string or null), unlike the conversation's epoch (docs/vendors/chatwoot.md messages index). */
    agent_last_seen_at: z.string().nullish(),
  }),
  payload: rowsOf(chatwootMessage),
});

export const chatwootContactShow = z.object({ payload: chatwootContact });
/**
 * `GET /contacts` (contacts/index.json.jbuilder): `{meta: {count, current_page}, payload: [contact]}`, `count` the
 * total; rows decode one by one (connectors/chatwoot/contacts.ts).
 */
export const chatwootContactList = z.object({
  meta: z.looseObject({ count: z.number().int().nonnegative() }),
  payload: rowsOf(chatwootContact),
});
export const chatwootAgentList = z.array(chatwootAgent);
export const chatwootLabels = z.object({ payload: z.array(z.string()) });
export const chatwootToggleStatus = z.object({
  payload: z.looseObject({ success: z.boolean().optional(), current_status: z.string().optional() }),
});

/** docs/vendors/chatwoot.md "Errors": `{error}` for most failures, `{message, attributes}` for validation. */
export const chatwootError = z.looseObject({
  error: z.string().optional(),
  message: z.string().optional(),
  attributes: z.array(z.string()).optional(),
});

/** Webhook deliveries (docs/vendors/chatwoot.md "Webhooks"): conversation push_data or message webhook_data, plus `event`. */
export const chatwootWebhook = z.looseObject({
  event: z.string(),
  id: z.number().optional(),
  account: z.looseObject({ id: z.number() }).nullish(),
  conversation: z.looseObject({ id: z.number() }).nullish(),
  created_at: epochOrIso.nullish(),
  updated_at: epochOrIso.nullish(),
});

export type ChatwootAttachmentDto = z.output<typeof chatwootAttachment>;
export type ChatwootSenderDto = z.output<typeof chatwootSender>;
export type ChatwootMessageDto = z.output<typeof chatwootMessage>;
export type ChatwootContactDto = z.output<typeof chatwootContact>;
export type ChatwootAgentDto = z.output<typeof chatwootAgent>;
export type ChatwootAgentBotDto = z.output<typeof chatwootAgentBot>;
export type ChatwootConversationDto = z.output<typeof chatwootConversation>;
export type ChatwootConversationListDto = z.output<typeof chatwootConversationList>;
export type ChatwootMessageListDto = z.output<typeof chatwootMessageList>;
export type ChatwootWebhookDto = z.output<typeof chatwootWebhook>;
