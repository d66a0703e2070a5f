import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, GatewayError } from '../../errors';
import type { ConversationField, SourceChange, WebhookHeaders, WebhookRequest } from '../types';
import { conversationNativeId, cwTime, mapConversation, mapMessage, messageNativeId } from './mapper';
import { chatwootConversation, chatwootMessage, chatwootWebhook } from './types';

/** docs/vendors/chatwoot.md "Webhooks": the headers a signing Chatwoot (v4.11.2 and later) sends. */
export const SIGNATURE_HEADER = 'x-chatwoot-signature';
export const TIMESTAMP_HEADER = 'x-chatwoot-timestamp';
export const DELIVERY_HEADER = 'x-chatwoot-delivery';
/** A signed delivery older than this is refused (a replay of a captured delivery). */
export const MAX_DELIVERY_AGE_S = 300;
/** A signed delivery dated further ahead than this is refused too (clock skew is allowed up to it). */
export const MAX_DELIVERY_SKEW_S = 60;
/**
 * How long a delivery's replay keys are remembered: past it the timestamp check refuses the delivery anyway, so
 * it only has to outlive the age window plus the allowed skew.
 */
export const DELIVERY_KEY_TTL_MS = (MAX_DELIVERY_AGE_S + MAX_DELIVERY_SKEW_S + 60) * 1000;

export interface ChatwootWebhookConfig {
  sourceId: string;
  accountId: number;
  /** The secret expected as `?token=` in the webhook URL. */
  webhookToken?: string;
  /** The webhook's signing secret (Chatwoot v4.11.2+): deliveries must carry a valid `X-Chatwoot-Signature`. */
  webhookSecret?: string;
  /** The clock the timestamp is checked against (epoch ms). @default Date.now */
  now?: () => number;
  /**
   * Told about every accepted delivery that names a conversation: its conversation's `updated_at` (epoch ms;
   * conversation events) or `message: true` (message events, which need a re-read), and for `message_created` the
   * message it names (`created`: the echo of the gateway's own send is not re-read, apply.ts). The connector uses it
   * to skip re-reads the catalog already covers (index.ts).
   */
  observe?: (o: {
    conversationNativeId: string;
    updatedAt: number | null;
    message: boolean;
    created?: { messageNativeId: string; sentAt: number | null };
  }) => void;
}

const wholeSeconds = (d: Date | null): number | null => (d ? Math.floor(d.getTime() / 1000) * 1000 : null);

/** Equal-time comparison of two secrets of any length (digests first, so lengths do not leak). */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

const header = (req: WebhookHeaders, name: string): string | undefined => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.trim();
};

const forbidden = (source: string, why: string) =>
  new GatewayError(ErrorCode.FORBIDDEN, `Webhook for source "${source}" rejected: ${why}.`, { source });

/**
 * docs/vendors/chatwoot.md "Webhooks": `sha256=` + hex HMAC-SHA256 of `"{X-Chatwoot-Timestamp}.{raw body}"` with
 * the webhook's secret (Chatwoot PR #13573, v4.11.2). Exported for tests.
 */
export function signChatwootWebhook(rawBody: Buffer | string, timestamp: string | number, secret: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  return `sha256=${mac}`;
}

/**
 * Checks `X-Chatwoot-Signature` against the timestamp and the raw body, in constant time, and the timestamp
 * against the clock: older than {@link MAX_DELIVERY_AGE_S} or more than {@link MAX_DELIVERY_SKEW_S} ahead is a
 * replay (or a broken clock). Every failure is FORBIDDEN.
 */
function verifySignature(source: string, secret: string, req: WebhookRequest, now: number): void {
  const { stamp, hex } = signatureHeaders(source, req, now);
  const expected = Buffer.from(signChatwootWebhook(req.rawBody, stamp, secret).slice('sha256='.length), 'hex');
  const actual = Buffer.from(hex.toLowerCase(), 'hex');
  if (!timingSafeEqual(actual, expected)) throw forbidden(source, 'the signature does not match the body');
}

/** The signature headers' presence, form and timestamp window: everything but the HMAC, which needs the body. */
function signatureHeaders(source: string, req: WebhookHeaders, now: number): { stamp: string; hex: string } {
  const given = header(req, SIGNATURE_HEADER);
  const stamp = header(req, TIMESTAMP_HEADER);
  if (!given || !stamp) {
    throw forbidden(source, `a webhookSecret is configured and the delivery is not signed (${SIGNATURE_HEADER})`);
  }
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(given);
  if (!/^\d{1,12}$/.test(stamp) || !m) throw forbidden(source, 'the signature or timestamp is malformed');
  const age = Math.floor(now / 1000) - Number(stamp);
  if (age > MAX_DELIVERY_AGE_S) throw forbidden(source, `the delivery is older than ${MAX_DELIVERY_AGE_S} s`);
  if (-age > MAX_DELIVERY_SKEW_S) throw forbidden(source, 'the delivery is dated in the future');
  return { stamp, hex: m[1] as string };
}

/**
 * What can be refused before the body is read (server/webhooks.ts reads none for a delivery refused here): no
 * receiver configured, a wrong or missing URL token, missing or malformed signature headers, a stale timestamp.
 */
export function checkChatwootWebhookHeaders(config: ChatwootWebhookConfig, req: WebhookHeaders): void {
  const source = config.sourceId;
  if (!config.webhookToken && !config.webhookSecret) {
    throw forbidden(source, 'neither a webhookToken nor a webhookSecret is configured');
  }
  if (config.webhookToken) {
    const token = req.query.token;
    if (typeof token !== 'string' || !sameSecret(token, config.webhookToken)) {
      throw forbidden(source, 'the webhook token is missing or wrong');
    }
  }
  if (config.webhookSecret) signatureHeaders(source, req, (config.now ?? Date.now)());
}

/**
 * The keys that identify one delivery, for the gateway to refuse it a second time (server/webhooks.ts): its
 * `X-Chatwoot-Delivery` id (stable per delivery) and, for a signed one, its signature (the delivery id is not
 * signed, so a replay with a fresh id still repeats the signature). Only meaningful once
 * {@link parseChatwootWebhook} accepted the delivery. An unsigned, id-less delivery (Chatwoot before v4.11.2) has
 * none: its events are deduplicated by event id only.
 */
export function chatwootDeliveryKeys(config: Pick<ChatwootWebhookConfig, 'webhookSecret'>, req: WebhookRequest) {
  const keys: string[] = [];
  const delivery = header(req, DELIVERY_HEADER);
  if (delivery && /^[A-Za-z0-9._:-]{1,128}$/.test(delivery)) keys.push(`delivery:${delivery}`);
  const signature = header(req, SIGNATURE_HEADER);
  if (config.webhookSecret && signature) keys.push(`signature:${signature.toLowerCase()}`);
  return keys;
}

/** Contact fields the inbox shows: `blocked` is its conversations' `muted`, the rest is the participant. */
const SHOWN_CONTACT_FIELDS = new Set(['blocked', 'name', 'email', 'phone_number']);

/**
 * Whether a contact_updated delivery's `changed_attributes` (`[{<attr>: {previous_value, current_value}}]`,
 * docs/vendors/chatwoot.md) touch a field the inbox shows. Without the list (or in a shape not understood) it may.
 */
function showsOnConversations(changed: unknown): boolean {
  if (!Array.isArray(changed)) return true;
  return changed.some(
    (entry) =>
      typeof entry !== 'object' || entry === null || Object.keys(entry).some((k) => SHOWN_CONTACT_FIELDS.has(k)),
  );
}

/**
 * docs/live.md "Thread events": a message event's `Message#webhook_data` is the message itself (docs/vendors/chatwoot.md
 * "Webhooks"), so the change carries it as a typed event; a body the mapper cannot read carries none (the change
 * still announces the conversation).
 */
function threadEvents(
  config: ChatwootWebhookConfig,
  event: 'message_created' | 'message_updated',
  json: unknown,
  displayId: number,
): Pick<SourceChange, 'events'> {
  const parsed = chatwootMessage.safeParse(json);
  if (!parsed.success) return {};
  try {
    const message = mapMessage({ sourceId: config.sourceId, accountId: config.accountId }, parsed.data, {
      conversationDisplayId: displayId,
    });
    const at = event === 'message_created' ? (message.sentAt?.getTime() ?? Date.now()) : Date.now();
    // docs/vendors/chatwoot.md "Delete msg": a deletion is a soft delete, reported as message_updated with
    // `content_attributes.deleted` (messages_controller.rb#destroy).
    const attributes = (parsed.data as { content_attributes?: unknown }).content_attributes;
    const deleted =
      typeof attributes === 'object' && attributes !== null && 'deleted' in attributes && !!attributes.deleted;
    const kind = event === 'message_created' ? 'MessageAdded' : deleted ? 'MessageDeleted' : 'MessageUpdated';
    return { events: [{ kind, message, at }] };
  } catch {
    return {};
  }
}

/**
 * `changed_attributes` keys (Conversation#previous_changes, `[{<attr>: {previous_value, current_value}}]` by
 * BaseListener#extract_changed_attributes) that are a {@link ConversationField}: `status` and `label_list` (both in
 * Conversation#list_of_keys, app/models/conversation.rb). Mute is the contact's `blocked` (contact_updated, which
 * names no conversation); Chatwoot has no pin, archive or editable subject.
 */
const CONVERSATION_FIELDS: Record<string, ConversationField> = { status: 'STATUS', label_list: 'LABELS' };

function changedFields(event: string, changed: unknown): ConversationField[] {
  const fields = new Set<ConversationField>();
  // conversation_status_changed is dispatched only for `saved_change_to_status?` (Conversation#notify_status_change),
  // whatever its changed_attributes say (`status_change`, which may be empty after the commit).
  if (event === 'conversation_status_changed') fields.add('STATUS');
  if (Array.isArray(changed)) {
    for (const entry of changed) {
      if (typeof entry !== 'object' || entry === null) continue;
      for (const k of Object.keys(entry)) {
        const f = CONVERSATION_FIELDS[k];
        if (f) fields.add(f);
      }
    }
  }
  return [...fields];
}

/**
 * docs/live.md "Thread events": conversation_status_changed and conversation_updated carry the conversation's
 * `push_data` (Conversation#webhook_data, Conversations::EventDataPresenter) and `changed_attributes`; the change
 * carries a ConversationUpdated naming the {@link ConversationField}s among them (none: no event, e.g. an assignee or
 * priority change). push_data is mapped as the REST conversation is, with its differences (docs/vendors/chatwoot.md
 * "Webhooks"): `muted` is `meta.sender.blocked`, `channel` is top-level, and its `messages` holds the last *chat*
 * message where REST's last message may be a note, so the event leaves the last message to be read. Its
 * `updated_at` is the REST one (`updated_at.to_f` in both), so the event of the gateway's own write and its webhook
 * share an identity (live/events.ts `eventIdentity`). Chatwoot sends no webhook for reads (`update_column`, and
 * CONVERSATION_READ has no WebhookListener method), so no ConversationRead comes from here.
 */
function conversationEvents(
  config: ChatwootWebhookConfig,
  event: string,
  json: Record<string, unknown>,
): Pick<SourceChange, 'events'> {
  const fields = changedFields(event, json.changed_attributes);
  if (fields.length === 0) return {};
  const meta = (typeof json.meta === 'object' && json.meta !== null ? json.meta : {}) as Record<string, unknown>;
  const sender = meta.sender as { blocked?: unknown } | null | undefined;
  const { messages: _chat, ...rest } = json;
  const parsed = chatwootConversation.safeParse({
    ...rest,
    meta: { ...meta, channel: meta.channel ?? json.channel },
    muted: sender?.blocked === true,
  });
  if (!parsed.success) return {};
  try {
    const conversation = mapConversation({ sourceId: config.sourceId, accountId: config.accountId }, parsed.data);
    return {
      events: [
        {
          kind: 'ConversationUpdated',
          conversation,
          changedFields: fields,
          at: conversation.updatedAt?.getTime() ?? Date.now(),
        },
      ],
    };
  } catch {
    return {};
  }
}

/**
 * Authenticates and parses one Chatwoot delivery (docs/vendors/chatwoot.md "Webhooks").
 *
 * Authentication, by what is configured:
 * - `webhookSecret` alone: the delivery must be signed (`X-Chatwoot-Signature` over `X-Chatwoot-Timestamp` and
 *   the raw body, checked in constant time) and at most 5 minutes old; a URL token is not needed.
 * - `webhookToken` alone: the URL must carry `?token=<webhookToken>` (Chatwoot before v4.11.2 signs nothing, and on
 *   Chatwoot Cloud the secret shown may not verify); signature headers are not checked.
 * - both: both must hold.
 * - neither: every delivery is refused.
 * Every refusal is FORBIDDEN (HTTP 403, nothing published). Repeated deliveries are refused by the gateway through
 * {@link chatwootDeliveryKeys}.
 *
 * Returns one change per delivery about a conversation; events that say nothing about conversations (inbox_*,
 * webwidget_triggered, typing) return none. Chatwoot's events carry no event id, so `eventId` is derived from what
 * identifies the change: the conversation's `updated_at` (a float that moves on every write), a message's
 * `created_at`, and for `message_updated` and `contact_updated` (which carry no update time) a digest of the body.
 */
export function parseChatwootWebhook(config: ChatwootWebhookConfig, req: WebhookRequest): SourceChange[] {
  const source = config.sourceId;
  checkChatwootWebhookHeaders(config, req);
  if (config.webhookSecret) verifySignature(source, config.webhookSecret, req, (config.now ?? Date.now)());

  let json: unknown;
  try {
    json = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `The webhook body for source "${source}" is not JSON.`, {
      source,
    });
  }
  const parsed = chatwootWebhook.safeParse(json);
  if (!parsed.success) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      `The webhook body for source "${source}" is not a Chatwoot event.`,
      { source },
    );
  }
  const body = parsed.data;
  const digest = () => createHash('sha256').update(req.rawBody).digest('hex').slice(0, 16);

  switch (body.event) {
    case 'message_created':
    case 'message_updated': {
      // Message webhook_data: `account:{id}` and the conversation's push_data under `conversation`.
      if (body.account && body.account.id !== config.accountId) return [];
      if (!body.conversation || body.id === undefined) {
        throw new GatewayError(
          ErrorCode.BAD_USER_INPUT,
          `A ${body.event} webhook for source "${source}" names no conversation.`,
          { source },
        );
      }
      const stamp = body.event === 'message_created' && body.created_at != null ? String(body.created_at) : digest();
      const nativeId = conversationNativeId(config.accountId, body.conversation.id);
      config.observe?.({
        conversationNativeId: nativeId,
        updatedAt: null,
        message: true,
        ...(body.event === 'message_created'
          ? {
              created: {
                messageNativeId: messageNativeId(config.accountId, body.conversation.id, body.id),
                // Whole seconds, as the API's `created_at` and `last_activity_at` (`to_i`) the catalog holds; the
                // webhook's is the time itself (Message#webhook_data).
                sentAt: wholeSeconds(cwTime(body.created_at)),
              },
            }
          : {}),
      });
      return [
        {
          sourceId: source,
          conversationNativeId: nativeId,
          eventId: `${body.event}:${body.id}:${stamp}`,
          ...threadEvents(config, body.event, json, body.conversation.id),
        },
      ];
    }
    case 'conversation_created':
    case 'conversation_status_changed':
    case 'conversation_updated': {
      // Conversation push_data: `id` is the display id; it carries no account, the webhook is per account.
      if (body.id === undefined) {
        throw new GatewayError(
          ErrorCode.BAD_USER_INPUT,
          `A ${body.event} webhook for source "${source}" has no conversation id.`,
          { source },
        );
      }
      const stamp = body.updated_at ?? body.created_at ?? digest();
      const nativeId = conversationNativeId(config.accountId, body.id);
      const updatedAt = typeof body.updated_at === 'number' ? (cwTime(body.updated_at)?.getTime() ?? null) : null;
      config.observe?.({ conversationNativeId: nativeId, updatedAt, message: false });
      return [
        {
          sourceId: source,
          conversationNativeId: nativeId,
          eventId: `${body.event}:${body.id}:${String(stamp)}`,
          ...(body.event === 'conversation_created' ? {} : conversationEvents(config, body.event, json as never)),
        },
      ];
    }
    case 'contact_updated':
      // Chatwoot updates a contact on every message the contact sends (Message#update_contact_activity sets
      // last_activity_at with `update`, which dispatches contact_updated), so most deliveries change nothing the
      // inbox shows: those whose `changed_attributes` name none of its fields are ignored.
      if (!showsOnConversations(body.changed_attributes)) return [];
      // A contact's `blocked` is every one of its conversations' `muted` (docs/vendors/chatwoot.md "Mute"), and its name,
      // email and phone are their participant: which conversations is unknown here, so report a source-wide change.
      return [{ sourceId: source, conversationNativeId: null, eventId: `${body.event}:${body.id ?? '?'}:${digest()}` }];
    default:
      return [];
  }
}
