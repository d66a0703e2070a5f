import type { Client } from 'graphql-ws';
import type { EmulatorHandle, RequestLogEntry } from '../../src/sandbox/kit/server';
import { RecentlyReported } from '../../src/connectors/decode';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';
import { createWsClient } from '../utils/ws';

/**
 * Issue 12 item 14, outside a request (brief D gap 1): a vendor row that `rowsOf` leaves out while the live engine
 * polls, syncs a catalog or re-reads after a webhook is reported like one a query meets: a warn log line with its
 * source and row id, and `switchboard_source_rows_skipped_total{source,what}` (no id in a label). Each source and
 * row once, however many polls meet it again (a bounded, expiring set), and the request path counts into the
 * same metric, once too.
 */

type Line = { msg?: string; source?: string; rowId?: string | null; what?: string; requestId?: string };

const skippedLines = (t: TestGateway, source: string, from = 0): Line[] =>
  t.logs
    .slice(from)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.msg === 'vendor row skipped' && l.source === source);

async function skippedMetric(t: TestGateway, source: string): Promise<number> {
  const metric = t.gateway.metrics.registry.getSingleMetric('switchboard_source_rows_skipped_total');
  if (!metric) return 0;
  const m = await metric.get();
  for (const v of m.values) expect(Object.keys(v.labels).sort()).toEqual(['source', 'what']);
  return m.values.filter((v) => v.labels.source === source).reduce((a, v) => a + v.value, 0);
}

describe('rows skipped outside a request', () => {
  let t: TestGateway;
  const clients: Client[] = [];
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET', 'CHATWOOT'],
      configure: (c) =>
        tuneSources(c, (s) => (s.kind === 'PIXIESET' ? { pollIntervalMs: 100, catalogMaxAgeMs: 1 } : {})),
    });
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await t.close();
  });
  const emu = (id: string) => t.embedded.sandbox.emulators.get(id) as EmulatorHandle;

  it('a poll: logged and counted once, with source and row id, however many polls meet the row', async () => {
    const px = emu('pixieset');
    const isPoll = (r: RequestLogEntry) =>
      r.method === 'GET' && /\/conversations\/$/.test(r.path) && r.query.page_size === '100';
    const client = createWsClient(t.wsUrl, t.apiKey);
    clients.push(client);
    const got: unknown[] = [];
    const dispose = client.subscribe(
      { query: 'subscription { unreadCountChanged(sources: ["pixieset"]) { total } }' },
      { next: (r) => got.push(r), error: () => {}, complete: () => {} },
    );
    try {
      await waitFor(() => got.length >= 1 && px.requests().some(isPoll), { what: 'a first poll of pixieset' });
      const listPath = px.requests().find(isPoll)!.path;
      const from = t.logs.length;
      px.setFaults({ malformedRow: { path: listPath, list: 'data', index: 1, set: { status: 42 } } });
      px.clearRequests();
      // Several polls read the spoiled page.
      await waitFor(() => px.requests().filter(isPoll).length >= 4, { what: 'four polls of the spoiled page' });
      const lines = skippedLines(t, 'pixieset', from);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ rowId: expect.any(String), what: 'conversation list' });
      expect(lines[0]!.requestId).toMatch(/^live-pixieset-\d+$/);
      expect(await skippedMetric(t, 'pixieset')).toBe(1);
    } finally {
      px.setFaults({});
      dispose();
    }
  });

  it('a webhook re-read: logged and counted once', async () => {
    const cw = emu('chatwoot');
    const r = await t.gql<{ conversations: { nodes: Array<{ nativeId: string }> } }>(
      `{ conversations(first: 1, filter: { sources: ["chatwoot"] }) { nodes { nativeId } } }`,
    );
    const id = r.body.data!.conversations.nodes[0]!.nativeId.split(':')[1]!;
    const path = `/api/v1/accounts/1/conversations/${id}`;
    const from = t.logs.length;
    const before = await skippedMetric(t, 'chatwoot');
    // The conversation's embedded last message is spoiled: a row of the detail's `messages` list.
    cw.setFaults({ malformedRow: { path, list: 'messages', index: 0, set: { created_at: { at: 'noon' } } } });
    try {
      cw.clearRequests();
      cw.controls.simulateIncoming({ conversationId: id, content: 'a webhook re-read meets a bad row' });
      await waitFor(() => skippedLines(t, 'chatwoot', from).length > 0, { what: 'the skipped row logged' });
      const lines = skippedLines(t, 'chatwoot', from);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.requestId).toMatch(/^live-chatwoot-\d+$/);
      expect(lines[0]!.rowId).toEqual(expect.any(String));
      expect(await skippedMetric(t, 'chatwoot')).toBe(before + 1);
    } finally {
      cw.setFaults({});
    }
  });

  it('the request path counts into the same metric, once per row however many queries meet it', async () => {
    const px = emu('pixieset');
    const INBOX = `{ conversations(first: 50, filter: { sources: ["pixieset"] }) { edges { node { id } } } }`;
    await t.gql(INBOX);
    const listPath = px.requests().find((q) => q.method === 'GET' && /\/conversations\/$/.test(q.path))!.path;
    const before = await skippedMetric(t, 'pixieset');
    const from = t.logs.length;
    px.setFaults({ malformedRow: { path: listPath, list: 'data', index: 2, set: { status: 43 } } });
    try {
      for (let i = 0; i < 3; i++) {
        // Each query re-reads the catalog (stale after 1 ms) and carries the entry for its own client.
        const q = await t.gql(INBOX);
        expect(q.body.errors?.map((e) => e.extensions?.source)).toEqual(['pixieset']);
      }
      expect(skippedLines(t, 'pixieset', from)).toHaveLength(1);
      expect(await skippedMetric(t, 'pixieset')).toBe(before + 1);
    } finally {
      px.setFaults({});
    }
  });
});

describe('RecentlyReported (the once-set behind the log line and the metric)', () => {
  it('is true once per key until the key expires, and holds at most `max` keys, the oldest forgotten first', () => {
    let now = 0;
    const seen = new RecentlyReported({ max: 3, ttlMs: 1000, now: () => now });
    expect(seen.firstTime('a')).toBe(true);
    expect(seen.firstTime('a')).toBe(false);
    now = 999;
    expect(seen.firstTime('a')).toBe(false);
    now = 1000;
    expect(seen.firstTime('a')).toBe(true); // expired: reported again
    expect(['b', 'c', 'd'].map((k) => seen.firstTime(k))).toEqual([true, true, true]);
    expect(seen.size).toBe(3);
    expect(seen.firstTime('a')).toBe(true); // the oldest ('a') went when 'd' came
    expect(seen.firstTime('d')).toBe(false);
    now = 5000;
    expect(seen.firstTime('e')).toBe(true); // every other key expired and was dropped
    expect(seen.size).toBe(1);
  });
});
