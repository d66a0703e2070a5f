import { diffSnapshots } from '../catalog';
import type { ConversationModel, RequestScope, SourceChange } from '../types';
import { MONICA_MAX_LIMIT } from './client';
import { MONICA_INCREMENTAL_ABOVE, MONICA_INCREMENTAL_COST } from './catalog';
import type { MonicaSessionOptions } from './session';

/**
 * Change detection for Monica, which sends no webhooks and whose list order says nothing about new messages
 * (docs/vendors/monica.md "Ordering"): each poll re-syncs the conversation catalog (connectors/catalog.ts) in full and
 * diffs the snapshot before against the one after. The catalog is shared by every instance (Redis), so the diff
 * stays right when another instance takes the poll lease over.
 *
 * A conversation changed when its last message time, its last message (id and text: a new, edited or deleted
 * last message), the text of its messages (any edit or deletion), or its `updated_at` (a new `happened_at`)
 * differ; a conversation that appeared or disappeared changed too. The first poll after start, with no snapshot
 * yet, only sets the baseline.
 *
 * Above MONICA_INCREMENTAL_ABOVE conversations a full re-sync per poll does not fit the budget (100,000: 1,001
 * requests), so the poll is the catalog's incremental refresh (catalog.ts `readChanges`: the `-updated_at` head and
 * one rolling page), diffed over what it read.
 */

/** Share of that budget the poller may spend; the rest stays for queries and mutations through the gateway. */
export const MONICA_POLL_BUDGET_SHARE = 0.5;

/**
 * Requests of one poll: every page of 100 conversations (at least one) plus `GET /me`; above
 * MONICA_INCREMENTAL_ABOVE conversations, the incremental refresh's head page and rolling page (catalog.ts).
 */
export function monicaPollCost(conversations: number): number {
  if (conversations > MONICA_INCREMENTAL_ABOVE) return MONICA_INCREMENTAL_COST;
  return Math.max(1, Math.ceil(conversations / MONICA_MAX_LIMIT)) + 1;
}

/**
 * The shortest interval between polls that keeps them within their share of the per-minute budget at the
 * account's current size: with 60 a minute and half of it for polling, 2 requests (up to 100 conversations)
 * allow a poll every 4 s, 11 requests (1,000 conversations) every 22 s. The engine polls at
 * max(pollIntervalMs, this). `ratePerMinute` null means no cap (a self-hosted Monica without its limiter).
 */
export function monicaMinPollIntervalMs(conversations: number, ratePerMinute: number | null): number {
  if (!ratePerMinute) return 0;
  return Math.ceil((monicaPollCost(conversations) * 60_000) / (ratePerMinute * MONICA_POLL_BUDGET_SHARE));
}

function fingerprint(c: ConversationModel): string {
  return JSON.stringify([
    c.lastMessageAt?.getTime() ?? null,
    c.lastMessage?.nativeId ?? null,
    c.lastMessage?.content ?? null,
    c.searchText ?? null,
    c.updatedAt?.getTime() ?? null,
  ]);
}

/** What changed from one catalog snapshot to the next (pure; the unit tests drive it directly). */
export function diffMonica(sourceId: string, before: ConversationModel[], after: ConversationModel[]): SourceChange[] {
  return diffSnapshots(sourceId, before, after, fingerprint);
}

/** The connector's `poll` and `minPollIntervalMs`. */
export function createMonicaPoller(options: MonicaSessionOptions): {
  poll(scope: RequestScope): Promise<SourceChange[]>;
  minPollIntervalMs(): number;
} {
  const { config, profile, sync } = options;
  // The source's budget: its config, else Monica's (profile.ts); null means no cap.
  const ratePerMinute =
    config.rateLimitPerMinute === undefined ? profile.limits.rateLimitPerMinute : config.rateLimitPerMinute;
  /** Conversations at the last poll (until the first one, assume one page). */
  let size = 0;
  return {
    async poll(scope) {
      // The source's catalog sync diffs by diffMonica (index.ts).
      const { changes, size: n } = await sync.reconcile(scope);
      size = n;
      return changes;
    },
    minPollIntervalMs: () => monicaMinPollIntervalMs(size, ratePerMinute),
  };
}
