import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 4's bound: one inbox page with participants, the last message with its sender, and unread counts costs
 * at most one list request per source plus one request per missing entity type per source, never one per
 * conversation per field. Counted from the emulators' own request logs, and reported by X-Upstream-Stats.
 */
const INBOX = /* GraphQL */ `
  query Inbox($first: Int, $after: String) {
    conversations(first: $first, after: $after) {
      pageInfo {
        endCursor
      }
      edges {
        node {
          id
          subject
          status
          unreadCount
          lastMessageAt
          source {
            id
            kind
          }
          participants {
            id
            name
            email
            kind
            avatarUrl
          }
          lastMessage {
            content
            sentAt
            direction
            sender {
              id
              name
            }
            attachments {
              filename
            }
          }
        }
      }
    }
  }
`;

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ scale: 6, rateLimitPerMinute: 1_000_000 });
  // Warm the catalogs (sources that cannot list in inbox order sync once, then serve pages from the snapshot).
  await t.gql(INBOX, { first: 1 });
});
afterAll(async () => {
  await t.close();
});

function requestsBySource(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [id, emu] of t.embedded.sandbox.emulators)
    out.set(
      id,
      emu.requests().map((r) => `${r.method} ${r.path}`),
    );
  return out;
}
const clear = () => {
  for (const emu of t.embedded.sandbox.emulators.values()) emu.clearRequests();
};

describe('upstream cost of an inbox page', () => {
  it.each([10, 50, 100])(
    'stays within two requests per source for first: %i, whatever the number of rows',
    async (first) => {
      clear();
      const r = await t.gql<{ conversations: { edges: unknown[] } }>(INBOX, { first }, { 'x-upstream-stats': '1' });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.conversations.edges).toHaveLength(first);
      const logs = requestsBySource();
      for (const [source, calls] of logs) {
        // A page-number API with pages of at most 100 (Pixieset) may need two pages for a window that crosses a
        // page boundary; every other source answers from its catalog.
        expect({ source, calls: calls.length <= 2 }).toEqual({ source, calls: true });
      }
      const total = [...logs.values()].reduce((a, c) => a + c.length, 0);
      const stats = r.body.extensions?.upstream as { total: number };
      expect(stats.total).toBe(total);
    },
  );

  it('walks pages without re-reading earlier ones', async () => {
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      clear();
      const r: Awaited<ReturnType<typeof t.gql<{ conversations: { pageInfo: { endCursor: string } } }>>> = await t.gql(
        INBOX,
        { first: 50, after },
      );
      after = r.body.data!.conversations.pageInfo.endCursor;
      for (const [source, calls] of requestsBySource())
        expect({ source, n: calls.length <= 2 }).toEqual({ source, n: true });
    }
  });

  it('costs the same for a page of 10 and a page of 100', async () => {
    clear();
    await t.gql(INBOX, { first: 10 });
    const small = [...requestsBySource().values()].reduce((a, c) => a + c.length, 0);
    clear();
    await t.gql(INBOX, { first: 100 });
    const big = [...requestsBySource().values()].reduce((a, c) => a + c.length, 0);
    expect(big).toBeLessThanOrEqual(small + 1);
  });
});
