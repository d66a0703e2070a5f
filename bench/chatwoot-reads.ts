import type { ChatwootSourceConfig } from '../src/config/schema';
import { CHATWOOT_PROFILE } from '../src/connectors/chatwoot/profile';
import { createChatwootConnector } from '../src/connectors/chatwoot';
import {
  CHATWOOT_SANDBOX_ACCOUNT_ID,
  CHATWOOT_SANDBOX_TOKEN,
  startChatwootEmulator,
  type ChatwootState,
  type ChatwootUnreadCountsMode,
} from '../src/sandbox/chatwoot';
import { runAlone } from './ipc';
import { table } from './lib';

/**
 * # Cost of noticing reads made in Chatwoot's dashboard (issue 10)
 *
 * A read in Chatwoot's own dashboard sends no webhook, so the connector re-checks the conversations its catalog
 * shows with unread messages every `readCheckIntervalMs` (src/connectors/chatwoot/poll.ts). This measures the
 * upstream requests of one check against the Chatwoot emulator, counted from its request log, for accounts of
 * 100, 1,000 and 10,000 conversations of which 10 % are unread (open ones), on both paths:
 * - Chatwoot answers `GET /conversations/unread_counts` (its feature on): one request when nothing was read, plus
 *   the re-read of every unread conversation when the counts moved;
 * - it does not (404 or 403): the re-read of every unread conversation, 25 a `POST /conversations/filter`.
 * Requests a minute are those of one check times the checks a minute at the default interval (30 s). The cost
 * depends on the account only: the live engine runs one poller per source whatever the number of subscribers.
 * The full catalog sync that repairs missed webhooks (every catalogMaxAgeMs, 10 minutes) is shown beside it.
 *
 * Runs in this process (no gateway needed): `npm run bench -- --workloads reads`, part of the default run.
 */

export interface ReadCheckRow {
  conversations: number;
  unread: number;
  notOpen: number;
  path: string;
  requestsPerCheck: number;
  requestsPerMinute: number;
}
export interface ReadCheckResults {
  intervalMs: number;
  rows: ReadCheckRow[];
  /** Requests of one full catalog sync per size (amortized over catalogMaxAgeMs in the text). */
  sync: Array<{ conversations: number; requests: number }>;
  text: string;
}

/** 10 % of the conversations unread, open ones that have an incoming message; every other one read. */
function tenPercentUnread(conversations: number) {
  return (state: ChatwootState) => {
    const all = [...state.conversations.values()].sort((a, b) => a.display_id - b.display_id);
    const hasIncoming = (c: (typeof all)[number]) => c.messages.some((m) => m.message_type === 0);
    const candidates = [
      ...all.filter((c) => c.status === 'open' && hasIncoming(c)),
      ...all.filter((c) => c.status !== 'open' && hasIncoming(c)),
    ];
    const unread = new Set(candidates.slice(0, Math.round(conversations / 10)));
    const now = Date.now();
    for (const c of all) {
      const seen = unread.has(c) ? null : now;
      c.agent_last_seen_at = seen;
      c.assignee_last_seen_at = seen;
    }
  };
}

export async function chatwootReadCheckBench(
  sizes: number[] = [100, 1_000, 10_000],
  intervalMs = CHATWOOT_PROFILE.readCheckIntervalMs,
  log: (line: string) => void = () => undefined,
): Promise<ReadCheckResults> {
  const rows: ReadCheckRow[] = [];
  const sync: ReadCheckResults['sync'] = [];
  const perMinute = (n: number) => Math.round(((n * 60_000) / intervalMs) * 10) / 10;
  for (const n of sizes) {
    let mode: ChatwootUnreadCountsMode = 'enabled';
    const emu = await startChatwootEmulator({
      port: 0,
      scale: n / 20,
      rateLimitPerMinute: 1_000_000_000,
      unreadCounts: () => mode,
      prepare: tenPercentUnread(n),
    });
    try {
      const config: ChatwootSourceConfig = {
        id: 'chatwoot',
        kind: 'CHATWOOT',
        baseUrl: emu.url,
        accountId: CHATWOOT_SANDBOX_ACCOUNT_ID,
        credentials: { apiAccessToken: CHATWOOT_SANDBOX_TOKEN },
        timeoutMs: 120_000,
        pollIntervalMs: 2000,
        // Every poll below is a check (the interval itself is what the per-minute figures assume).
        readCheckIntervalMs: 1,
        rateLimitPerMinute: null,
        retries: 0,
      };
      const connector = createChatwootConnector(config);
      const vendor = () => emu.requests().filter((r) => r.path.startsWith('/api/'));
      log(`  chatwoot read checks · ${n} conversations: syncing the catalog …`);
      const totals = await connector.openSession({ requestId: 'bench-sync' }).unreadCount();
      sync.push({ conversations: n, requests: vendor().length });
      const unread = totals?.conversationsWithUnread ?? 0;
      const session = connector.openSession({ requestId: 'bench-list' });
      const open = await session.listConversations({
        offset: 0,
        limit: 100,
        filter: { unreadOnly: true, status: ['OPEN'] },
      });
      const notOpen = unread - open.total;
      const check = async (path: string) => {
        emu.clearRequests();
        await connector.poll!({ requestId: `bench-${n}-${rows.length}` });
        const requests = vendor().length;
        rows.push({
          conversations: n,
          unread,
          notOpen,
          path,
          requestsPerCheck: requests,
          requestsPerMinute: perMinute(requests),
        });
      };
      await check('unread_counts answers, nothing read');
      const target = open.items[0];
      if (target) emu.controls.simulateRead({ conversationId: target.nativeId });
      await check('unread_counts answers, a conversation read');
      // Chatwoot without the feature: the first check learns it (one 403), the next ones do not ask for 10 min.
      mode = 'disabled';
      await check('no unread_counts (403 or 404), first check');
      await check('no unread_counts, every further check');
    } finally {
      await emu.close();
    }
  }
  const head = [
    'conversations',
    'unread (not open)',
    'path',
    'requests / check',
    `requests / min (every ${intervalMs / 1000} s)`,
  ];
  const body = rows.map((r) => [
    r.conversations.toLocaleString('en'),
    `${r.unread} (${r.notOpen})`,
    r.path,
    String(r.requestsPerCheck),
    String(r.requestsPerMinute),
  ]);
  const text = [
    `Chatwoot read checks (a read in Chatwoot's dashboard sends no webhook; re-checked every ${intervalMs / 1000} s while anybody subscribes, one poller per source whatever the number of subscribers; budget 3000 requests/min)`,
    ...table(head, body),
    `Beside it, the full catalog sync that repairs missed webhooks, once per catalogMaxAgeMs (10 min): ${sync
      .map(
        (s) =>
          `${s.requests} requests at ${s.conversations.toLocaleString('en')} (${Math.round((s.requests / 10) * 10) / 10}/min)`,
      )
      .join(', ')}.`,
  ].join('\n');
  return { intervalMs, rows, sync, text };
}

// `tsx bench/chatwoot-reads.ts` runs this section alone.
if (require.main === module) {
  runAlone(chatwootReadCheckBench(undefined, undefined, (l) => process.stderr.write(`${l}\n`)));
}
