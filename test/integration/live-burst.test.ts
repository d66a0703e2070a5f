import type { Client } from 'graphql-ws';
import { CHATWOOT_SANDBOX_ACCOUNT_ID, CHATWOOT_SANDBOX_TOKEN } from '../../src/sandbox/chatwoot';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';
import {
  adjust,
  eventually,
  makeTransport,
  measure,
  randomPrefix,
  recording,
  sleep,
  TRANSPORTS,
  type RecordingPubSub,
} from '../live/helpers';

/**
 * A burst of 1,000 incoming messages spread over the four sources (and some reads in the vendors' own UIs), with
 * the webhooks Protocol and Chatwoot send and the polls of Pixieset and Monica; then the last values pushed to a
 * subscriber equal the vendors' own unread state.
 */
type Unread = {
  unreadCountChanged: {
    total: number;
    conversationsWithUnread: number;
    bySource: Array<{ source: { id: string }; total: number; conversationsWithUnread: number }>;
  };
};
const UNREAD = `subscription { unreadCountChanged { total conversationsWithUnread bySource { source { id } total conversationsWithUnread } } }`;
const MESSAGES = 1000;

/** What Chatwoot itself reports through its API: the (capped) unread_count of every conversation, every page. */
async function chatwootUnreadFromApi(baseUrl: string): Promise<{ total: number; conversationsWithUnread: number }> {
  let total = 0;
  let withUnread = 0;
  for (let page = 1; ; page++) {
    const res = await fetch(
      `${baseUrl}/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}/conversations?status=all&page=${page}`,
      {
        headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
      },
    );
    const body = (await res.json()) as { data: { payload: Array<{ unread_count: number }> } };
    for (const c of body.data.payload) {
      total += c.unread_count;
      if (c.unread_count > 0) withUnread++;
    }
    if (body.data.payload.length < 25) return { total, conversationsWithUnread: withUnread };
  }
}

describe.each(TRANSPORTS)('a burst of %s', (kind) => {
  let t: TestGateway;
  let pubsub: RecordingPubSub;
  const clients: Client[] = [];

  beforeAll(async () => {
    const prefix = randomPrefix('burst');
    pubsub = recording(makeTransport(kind, prefix));
    t = await startTestGateway({
      // The burst is far above what the vendors allow in a minute; the emulators let it through so that the test
      // is about the gateway's live state, not about the vendors' limits.
      rateLimitPerMinute: 100_000,
      pubsub,
      configure: adjust({
        redisPrefix: kind === 'Redis' ? prefix : null,
        source: (s) =>
          s.kind === 'PIXIESET'
            ? { pollIntervalMs: 500 }
            : s.kind === 'MONICA'
              ? { pollIntervalMs: 1000, rateLimitPerMinute: 1200 }
              : {},
      }),
    });
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await t.close();
    await pubsub.close();
  });

  it(`pushes, after ${MESSAGES} incoming messages, exactly the vendors' own unread state`, async () => {
    const emulators = t.embedded.sandbox.emulators;
    const ws = createWsClient(t.wsUrl, t.apiKey);
    clients.push(ws);
    const sub = subscribe<Unread>(ws, UNREAD);
    const monicaRows = subscribe<{ conversationChanged: { nativeId: string } }>(
      ws,
      `subscription { conversationChanged(sources: ["monica"]) { nativeId } }`,
    );
    await sub.waitFor(1);

    const ids = [...emulators.keys()];
    expect(ids.sort()).toEqual(['chatwoot', 'monica', 'pixieset', 'protocol']);
    const written = new Map<string, string[]>();
    const perSource = new Map<string, number>();
    let reads = 0;
    const started = Date.now();
    for (let i = 0; i < MESSAGES; i++) {
      const id = ids[i % ids.length] as string;
      const e = emulators.get(id)!;
      const answer = e.controls.simulateIncoming({ content: `burst ${i}` }) as {
        conversation_id?: unknown;
        data?: { conversation_id?: unknown };
      };
      perSource.set(id, (perSource.get(id) ?? 0) + 1);
      const conv = answer.conversation_id ?? answer.data?.conversation_id;
      if (conv !== undefined) written.set(id, [...(written.get(id) ?? []), String(conv)]);
      // Now and then somebody reads a conversation in the vendor's own UI.
      if (i % 10 === 9 && id !== 'monica') {
        const list = written.get(id) ?? [];
        const target = list[Math.floor(Math.random() * list.length)];
        if (target) {
          e.controls.simulateRead({ conversationId: target });
          reads++;
        }
      }
      if (i % 50 === 49) await sleep(10);
    }
    const burstMs = Date.now() - started;

    const withReadState = ['chatwoot', 'pixieset', 'protocol'];
    const expected = () =>
      withReadState
        .map((id) => ({ source: { id }, ...emulators.get(id)!.controls.unreadState()! }))
        .sort((a, b) => a.source.id.localeCompare(b.source.id));
    const pushed = () =>
      [...sub.values.at(-1)!.unreadCountChanged.bySource].sort((a, b) => a.source.id.localeCompare(b.source.id));
    await eventually(() => expect(pushed()).toEqual(expected()), 30_000, 50);
    const settledMs = Date.now() - started;

    const last = sub.values.at(-1)!.unreadCountChanged;
    const want = expected();
    expect(last.total).toBe(want.reduce((n, s) => n + s.total, 0));
    expect(last.conversationsWithUnread).toBe(want.reduce((n, s) => n + s.conversationsWithUnread, 0));
    // Chatwoot's capped counts are what Chatwoot itself reports through its API.
    const cw = await chatwootUnreadFromApi(emulators.get('chatwoot')!.url);
    expect(last.bySource.find((s) => s.source.id === 'chatwoot')).toMatchObject(cw);
    // Monica (no read state) was polled: its changed conversations were announced too.
    await monicaRows.waitFor(1, 10_000);
    // Only real changes were pushed: no two consecutive values are the same.
    const keys = sub.values.map((v) => JSON.stringify(v));
    expect(keys.every((k, i) => i === 0 || k !== keys[i - 1])).toBe(true);
    measure(
      `burst (${kind})`,
      `${MESSAGES} messages (${[...perSource].map(([k, v]) => `${k} ${v}`).join(', ')}) + ${reads} reads in ${burstMs} ms; ` +
        `pushed values equal vendor state ${settledMs} ms after the burst began; ${sub.values.length} values pushed, ` +
        `${pubsub.on('unread:protocol').length + pubsub.on('unread:chatwoot').length + pubsub.on('unread:pixieset').length} unread publications`,
    );
  });
});
