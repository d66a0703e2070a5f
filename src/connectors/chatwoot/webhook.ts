import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, GatewayError } from '../../errors';
import type { SourceChange, WebhookRequest } from '../types';
import { conversationNativeId } from './mapper';
import { cwWebhook } from './types';

export interface ChatwootWebhookConfig {
  sourceId: string;
  accountId: number;
  /** The secret expected as `?token=` in the webhook URL. */
  webhookToken?: string;
}

/** Equal-time comparison of two secrets of any length (digests first, so lengths do not leak). */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
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
 * docs/vendors/chatwoot.md "Webhooks": Chatwoot signs nothing, so the only proof a delivery is ours is the secret token we
 * put in the URL we registered ([inferred] §5 "Webhook verification"). Without a configured token every delivery
 * is refused. Returns one change per delivery about a conversation; events that say nothing about
 * conversations (inbox_*, webwidget_triggered, typing) return none.
 *
 * Chatwoot sends no event id, so `eventId` is derived from what identifies the change: the conversation's
 * `updated_at` (a float that moves on every write), a message's `created_at`, and for `message_updated` and
 * `contact_updated` (which carry no update time) a digest of the body.
 */
export function parseChatwootWebhook(config: ChatwootWebhookConfig, req: WebhookRequest): SourceChange[] {
  const source = config.sourceId;
  const token = req.query.token;
  if (!config.webhookToken || typeof token !== 'string' || !sameSecret(token, config.webhookToken)) {
    throw new GatewayError(ErrorCode.FORBIDDEN, `The webhook token for source "${source}" is missing or wrong.`, {
      source,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `The webhook body for source "${source}" is not JSON.`, {
      source,
    });
  }
  const parsed = cwWebhook.safeParse(json);
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
      return [
        {
          sourceId: source,
          conversationNativeId: conversationNativeId(config.accountId, body.conversation.id),
          eventId: `${body.event}:${body.id}:${stamp}`,
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
      return [
        {
          sourceId: source,
          conversationNativeId: conversationNativeId(config.accountId, body.id),
          eventId: `${body.event}:${body.id}:${String(stamp)}`,
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
