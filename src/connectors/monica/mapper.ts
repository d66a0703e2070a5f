import type { ConversationModel, MessageModel, ParticipantModel } from '../types';
import type { MonicaContactDto, MonicaConversationDto, MonicaMessageDto, MonicaUserDto } from './types';

/**
 * Monica DTO → canonical model (docs/vendors/README.md, column MO). Pure: no I/O. The account user has no contact id of
 * its own in a conversation, so it is the participant {@link ME_ID}, resolved through `GET /me` by the session.
 */

/** Native participant id of the account user (kind AGENT). */
export const ME_ID = 'me';

/** Native message id: messages exist only inside a conversation and their routes nest under it. */
export const messageNativeId = (conversationId: number | string, messageId: number | string) =>
  `${conversationId}/${messageId}`;

/** Conversation and contact ids are integer auto-increments (docs/vendors/monica.md); anything else cannot exist there. */
export function parseId(nativeId: string): number | null {
  return /^[1-9]\d{0,15}$/.test(nativeId) ? Number(nativeId) : null;
}

export function parseMessageId(nativeId: string): { conversationId: number; messageId: number } | null {
  const m = /^([1-9]\d{0,15})\/([1-9]\d{0,15})$/.exec(nativeId);
  return m ? { conversationId: Number(m[1]), messageId: Number(m[2]) } : null;
}

/** `Y-m-d\TH:i:s\Z` (docs/vendors/monica.md "Timestamps"); null for null or anything unparseable. */
export function parseTimestamp(value: string | null | undefined): Date | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : new Date(t);
}

/**
 * What the gateway sends for `happened_at` / `written_at`: Monica's own `Y-m-d\TH:i:s\Z`, in UTC, to the second.
 * Both are `datetime` columns and the `date` rule accepts a date-time, so the time of day is kept
 * (docs/vendors/monica.md "Timestamps"). Always UTC with `Z`: Eloquent stores the wall-clock time of what it parses
 * and would drop an offset.
 */
export function toMonicaTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The `YYYY-MM-DD` day of a date (UTC). Monica's web UI stores conversations at that day's midnight. */
export function toMonicaDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The date part of a Monica date-time (`1977-06-09T02:00:51Z` → `1977-06-09`). */
export function datePart(value: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(value);
  if (m) return m[1] as string;
  const d = parseTimestamp(value);
  return d ? toMonicaDate(d) : value;
}

const clean = (s: string | null | undefined) => (s && s.trim().length > 0 ? s.trim() : null);

function joinName(first: string | null | undefined, last: string | null | undefined): string | null {
  return clean([clean(first), clean(last)].filter((p) => p !== null).join(' '));
}

function firstField(c: MonicaContactDto, type: string): string | null {
  const f = (c.contactFields ?? []).find((x) => x.contact_field_type.type === type && clean(x.content));
  return clean(f?.content);
}

/** Avatar URL from either shape: `url` (4.x code) or `avatar_url` (docs/seed); `has_avatar:false` means none. */
function avatarOf(c: MonicaContactDto | null | undefined): { url: string | null; color: string | null } {
  const a = c?.information?.avatar;
  if (!a) return { url: null, color: null };
  const url = a.has_avatar === false ? null : (clean(a.url) ?? clean(a.avatar_url));
  return { url, color: clean(a.default_avatar_color) };
}

/**
 * A contact. Email and phone come from `contactFields`, which only the full contact carries
 * (`GET /contacts/{id}?with=contactfields`); the ContactShort embedded in conversations has none, so they
 * are null there (docs/vendors/README.md "Participant": "extra call").
 */
export function mapContact(sourceId: string, c: MonicaContactDto): ParticipantModel {
  const avatar = avatarOf(c);
  return {
    sourceId,
    nativeId: String(c.id),
    name: clean(c.complete_name) ?? joinName(c.first_name, c.last_name) ?? clean(c.nickname),
    email: firstField(c, 'email'),
    phone: firstField(c, 'phone'),
    kind: 'CONTACT',
    avatarUrl: avatar.url,
    avatarColor: avatar.color,
  };
}

/** The account user (`GET /me`); its avatar is its own contact's, when it has one (`me_contact`). */
export function mapMe(sourceId: string, u: MonicaUserDto): ParticipantModel {
  const avatar = avatarOf(u.me_contact);
  return {
    sourceId,
    nativeId: ME_ID,
    name: clean(u.name) ?? joinName(u.first_name, u.last_name) ?? clean(u.me_contact?.complete_name),
    email: clean(u.email),
    phone: null,
    kind: 'AGENT',
    avatarUrl: avatar.url,
    avatarColor: avatar.color,
  };
}

/**
 * Messages oldest first: by `written_at`, then id. The embedded list is in DB order (docs/vendors/monica.md: no
 * orderBy on the relation), and messages logged in Monica's web UI all carry their conversation's midnight, so they
 * tie on `written_at` (docs/vendors/monica.md "Timestamps").
 */
export function sortMessages(messages: readonly MonicaMessageDto[]): MonicaMessageDto[] {
  const key = (m: MonicaMessageDto) => parseTimestamp(m.written_at)?.getTime() ?? 0;
  return [...messages].sort((a, b) => key(a) - key(b) || a.id - b.id);
}

/**
 * One message. Sender (docs/vendors/README.md): the conversation's contact when `written_by_me` is false (embedded, so
 * `sender` is set), else the account user, which is only known through `GET /me` (`senderRef: 'me'`).
 */
export function mapMessage(sourceId: string, conversation: MonicaConversationDto, m: MonicaMessageDto): MessageModel {
  const mine = m.written_by_me;
  return {
    sourceId,
    nativeId: messageNativeId(conversation.id, m.id),
    conversationNativeId: String(conversation.id),
    content: m.content ?? null,
    sentAt: parseTimestamp(m.written_at),
    // docs/vendors/monica.md: Monica has no read state.
    readAt: null,
    direction: mine ? 'OUTGOING' : 'INCOMING',
    private: false,
    sender: mine ? null : mapContact(sourceId, m.contact ?? conversation.contact),
    senderRef: mine ? ME_ID : null,
    attachments: [],
  };
}

/** Every message of a conversation, oldest first. */
export function mapMessages(sourceId: string, c: MonicaConversationDto): MessageModel[] {
  return sortMessages(c.messages).map((m) => mapMessage(sourceId, c, m));
}

/**
 * Subject: Monica conversations have none (docs/vendors/README.md [inferred]); we show the medium and the day it
 * happened, e.g. `Twitter · 1977-06-09`, so the inbox has a line to display and search can match the medium.
 */
export function subjectOf(c: MonicaConversationDto): string {
  return `${c.contact_field_type.name} · ${datePart(c.happened_at)}`;
}

/**
 * A conversation. `participants` is null on purpose: it includes the account user, which costs a
 * `GET /me` that the session makes only when somebody asks ({@link ConnectorSession.loadParticipants}).
 */
export function mapConversation(sourceId: string, c: MonicaConversationDto): ConversationModel {
  const messages = mapMessages(sourceId, c);
  // docs/vendors/README.md: lastMessageAt = max(messages[].written_at), else happened_at.
  let last: Date | null = null;
  for (const m of messages) if (m.sentAt && (!last || m.sentAt > last)) last = m.sentAt;
  return {
    sourceId,
    nativeId: String(c.id),
    subject: subjectOf(c),
    // docs/vendors/README.md: Monica has no status; every conversation is open.
    status: 'OPEN',
    channel: c.contact_field_type.name,
    createdAt: parseTimestamp(c.created_at),
    updatedAt: parseTimestamp(c.updated_at),
    lastMessageAt: last ?? parseTimestamp(c.happened_at),
    // docs/vendors/monica.md: no read state.
    unreadCount: null,
    muted: false,
    pinned: false,
    archived: false,
    labels: [],
    participants: null,
    lastMessage: messages.length > 0 ? (messages[messages.length - 1] as MessageModel) : null,
  };
}

/** Text of a conversation that search matches beside subject and participants: its message contents. */
export function searchableText(c: MonicaConversationDto): string[] {
  return c.messages.map((m) => m.content ?? '');
}
