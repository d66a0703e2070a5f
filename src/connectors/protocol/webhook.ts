import { createHmac, timingSafeEqual } from 'node:crypto';
import { badInput, ErrorCode, GatewayError } from '../../errors';
import { showsLastMessage, type CatalogSync } from '../catalog';
import type { RequestScope, SourceChange, ThreadEventChange, WebhookHeaders, WebhookRequest } from '../types';
import { mapMessage } from './mapper';
import { protocolMessage, protocolWebhook } from './types';

export const SIGNATURE_HEADER = 'x-protocol-signature';

/** Hex HMAC-SHA256 of the raw body with the webhook secret (webhooks page, "Security"). */
export function signProtocolWebhook(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

const forbidden = (sourceId: string, why: string) =>
  new GatewayError(ErrorCode.FORBIDDEN, `Webhook for source "${sourceId}" rejected: ${why}.`, { source: sourceId });

/**
 * What can be refused before the body is read (server/webhooks.ts): no secret configured, no signature header.
 * Returns the signature as given (trimmed, lower case).
 */
export function checkProtocolWebhookHeaders(sourceId: string, secret: string | undefined, req: WebhookHeaders): string {
  if (!secret) throw forbidden(sourceId, 'no webhookSecret is configured, so deliveries cannot be verified');
  const header = req.headers[SIGNATURE_HEADER];
  const given = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase();
  if (!given) throw forbidden(sourceId, `the ${SIGNATURE_HEADER} header is missing`);
  return given;
}

/**
 * Authenticates and parses one Protocol delivery: `{"id","type":"<resource>.<action>","payload":{...}}` signed
 * with `x-protocol-signature`, compared in constant time (docs/vendors/protocol.md). A missing secret, a missing header or a
 * wrong signature is FORBIDDEN; a body that is not the documented envelope is BAD_USER_INPUT.
 *
 * The change names the conversation the event touches: the payload itself for `conversation.*`, its
 * `conversation_id` for messages, contacts and groups (both carry one). Attachments name only their message, so
 * they, and types this code does not know, report `conversationNativeId: null` ("something changed").
 */
export function parseProtocolWebhook(
  sourceId: string,
  secret: string | undefined,
  req: WebhookRequest,
  echoes?: ProtocolWebhookEchoes,
  selfContactId: string | null = null,
): SourceChange[] {
  const given = checkProtocolWebhookHeaders(sourceId, secret, req);
  const expected = Buffer.from(signProtocolWebhook(req.rawBody, secret as string), 'hex');
  const actual = /^[0-9a-f]+$/.test(given) && given.length % 2 === 0 ? Buffer.from(given, 'hex') : Buffer.alloc(0);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw forbidden(sourceId, `the ${SIGNATURE_HEADER} signature does not match the body`);
  }

  let json: unknown;
  try {
    json = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw badInput(`Webhook for source "${sourceId}" is not valid JSON.`);
  }
  const parsed = protocolWebhook.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw badInput(
      `Webhook for source "${sourceId}" is not a Protocol event: at ${at}, ${issue?.message ?? 'unexpected shape'}.`,
    );
  }
  const { id, type, payload } = parsed.data;
  const resource = type.slice(0, type.indexOf('.'));
  let conversationNativeId: string | null = null;
  if (resource === 'conversation') conversationNativeId = payload.id ?? null;
  else if (resource === 'message' || resource === 'contact' || resource === 'group') {
    conversationNativeId = payload.conversation_id ?? null;
  }
  if (conversationNativeId !== null) {
    const createdAt = (payload as { created_at?: unknown }).created_at;
    echoes?.observe(
      conversationNativeId,
      type === 'message.created' && payload.id
        ? { messageNativeId: payload.id, sentAt: typeof createdAt === 'number' ? createdAt * 1000 : null }
        : undefined,
    );
  }
  const events = threadEvents(sourceId, type, payload, selfContactId);
  return [{ sourceId, conversationNativeId, eventId: id, ...(events.length > 0 ? { events } : {}) }];
}

const MESSAGE_KINDS = {
  'message.created': 'MessageAdded',
  'message.updated': 'MessageUpdated',
  'message.deleted': 'MessageDeleted',
} as const;

/**
 * docs/live.md "Thread events": a delivery's payload is "the full object" (webhooks page), so `message.*` carry the
 * message, mapped exactly as the REST messages are (mapper.ts `mapMessage`, with the configured `selfContactId`),
 * and `conversation.deleted` names the conversation. `conversation.updated` carries the conversation without what
 * changed and without its participants, so it makes no ConversationUpdated (the gateway's own writes publish theirs;
 * docs/vendors/protocol.md "Webhooks"). A payload the mapper cannot read carries no event (the change still
 * announces the conversation).
 */
function threadEvents(
  sourceId: string,
  type: string,
  payload: Record<string, unknown>,
  selfContactId: string | null,
): ThreadEventChange[] {
  if (type === 'conversation.deleted' && typeof payload.id === 'string' && payload.id !== '') {
    return [{ kind: 'ConversationDeleted', conversationNativeId: payload.id, at: Date.now() }];
  }
  const kind = MESSAGE_KINDS[type as keyof typeof MESSAGE_KINDS];
  if (!kind) return [];
  const parsed = protocolMessage.safeParse(payload);
  if (!parsed.success) return [];
  try {
    const message = mapMessage(sourceId, parsed.data, selfContactId);
    const updatedAt = parsed.data.updated_at;
    const at =
      kind === 'MessageAdded'
        ? (message.sentAt?.getTime() ?? Date.now())
        : kind === 'MessageUpdated' && typeof updatedAt === 'number'
          ? updatedAt * 1000
          : Date.now();
    return [{ kind, message, at }];
  } catch {
    return [];
  }
}

/** Conversations tracked at most; past it the record starts over (the cost is a few extra re-reads). */
const MAX_TRACKED = 10_000;

/**
 * What the webhooks said per conversation since the connector last applied them: the messages `message.created`
 * named (native id → `created_at` in epoch ms, or null) and whether any other event came. Recorded at parse time,
 * because the live engine keeps one change per conversation of a batch, and decided at apply time
 * ({@link applyProtocolChanges}).
 */
export class ProtocolWebhookEchoes {
  private readonly seen = new Map<string, { other: boolean; created: Map<string, number | null> }>();

  observe(conversationNativeId: string, created?: { messageNativeId: string; sentAt: number | null }): void {
    if (this.seen.size >= MAX_TRACKED && !this.seen.has(conversationNativeId)) this.seen.clear();
    const cur = this.seen.get(conversationNativeId) ?? { other: false, created: new Map() };
    if (created) cur.created.set(created.messageNativeId, created.sentAt);
    else cur.other = true;
    this.seen.set(conversationNativeId, cur);
  }

  /** What was seen about a conversation, forgotten from now on (it is being applied). */
  take(nativeId: string): { other: boolean; created: Map<string, number | null> } | undefined {
    const s = this.seen.get(nativeId);
    this.seen.delete(nativeId);
    return s;
  }
}

/**
 * The connector's `applyChanges` (issue 13 target 2): every named conversation is re-read into the catalog
 * (CatalogSync.applyChanges: conversation, its messages and contacts), except one whose only events since the last
 * apply were `message.created` of messages the catalog already shows as its last message (catalog.ts
 * `showsLastMessage`): the webhook of the gateway's own send, whose answer patched the catalog (session.ts), or a
 * message a later read already saw. Before that check it waits for this process's sends to those conversations still
 * in flight (ConversationCatalog.track), so an echo that overtakes its own answer is not re-read either. A change
 * that names no conversation still invalidates the catalog.
 */
export async function applyProtocolChanges<Cache>(
  sync: CatalogSync<Cache>,
  echoes: ProtocolWebhookEchoes,
  changes: SourceChange[],
  scope: RequestScope,
): Promise<void> {
  const seen = new Map<string, ReturnType<ProtocolWebhookEchoes['take']>>();
  for (const c of changes)
    if (c.conversationNativeId !== null) seen.set(c.conversationNativeId, echoes.take(c.conversationNativeId));
  if (changes.some((c) => c.conversationNativeId === null)) return sync.applyChanges(changes, scope);
  const candidates = [...seen].filter(([, s]) => s && !s.other && s.created.size > 0).map(([id]) => id);
  const echoed = new Set<string>();
  if (candidates.length > 0) {
    await sync.catalog.writesSettled(candidates);
    for (const id of candidates) {
      const held = await sync.catalog.peekOne(id);
      const created = seen.get(id)?.created ?? new Map<string, number | null>();
      if ([...created].every(([message, sentAt]) => showsLastMessage(held, message, sentAt))) echoed.add(id);
    }
  }
  const needed = changes.filter((c) => !echoed.has(c.conversationNativeId as string));
  if (needed.length > 0) await sync.applyChanges(needed, scope);
}
