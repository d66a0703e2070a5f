import { ErrorCode, GatewayError } from '../../errors';
import type { ConversationModel, RequestScope, SourceChange } from '../types';
import { chatwootFingerprint as shown, reconcileCatalog } from './apply';
import { CHATWOOT_PROFILE } from './profile';
import { readChatwootByIds } from './catalog';
import type { ChatwootSessionOptions } from './session';

/**
 * # Noticing reads made in Chatwoot's own dashboard
 *
 * A read (`update_last_seen`) or an "unread" made in Chatwoot's dashboard writes `agent_last_seen_at` with
 * `update_column`: no callback runs, no webhook is sent, and `updated_at` does not move (docs/vendors/chatwoot.md
 * "Unread semantics"). Webhooks keep the catalog right about everything else, so only the conversations the catalog
 * shows with unread messages can still be changed by such a read (docs/vendors/chatwoot.md "Reads without
 * webhooks"); the connector's `poll` re-checks exactly those, at most every `readCheckIntervalMs` (default 30 s),
 * from the live engine's one poller of the source (only while somebody subscribes, on one instance), so its cost
 * depends on the account, never on the number of subscribers. The engine ticks every `pollIntervalMs`; a check
 * runs at the first tick at least `readCheckIntervalMs - pollIntervalMs / 2` after the previous one (longer when
 * the last check's cost needs it to stay within {@link READ_CHECK_BUDGET_SHARE} of the budget).
 *
 * One check:
 * 1. The repair of missed webhooks comes first (apply.ts `reconcileCatalog`): when the catalog is older than
 *    catalogMaxAgeMs it is re-synced in full, which reads every unread count anyway, and that is the check; above
 *    CHATWOOT_INCREMENTAL_ABOVE conversations it is refreshed incrementally instead (catalog.ts `readChanges`,
 *    one request), a full re-sync at most every CHATWOOT_FULL_SYNC_EVERY_MS, and steps 2 and 3 follow.
 * 2. Where Chatwoot answers `GET /conversations/unread_counts` (newer versions with the `conversation_unread_counts`
 *    feature), one request gives, per inbox, the number of *open* conversations with unread messages. When their sum
 *    equals what the catalog predicts (its open conversations with unread messages), no open one was read, and
 *    only the pending, snoozed and resolved ones with unread messages (which those counts leave out) are
 *    re-checked. A 404 (no such route) or 403 (feature off) switches it off for {@link UNREAD_COUNTS_RETRY_MS};
 *    any other failure only for this check.
 * 3. The rest are re-read with `POST /conversations/filter` on `display_id`, 25 ids a request
 *    (catalog.ts `readChatwootByIds`), written into the catalog and reported when they differ; one not answered is removed
 *    (deleted, or no longer visible to the token).
 *
 * When the counts stay above the catalog's prediction after a check (a conversation the catalog holds as read is
 * unread: an "unread" in the dashboard, or a message webhook that never came) for two checks in a row, the catalog
 * is invalidated so the next tick re-syncs it; at most once per catalogMaxAgeMs.
 *
 * Cost of one check, U conversations with unread messages (docs/vendors/chatwoot.md "Rate limits"; `npm run bench`
 * measures it): without the counts ceil(U / 25) requests; with them 1 when nothing was read (plus
 * ceil(U' / 25) for the U' of them that are not open), 1 + ceil(U / 25) when something was.
 */

/** How long a Chatwoot that answered unread_counts with 404 or 403 is not asked again. */
export const UNREAD_COUNTS_RETRY_MS = 600_000;
/** Share of the per-minute request budget the read checks may use; the rest stays for everything else. */
export const READ_CHECK_BUDGET_SHARE = 0.5;

const hasUnread = (c: ConversationModel) => (c.unreadCount ?? 0) > 0;
const openUnread = (items: Iterable<ConversationModel>) => {
  let n = 0;
  for (const c of items) if (c.status === 'OPEN' && hasUnread(c)) n++;
  return n;
};

/** The connector's `poll` and `minPollIntervalMs`. */
export function createChatwootPoller(options: ChatwootSessionOptions): {
  poll(scope: RequestScope): Promise<SourceChange[]>;
  minPollIntervalMs(): number;
  /** For tests and metrics: what the last check did. */
  lastCheck(): { requests: number; countsUsed: boolean } | null;
} {
  const { config, profile, catalog, client, sync } = options;
  const ctx = { sourceId: config.id, accountId: config.accountId };
  const sourceId = config.id;
  const now = () => (options.now ?? (() => new Date()))().getTime();
  const opts = {
    readCheckIntervalMs: config.readCheckIntervalMs ?? CHATWOOT_PROFILE.readCheckIntervalMs,
    // The engine ticks every pollIntervalMs: the check interval is rounded to ticks.
    pollIntervalMs: config.pollIntervalMs,
    // The source's request budget a minute: its config, else Chatwoot's (profile.ts); null means none.
    ratePerMinute:
      config.rateLimitPerMinute === undefined ? profile.limits.rateLimitPerMinute : config.rateLimitPerMinute,
  };
  /** Epoch ms before which unread_counts is not asked (it answered 404 or 403). */
  let countsOffUntil = 0;
  let lastCheckAt: number | null = null;
  let last: { requests: number; countsUsed: boolean } | null = null;
  let excessStreak = 0;
  let lastExcessInvalidation = -Infinity;

  /** The shortest interval between checks that keeps the last check's cost within its share of the budget. */
  const budgetFloor = () =>
    !opts.ratePerMinute || !last
      ? 0
      : Math.ceil((last.requests * 60_000) / (opts.ratePerMinute * READ_CHECK_BUDGET_SHARE));
  /** The engine ticks every pollIntervalMs: check at the tick nearest to the interval after the last check. */
  const due = () =>
    lastCheckAt === null ||
    now() - lastCheckAt >= Math.max(opts.readCheckIntervalMs, budgetFloor()) - Math.floor(opts.pollIntervalMs / 2);

  /** Open conversations with unread messages by Chatwoot's own counts; null when it has none to give. */
  async function countsNow(scope: RequestScope): Promise<{ asked: boolean; total: number | null }> {
    if (now() < countsOffUntil) return { asked: false, total: null };
    try {
      const inboxes = await client.unreadCounts(scope);
      return { asked: true, total: Object.values(inboxes).reduce((a, b) => a + b, 0) };
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      if (e.code === ErrorCode.NOT_FOUND || e.code === ErrorCode.FORBIDDEN) {
        countsOffUntil = now() + UNREAD_COUNTS_RETRY_MS;
      } else if (e.code === ErrorCode.SOURCE_RATE_LIMITED) {
        throw e; // the engine waits the Retry-After
      }
      // Anything else (a timeout, a 5xx): not this time; the re-check tells whether Chatwoot answers at all.
      return { asked: true, total: null };
    }
  }

  async function check(scope: RequestScope): Promise<SourceChange[]> {
    const age = await catalog.age();
    // Before the first sync there is nothing to compare with (the first read syncs).
    if (age === null) return [];
    let refreshed: SourceChange[] = [];
    if (age >= catalog.maxAgeMs) {
      // Above the incremental threshold the refresh reads only what `updated_at` shows moved (catalog.ts
      // `readChanges`), which a dashboard read never moves: the read check still runs after it. A full re-sync
      // reads every unread count: it is this tick's check.
      let incremental = false;
      refreshed = await reconcileCatalog(sourceId, catalog, async () => {
        const r = await sync.resync(scope, undefined, true);
        incremental = r.delta !== undefined;
        return r;
      });
      if (!incremental) {
        lastCheckAt = now();
        return refreshed;
      }
    }
    return [...refreshed, ...(await readCheck(scope))];
  }

  /** Steps 2 and 3 of a check: the conversations the catalog shows unread, when a check is due. */
  async function readCheck(scope: RequestScope): Promise<SourceChange[]> {
    if (!due()) return [];
    lastCheckAt = now();
    const items = (await catalog.peek()) ?? [];
    const unread = items.filter(hasUnread);
    if (unread.length === 0) {
      last = { requests: 0, countsUsed: false };
      return [];
    }
    const counts = await countsNow(scope);
    let requests = counts.asked ? 1 : 0;
    const quiet = counts.total !== null && counts.total === openUnread(unread);
    const toCheck = quiet ? unread.filter((c) => c.status !== 'OPEN') : unread;
    const changes: SourceChange[] = [];
    let view = items;
    if (toCheck.length > 0) {
      const read = await readChatwootByIds(
        client,
        scope,
        ctx,
        toCheck.map((c) => c.nativeId),
      );
      requests += read.requests;
      const before = new Map(items.map((c) => [c.nativeId, shown(c)]));
      // Only what nobody (a webhook, a mutation) changed while this check read: theirs is at least as fresh.
      const current = new Map(((await catalog.peek()) ?? []).map((c) => [c.nativeId, c]));
      const untouched = (id: string) => {
        const c = current.get(id);
        return c !== undefined && before.get(id) === shown(c);
      };
      const upserts = read.found.filter((c) => untouched(c.nativeId) && shown(c) !== before.get(c.nativeId));
      const removals = read.missing.filter(untouched);
      if (upserts.length > 0) await catalog.upsert(...upserts);
      if (removals.length > 0) await catalog.remove(...removals);
      // The catalog model is complete (participants, last message): subscribers need no further request.
      for (const c of upserts) changes.push({ sourceId, conversationNativeId: c.nativeId, conversation: c });
      for (const id of removals) changes.push({ sourceId, conversationNativeId: id });
      for (const c of upserts) current.set(c.nativeId, c);
      for (const id of removals) current.delete(id);
      view = [...current.values()];
    }
    // Counts above the catalog's prediction: something is unread that the catalog holds as read.
    if (counts.total !== null && counts.total > openUnread(view)) {
      excessStreak++;
      if (excessStreak >= 2 && now() - lastExcessInvalidation >= catalog.maxAgeMs) {
        lastExcessInvalidation = now();
        excessStreak = 0;
        await catalog.invalidate();
      }
    } else excessStreak = 0;
    last = { requests, countsUsed: counts.total !== null };
    return changes;
  }

  return { poll: check, minPollIntervalMs: budgetFloor, lastCheck: () => last };
}
