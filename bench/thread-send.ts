import { Writable } from 'node:stream';
import { createGateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';
import { SANDBOX_API_KEY, startEmbedded } from '../src/sandbox/embedded';
import { runAlone } from './ipc';
import { table } from './lib';
import { SEND_MESSAGE, THREAD_PAGE } from './queries';

/**
 * # Upstream requests of a thread page and of a send (issue 13 targets 1 and 2)
 *
 * One gateway in this process in front of the sandbox emulators (both on loopback, port 0), counted from the
 * emulators' own request logs, the way issue 13 counted today's figures:
 * - a thread page: `conversation(id)` with participants and unread count, and its newest 20 messages with their
 *   senders and attachments, once the catalogs are warm (an inbox page read first), for the second newest
 *   conversation of each source;
 * - a send: `sendMessage` to the newest conversation of each source, with everything that follows within 2.5 s
 *   (the vendor's own webhook for the write and what the gateway does with it; the live engine's totals re-read).
 * Each figure is printed beside issue 13's "today" (thread 1/2/2/4, send 3/3/2/9 for Pixieset, Chatwoot, Monica,
 * Protocol) and the ratio. The exact counts are asserted by test/integration/upstream-thread-send.test.ts; this
 * prints them.
 *
 * Runs in this process (no gateway processes needed): `npm run bench -- --workloads threadsend`, part of the default
 * run, or `tsx bench/thread-send.ts` alone.
 */

/** Issue 13's figures before this work, per source kind: [thread page, send]. */
export const TODAY: Record<string, { thread: number; send: number }> = {
  pixieset: { thread: 1, send: 3 },
  chatwoot: { thread: 2, send: 3 },
  monica: { thread: 2, send: 2 },
  protocol: { thread: 4, send: 9 },
};

/** What follows a send that is counted with it (issue 13: "including what follows within 2.5 s"). */
export const SEND_WINDOW_MS = 2500;

export interface ThreadSendRow {
  source: string;
  thread: number;
  send: number;
  threadCalls: string[];
  sendCalls: string[];
}
export interface ThreadSendResults {
  rows: ThreadSendRow[];
  text: string;
}

export async function threadSendBench(
  scale = 5,
  log: (line: string) => void = () => undefined,
): Promise<ThreadSendResults> {
  const embedded = await startEmbedded({ port: 0, scale, rateLimitPerMinute: 1_000_000_000 });
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const gateway = await createGateway({
    config: embedded.config,
    logger: createLogger({ level: 'warn', destination: silent }),
    production: true,
  }).catch(async (e: unknown) => {
    await embedded.sandbox.close();
    throw e;
  });
  embedded.sandbox.setWebhookBase(gateway.url);
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SANDBOX_API_KEY}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(`${query.slice(0, 40).trim()} …: ${body.errors[0]?.message}`);
    return body.data as Record<string, unknown>;
  };
  const rows: ThreadSendRow[] = [];
  try {
    for (const [source, emu] of embedded.sandbox.emulators) {
      log(`  thread and send · ${source} …`);
      const inbox = (await gql(
        `query($s: [ID!]) { conversations(first: 5, filter: { sources: $s }) { nodes { id } } }`,
        { s: [source] },
      )) as { conversations: { nodes: Array<{ id: string }> } };
      const [first, second] = inbox.conversations.nodes;
      if (!first || !second) throw new Error(`source "${source}" has fewer than two conversations`);
      const calls = () => emu.requests().map((r) => `${r.method} ${r.path}`);
      emu.clearRequests();
      await gql(THREAD_PAGE, { id: second.id });
      const threadCalls = calls();
      emu.clearRequests();
      await gql(SEND_MESSAGE, { input: { conversationId: first.id, content: `bench thread-send ${Date.now()}` } });
      await new Promise((resolve) => setTimeout(resolve, SEND_WINDOW_MS));
      const sendCalls = calls();
      rows.push({ source, thread: threadCalls.length, send: sendCalls.length, threadCalls, sendCalls });
    }
  } finally {
    await gateway.close();
    await embedded.sandbox.close();
  }
  const order = Object.keys(TODAY);
  const rank = (s: string) => (order.includes(s) ? order.indexOf(s) : order.length);
  rows.sort((a, b) => rank(a.source) - rank(b.source));
  return { rows, text: format(rows) };
}

function format(rows: ThreadSendRow[]): string {
  const ratio = (now: number, before: number | undefined) =>
    before === undefined
      ? '–'
      : now === before
        ? 'same'
        : now === 0
          ? `${before}→0`
          : `${(before / now).toFixed(1)}× fewer`;
  const head = ['source', 'thread today', 'thread now', 'ratio', 'send today', 'send now', 'ratio', 'target'];
  const body = rows.map((r) => {
    const today = TODAY[r.source];
    return [
      r.source,
      String(today?.thread ?? '–'),
      String(r.thread),
      ratio(r.thread, today?.thread),
      String(today?.send ?? '–'),
      String(r.send),
      ratio(r.send, today?.send),
      r.thread === 1 && r.send === 1 ? 'met (1 and 1)' : r.thread === 1 ? 'thread met; send: see below' : 'not met',
    ];
  });
  const extra = rows
    .filter((r) => r.send > 1)
    .map((r) => `  ${r.source} send: ${r.sendCalls.join(', ')}`)
    .join('\n');
  return [
    `Upstream requests of a thread page (warm catalog) and of a send with what follows within ${SEND_WINDOW_MS / 1000} s (issue 13 targets 1 and 2; today = issue 13's count)`,
    ...table(head, body),
    ...(extra
      ? [
          `Sends over one request (Pixieset: the reply marks the thread read, and the live engine re-reads the unread totals after every write from GET /conversations/unread/count, which the answer cannot replace):`,
          extra,
        ]
      : []),
  ].join('\n');
}

// `tsx bench/thread-send.ts` runs this section alone.
if (require.main === module) {
  runAlone(threadSendBench(5, (l) => process.stderr.write(`${l}\n`)));
}
