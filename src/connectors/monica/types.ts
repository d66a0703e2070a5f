import { z } from 'zod';
import { part, rowsOf } from '../decode';

/**
 * Monica 4.x wire DTOs (docs/vendors/monica.md). Loose objects: Monica adds keys between versions (`uuid`,
 * `url`, `is_me`…), and the gateway must not break on them. Only what the mapper reads is required. Optional nested
 * parts (`part`: a contact's information and fields, a message's contact) that cannot be read are left out of their
 * object and reported; ids and required fields still fail.
 */

const str = z.string().nullish();

/** `information.avatar`: 4.x code sends `{url, source, default_avatar_color}`, the docs `{has_avatar, avatar_url, …}` (docs/vendors/monica.md: accept both). */
export const monicaAvatar = z.looseObject({
  url: str,
  avatar_url: str,
  has_avatar: z.boolean().nullish(),
  source: str,
  default_avatar_color: str,
});

export const monicaContactFieldType = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  fontawesome_icon: str,
  protocol: str,
  delible: z.boolean().nullish(),
  /** `email`, `phone` or null for the social ones. */
  type: str,
  created_at: str,
  updated_at: str,
});

/** One of a contact's fields, present with `?with=contactfields` (docs/vendors/monica.md). */
export const monicaContactField = z.looseObject({
  id: z.number().int(),
  content: str,
  contact_field_type: monicaContactFieldType,
});

/** ContactShort, or the full Contact (the mapper reads the same keys from both). */
export const monicaContact = z.looseObject({
  id: z.number().int(),
  hash_id: str,
  first_name: str,
  last_name: str,
  nickname: str,
  complete_name: str,
  initials: str,
  is_me: z.boolean().nullish(),
  /** false for an archived contact, whose conversations Monica refuses to write (docs/vendors/monica.md "Errors"). */
  is_active: z.boolean().nullish(),
  information: part('information', z.looseObject({ avatar: part('avatar', monicaAvatar.nullish()) }).nullish()),
  contactFields: part('contactFields', rowsOf(monicaContactField).nullish()),
});

export const monicaMessage = z.looseObject({
  id: z.number().int(),
  content: str,
  /** A date-time `Y-m-d\TH:i:s\Z` with a real time of day (midnight when logged in the web UI), docs/vendors/monica.md "Timestamps". */
  written_at: z.string(),
  written_by_me: z.boolean(),
  contact: part('contact', monicaContact.nullish()),
  conversation: part('conversation', z.looseObject({ id: z.number().int() }).nullish()),
  created_at: str,
  updated_at: str,
});

export const monicaConversation = z.looseObject({
  id: z.number().int(),
  /** A date-time `Y-m-d\TH:i:s\Z`, like written_at (docs/vendors/monica.md "Timestamps"). */
  happened_at: z.string(),
  /** Every message, in DB order (docs/vendors/monica.md: no orderBy on the relation). */
  messages: rowsOf(monicaMessage),
  contact_field_type: monicaContactFieldType,
  contact: monicaContact,
  created_at: str,
  updated_at: str,
});

/** `GET /me`: the account user (4.x `Resources/Account/User/User.php`). */
export const monicaUser = z.looseObject({
  id: z.number().int(),
  first_name: str,
  last_name: str,
  name: str,
  email: str,
  me_contact: part('me_contact', monicaContact.nullish()),
});

/** Laravel paginator envelope (docs/vendors/monica.md "Pagination"). */
export const monicaPage = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    data: rowsOf(item),
    links: z.looseObject({ next: str }).nullish(),
    meta: z.looseObject({
      current_page: z.number().int(),
      last_page: z.number().int(),
      per_page: z.number().int().nullish(),
      total: z.number().int(),
    }),
  });

export const monicaConversationPage = monicaPage(monicaConversation);
export const monicaContactFieldTypePage = monicaPage(monicaContactFieldType);
/** `GET /contacts` (ApiContactController::index): full contacts, with `contactFields` when asked (`with=contactfields`). */
export const monicaContactPage = monicaPage(monicaContact);
export const monicaConversationEnvelope = z.looseObject({ data: monicaConversation });
export const monicaContactEnvelope = z.looseObject({ data: monicaContact });
export const monicaUserEnvelope = z.looseObject({ data: monicaUser });
export const monicaDeleted = z.looseObject({ deleted: z.boolean(), id: z.number().int() });

/** `{"error":{"message": string | string[], "error_code": int}}` (docs/vendors/monica.md "Errors"). */
export const monicaError = z.looseObject({
  error: z.looseObject({
    message: z.union([z.string(), z.array(z.string())]).nullish(),
    error_code: z.number().int(),
  }),
});

export type MonicaAvatarDto = z.infer<typeof monicaAvatar>;
export type MonicaContactFieldTypeDto = z.infer<typeof monicaContactFieldType>;
export type MonicaContactDto = z.infer<typeof monicaContact>;
export type MonicaMessageDto = z.infer<typeof monicaMessage>;
export type MonicaConversationDto = z.infer<typeof monicaConversation>;
export type MonicaUserDto = z.infer<typeof monicaUser>;
export type MonicaConversationPageDto = z.infer<typeof monicaConversationPage>;
export type MonicaContactFieldTypePageDto = z.infer<typeof monicaContactFieldTypePage>;

/** Body of POST /conversations (all required, docs/vendors/monica.md). */
export interface MonicaConversationInputDto {
  happened_at: string;
  contact_id: number;
  contact_field_type_id: number;
}
/** Body of PUT /conversations/{id}: both fields required in code, though the docs list only happened_at. */
export interface MonicaConversationUpdateDto {
  happened_at: string;
  contact_field_type_id: number;
}
/** Body of POST/PUT /conversations/{id}/messages[/{id}]; `contact_id` is ignored by the server (docs/vendors/monica.md). */
export interface MonicaMessageInputDto {
  written_at: string;
  written_by_me: boolean;
  content: string;
}
