import { serveEmulator, type EmulatorHandle, type EmulatorStartOptions } from '../kit/server';
import { mountRoutes } from './routes';
import { seedChatwoot } from './seed';
import { ACCOUNT_ID, ADMIN_TOKEN, AGENT_TOKEN, API_INBOX_ID, ChatwootState } from './state';

/**
 * Emulator of the Chatwoot Application API (seed 002, docs/vendors/chatwoot.md) at `/api/v1/accounts/{account_id}`: a
 * support team's account with Website, Email and API inboxes. Webhooks are posted to `opts.webhook()` (whose URL
 * carries the gateway's `?token=`), signed with its `secret` when it has one (as Chatwoot v4.11.2+) and unsigned
 * otherwise (as older Chatwoot); Rack::Attack's 3000 requests a minute per IP is `opts.rateLimitPerMinute`.
 */

/** The administrator's `api_access_token`. */
export const CHATWOOT_SANDBOX_TOKEN = ADMIN_TOKEN;
/** A plain agent's token (member of the Website inbox only), for authorization failures. */
export const CHATWOOT_SANDBOX_AGENT_TOKEN = AGENT_TOKEN;
export const CHATWOOT_SANDBOX_ACCOUNT_ID = ACCOUNT_ID;
/** The secret the sandbox's gateway config expects in the webhook URL (`?token=`). */
export const CHATWOOT_SANDBOX_WEBHOOK_TOKEN = 'sandbox-chatwoot-webhook-token';
/** The webhook's signing secret in the sandbox (the emulator signs as Chatwoot v4.11.2+ when given one). */
export const CHATWOOT_SANDBOX_WEBHOOK_SECRET = 'sandbox-chatwoot-webhook-secret';
/** The API inbox, createConversation's default. */
export const CHATWOOT_SANDBOX_INBOX_ID = API_INBOX_ID;

/** Instance settings of the emulated Chatwoot (docs/vendors/chatwoot.md "Pagination", "Unread semantics"). */
export interface ChatwootEmulatorOptions {
  /**
   * `CONVERSATION_RESULTS_PER_PAGE` (conversation_finder.rb: `.per(ENV.fetch('CONVERSATION_RESULTS_PER_PAGE', '25'))`):
   * rows per page of `GET /conversations`. @default 25
   */
  pageSize?: number;
  /**
   * `GET /conversations/unread_counts` (Chatwoot's newer sidebar counts, not in the v4.8 mirror):
   * `enabled` answers the counts, `disabled` the 403 of an account without the `conversation_unread_counts`
   * feature, `absent` the 404 of a Chatwoot without the route; a function is asked at every request (a bench
   * switches it). @default 'disabled'
   */
  unreadCounts?: ChatwootUnreadCountsMode | (() => ChatwootUnreadCountsMode);
  /**
   * `updated_within` on `GET /conversations`: honoured (conversation_finder.rb) or ignored, as a Chatwoot from
   * before the parameter would (an assumption, docs/vendors/chatwoot.md "Incremental refresh"). @default 'honoured'
   */
  updatedWithin?: 'honoured' | 'ignored';
  /**
   * How long after its save each conversation_status_changed / conversation_updated webhook goes,
   * built from the conversation as it is then (EventDispatcherJob; docs/vendors/chatwoot.md "Webhooks"). @default 1000
   */
  webhookJobDelayMs?: number;
  /** Shapes the seeded data (after the seed and after every reset), for benchmarks and tests. */
  prepare?: (state: ChatwootState) => void;
  /**
   * The clock Rack::Attack's fixed minutes are read from (docs/vendors/chatwoot.md "Rate limits"; rateLimit.ts),
   * for a test that holds it inside one minute. @default Date.now
   */
  rateLimitClock?: () => number;
}
export type ChatwootUnreadCountsMode = 'enabled' | 'disabled' | 'absent';
export type { ChatwootState };

export async function startChatwootEmulator(
  opts: EmulatorStartOptions & ChatwootEmulatorOptions = {},
): Promise<EmulatorHandle> {
  const scale = opts.scale ?? 1;
  const seed = opts.seed ?? 1;
  const state = new ChatwootState((s) => {
    seedChatwoot(s, scale, seed);
    opts.prepare?.(s);
  });
  return serveEmulator(
    'chatwoot',
    (app, self) =>
      mountRoutes(app, state, {
        baseUrl: () => self().url,
        webhook: opts.webhook,
        rateLimitPerMinute: opts.rateLimitPerMinute,
        rateLimitClock: opts.rateLimitClock,
        pageSize: opts.pageSize,
        unreadCounts: opts.unreadCounts,
        updatedWithin: opts.updatedWithin,
        webhookJobDelayMs: opts.webhookJobDelayMs,
      }),
    opts,
  );
}
