import { serveEmulator, type EmulatorHandle, type EmulatorStartOptions } from '../kit/server';
import { mountRoutes } from './routes';
import { seedProtocol } from './seed';
import { ProtocolState } from './state';

/**
 * Emulator of the "Protocol" chat API as CityPay publishes it (seed 001, docs/vendors/protocol.md), under `/v1`, plus the
 * attachment files at `/files/:id/:name` (the vendor serves them from its asset host).
 */

/** The Bearer token the embedded default authenticates with. */
export const PROTOCOL_SANDBOX_TOKEN = 'sandbox-protocol-token';
/** The secret webhooks are signed with (`x-protocol-signature`). */
export const PROTOCOL_SANDBOX_WEBHOOK_SECRET = 'sandbox-protocol-webhook-secret';
/** The contact that is the API user: outgoing messages are this contact's. */
export const PROTOCOL_SANDBOX_SELF_CONTACT_ID = 'SwitchboardSelf0';
/** The vendor documents no rate limit (docs/vendors/protocol.md); ours, per token and sliding minute. */
export const PROTOCOL_RATE_LIMIT_PER_MINUTE = 1200;
/** Largest attachment (bytes); the connector's PROTOCOL_MAX_ATTACHMENT_SIZE says the same. */
export const PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE = 25 * 1024 * 1024;

/** Protocol's own emulator options: behaviours no document settles (docs/vendors/protocol.md "Assumptions"). */
export interface ProtocolEmulatorOptions {
  /** Also take JSON bodies (undocumented). @default false: 415 invalid_request */
  acceptJson?: boolean;
  /** How a form body clears a field: `archived_at=` (`empty`), `archived_at=null` (`null`) or not at all (`never`). @default 'empty' */
  clearWith?: 'empty' | 'null' | 'never';
  /** The order of every list (undocumented). @default 'newest_first' */
  listOrder?: 'newest_first' | 'oldest_first';
  /**
   * How messages name attachments (undocumented): `attachments[]=<id>`, or `attachments[0][id]=<id>` refusing ids
   * (`objects`) or silently dropping them (`objects_ignoring_ids`). @default 'ids'
   */
  attachmentsAs?: 'ids' | 'objects' | 'objects_ignoring_ids';
}

export async function startProtocolEmulator(
  opts: EmulatorStartOptions & ProtocolEmulatorOptions = {},
): Promise<EmulatorHandle> {
  const state = new ProtocolState(PROTOCOL_SANDBOX_SELF_CONTACT_ID, seedProtocol, opts.scale ?? 1, opts.seed ?? 1);
  return serveEmulator(
    'protocol',
    (app, self) =>
      mountRoutes(app, state, {
        baseUrl: () => self().url,
        token: PROTOCOL_SANDBOX_TOKEN,
        webhook: opts.webhook,
        webhookSecret: PROTOCOL_SANDBOX_WEBHOOK_SECRET,
        rateLimitPerMinute: opts.rateLimitPerMinute ?? PROTOCOL_RATE_LIMIT_PER_MINUTE,
        maxAttachmentSize: PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE,
        acceptJson: opts.acceptJson,
        clearWith: opts.clearWith,
        listOrder: opts.listOrder,
        attachmentsAs: opts.attachmentsAs,
      }),
    opts,
  );
}
