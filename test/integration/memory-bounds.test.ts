import { sha256Hex } from '../../src/server/persisted';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 18 end to end: `/metrics` reports the size of each in-memory store of a gateway without Redis
 * (`switchboard_memory_store_entries{store}`), moving with real operations.
 */
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;

describe('switchboard_memory_store_entries on /metrics', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'] });
  });
  afterAll(async () => {
    await t.close();
  });

  const stores = async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    return Object.fromEntries(
      [...text.matchAll(/^switchboard_memory_store_entries\{store="([a-z_]+)"\} (\d+)$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
  };

  it('counts idempotency keys and persisted queries as they are stored', async () => {
    expect(await stores()).toEqual({
      idempotency: 0,
      live_event_log: 0,
      live_seen_events: 0,
      // graphql-ws and SSE operations' documents (HTTP goes through Apollo's own cache).
      operation_documents: 0,
      // Nothing read people yet: the index loads at the first people read.
      people_index: 0,
      persisted_queries: 0,
      skipped_rows: 0,
      staged_uploads: 0,
    });
    const list = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
      `{ conversations(first: 1) { edges { node { id } } } }`,
    );
    const conversationId = list.body.data!.conversations.edges[0]!.node.id;
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    px.clearRequests();
    for (const key of ['a', 'b', 'a']) {
      const r = await t.gql(SEND, {
        input: { conversationId, content: `memory ${key}`, idempotencyKey: `mem-${key}` },
      });
      expect(r.body.errors).toBeUndefined();
    }
    // Two keys, two messages sent (the repeat answered from the store).
    expect(px.requests().filter((r) => r.method === 'POST')).toHaveLength(2);
    const query = `{ sources { id } }`;
    const registered = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
      body: JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } } }),
    });
    expect(registered.status).toBe(200);
    expect(await stores()).toEqual({
      idempotency: 2,
      // The thread events of the two sends, kept for conversationEvents(after:) (issue 14).
      live_event_log: 2,
      // Each sent message's MessageAdded event is published once per identity (conversationEvents, issue 14).
      live_seen_events: 2,
      operation_documents: 0,
      people_index: 0,
      persisted_queries: 1,
      skipped_rows: 0,
      staged_uploads: 0,
    });
  });

  it('holds server.memoryStores.idempotencyKeys: past it the least recently used key is forgotten', async () => {
    const small = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, server: { ...c.server, memoryStores: { idempotencyKeys: 2 } } }),
    });
    try {
      const list = await small.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
        `{ conversations(first: 1) { edges { node { id } } } }`,
      );
      const conversationId = list.body.data!.conversations.edges[0]!.node.id;
      const px = small.embedded.sandbox.emulators.get('pixieset')!;
      px.clearRequests();
      for (const key of ['x', 'y', 'z', 'z', 'x']) {
        const r = await small.gql(SEND, { input: { conversationId, content: `bounded ${key}`, idempotencyKey: key } });
        expect(r.body.errors).toBeUndefined();
      }
      // x, y, z sent; z again answered from the store; x was forgotten (bound 2), so it is sent again.
      expect(px.requests().filter((r) => r.method === 'POST')).toHaveLength(4);
      const text = await (await fetch(`${small.url}/metrics`)).text();
      expect(text).toMatch(/^switchboard_memory_store_entries\{store="idempotency"\} 2$/m);
    } finally {
      await small.close();
    }
  });
});
