import { createHmac, timingSafeEqual } from 'node:crypto';
import { badInput, ErrorCode, GatewayError } from '../../errors';
import type { SourceChange, WebhookHeaders, WebhookRequest } from '../types';
import { protocolWebhook } from './types';

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
  return [{ sourceId, conversationNativeId, eventId: id }];
}
