import { compareConversations } from '../../src/connectors/types';
import { decodeGlobalId } from '../../src/schema/ids';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { PIXIESET_SANDBOX_CREDENTIALS } from '../../src/sandbox/pixieset';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Pixieset documents no list order (docs/vendors/pixieset.md "Ordering"). With its emulator serving another order,
 * the gateway's merged inbox over every source is still exactly in the inbox order, Pixieset's part of it equals a
 * brute-force sort of the emulator's data, and `Source.health` says the fallback happened.
 */
let t: TestGateway;
let px: EmulatorHandle;

beforeAll(async () => {
  t = await startTestGateway({ scale: 3, rateLimitPerMinute: 1_000_000 });
  px = t.embedded.sandbox.emulators.get('pixieset') as EmulatorHandle;
});
afterAll(async () => {
  await t.close();
});

async function setOrder(order: string) {
  const res = await fetch(`${px.url}/__sandbox/list-order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ order }),
  });
  expect(res.status).toBe(200);
}

async function pixiesetBruteForce(): Promise<string[]> {
  const res = await fetch(`${px.url}/api/v1/conversations/?page_size=100`, {
    headers: { cookie: PIXIESET_SANDBOX_CREDENTIALS.sessionCookie },
  });
  const body = (await res.json()) as { data: Array<{ id: string; last_message_at: string }>; meta: { total: number } };
  expect(body.data).toHaveLength(body.meta.total);
  return body.data
    .map((r) => ({ nativeId: r.id, lastMessageAt: new Date(r.last_message_at) }))
    .sort(compareConversations)
    .map((r) => r.nativeId);
}

type Edge = { node: { id: string; lastMessageAt: string | null } };

async function inbox(): Promise<Array<{ source: string; nativeId: string; at: number | null }>> {
  const out: Array<{ source: string; nativeId: string; at: number | null }> = [];
  let after: string | null = null;
  for (;;) {
    type Page = { conversations: { edges: Edge[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
    const r: { body: { data?: Page; errors?: unknown[] } } = await t.gql<Page>(
      `query($after: String) { conversations(first: 25, after: $after) {
        edges { node { id lastMessageAt } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    expect(r.body.errors).toBeUndefined();
    for (const e of r.body.data!.conversations.edges) {
      const id = decodeGlobalId(e.node.id)!;
      out.push({
        source: id.sourceId,
        nativeId: id.nativeId,
        at: e.node.lastMessageAt ? Date.parse(e.node.lastMessageAt) : null,
      });
    }
    if (!r.body.data!.conversations.pageInfo.hasNextPage) return out;
    after = r.body.data!.conversations.pageInfo.endCursor;
  }
}

async function health(): Promise<Record<string, { status: string; lastErrorCode: string | null }>> {
  const r = await t.gql<{ sources: Array<{ id: string; health: { status: string; lastErrorCode: string | null } }> }>(
    `{ sources { id health { status lastErrorCode } } }`,
  );
  return Object.fromEntries(r.body.data!.sources.map((s) => [s.id, s.health]));
}

const newestFirst = (rows: Array<{ at: number | null }>) =>
  rows.every((r, i) => {
    const prev = rows[i - 1];
    if (!prev) return true;
    if (prev.at === null) return r.at === null;
    return r.at === null || r.at <= prev.at;
  });

it('merges an exact inbox and reports the fallback when Pixieset serves its list in another order', async () => {
  // In the vendor's (assumed) inbox order first: nothing to fall back from.
  const before = await inbox();
  expect(newestFirst(before)).toBe(true);
  expect(before.filter((r) => r.source === 'pixieset').map((r) => r.nativeId)).toEqual(await pixiesetBruteForce());
  expect((await health()).pixieset?.lastErrorCode).not.toBe('INBOX_ORDER_FALLBACK');

  await setOrder('shuffled');
  const after = await inbox();
  expect(newestFirst(after)).toBe(true);
  expect(after.filter((r) => r.source === 'pixieset').map((r) => r.nativeId)).toEqual(await pixiesetBruteForce());
  expect(after.map((r) => `${r.source}/${r.nativeId}`)).toEqual(before.map((r) => `${r.source}/${r.nativeId}`));
  const h = await health();
  expect(h.pixieset).toEqual({ status: 'DEGRADED', lastErrorCode: 'INBOX_ORDER_FALLBACK' });
  for (const [id, s] of Object.entries(h))
    if (id !== 'pixieset') expect(s.lastErrorCode).not.toBe('INBOX_ORDER_FALLBACK');
});
