import { toGlobalId } from '../../src/schema/ids';
import { createWsClient, subscribe } from '../utils/ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { deferred } from '../utils/wait';

/**
 * The gateway end to end over real HTTP and graphql-ws against the Pixieset emulator: list, page to the end,
 * detail, send with an uploaded attachment, unread count, and a live subscription.
 */
const INBOX = /* GraphQL */ `
  query Inbox($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          id
          nativeId
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
            kind
          }
          lastMessage {
            content
            direction
            sender {
              name
            }
          }
        }
      }
    }
  }
`;

type Edge = {
  cursor: string;
  node: { id: string; nativeId: string; lastMessageAt: string; unreadCount: number; subject: string };
};
type InboxData = {
  conversations: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string };
    edges: Edge[];
  };
};

describe('gateway over the Pixieset emulator', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'], scale: 3 });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    t.embedded.sandbox.emulators.get('pixieset')?.controls.reset();
  });

  it('lists the sources with their truthful capabilities', async () => {
    const r = await t.gql(
      `{ sources { id kind name capabilities { unreadCounts markRead sendMessage attachments maxAttachmentSize createConversation realtime settableStatuses } } }`,
    );
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({
      sources: [
        {
          id: 'pixieset',
          kind: 'PIXIESET',
          name: 'Pixieset Studio',
          capabilities: {
            unreadCounts: true,
            markRead: false,
            sendMessage: true,
            attachments: true,
            maxAttachmentSize: 10485760,
            createConversation: false,
            realtime: 'POLLING',
            settableStatuses: [],
          },
        },
      ],
    });
  });

  it('pages forward to the end and backward to the start, in inbox order, with no duplicate', async () => {
    const seen: Edge[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const r = await t.gql<InboxData>(INBOX, { first: 7, after });
      expect(r.body.errors).toBeUndefined();
      const c: InboxData['conversations'] = r.body.data!.conversations;
      expect(c.totalCount).toBe(60);
      seen.push(...c.edges);
      pages++;
      expect(c.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(pages).toBe(Math.ceil(60 / 7));
    expect(new Set(seen.map((e) => e.node.id)).size).toBe(60);
    const times = seen.map((e) => Date.parse(e.node.lastMessageAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const back: Edge[] = [];
    let before: string | null = null;
    for (;;) {
      const r = await t.gql<InboxData>(INBOX, { last: 9, before });
      const c: InboxData['conversations'] = r.body.data!.conversations;
      back.unshift(...c.edges);
      if (!c.pageInfo.hasPreviousPage) break;
      before = c.pageInfo.startCursor;
    }
    expect(back.map((e) => e.node.id)).toEqual(seen.map((e) => e.node.id));
  });

  it('refuses a page size above 100 with BAD_USER_INPUT', async () => {
    const r = await t.gql(INBOX, { first: 101 });
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toMatch(/at most 100/);
  });

  it('filters by unread and by participant', async () => {
    const unread = await t.gql<InboxData>(INBOX, { first: 100, filter: { unreadOnly: true } });
    const all = await t.gql<InboxData>(INBOX, { first: 100 });
    const expected = all.body.data!.conversations.edges.filter((e) => e.node.unreadCount > 0).map((e) => e.node.id);
    expect(unread.body.data!.conversations.edges.map((e) => e.node.id)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);

    const first = all.body.data!.conversations.edges[0]!.node as unknown as {
      participants: Array<{ id: string; kind: string }>;
    };
    const client = first.participants.find((p) => p.kind === 'CONTACT')!;
    const byClient = await t.gql<InboxData>(INBOX, { first: 100, filter: { participantId: client.id } });
    const ids = byClient.body.data!.conversations.edges.map((e) => e.node.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const e of byClient.body.data!.conversations.edges) {
      expect((e.node as unknown as { participants: Array<{ id: string }> }).participants.map((p) => p.id)).toContain(
        client.id,
      );
    }
  });

  it('shows one conversation with its messages, oldest to newest', async () => {
    const list = await t.gql<InboxData>(INBOX, { first: 1 });
    const id = list.body.data!.conversations.edges[0]!.node.id;
    const r = await t.gql<{
      conversation: {
        id: string;
        createdAt: string;
        messages: {
          totalCount: number;
          edges: Array<{ node: { sentAt: string; direction: string; conversation: { id: string } } }>;
        };
      };
    }>(
      `query($id: ID!) { conversation(id: $id) { id createdAt messages(last: 50) { totalCount edges { node { id sentAt direction content conversation { id } attachments { filename url } } } } } }`,
      { id },
    );
    expect(r.body.errors).toBeUndefined();
    const c = r.body.data!.conversation;
    expect(c.id).toBe(id);
    expect(c.createdAt).toMatch(/Z$/);
    expect(c.messages.edges.length).toBe(c.messages.totalCount);
    const sent = c.messages.edges.map((e) => Date.parse(e.node.sentAt));
    expect([...sent].sort((a, b) => a - b)).toEqual(sent);
    expect(c.messages.edges.every((e) => e.node.conversation.id === id)).toBe(true);
  });

  it('answers NOT_FOUND for an unknown conversation and FORBIDDEN for one the vendor denies', async () => {
    const missing = await t.gql(`query($id: ID!) { conversation(id: $id) { id } }`, {
      id: toGlobalId('Conversation', 'pixieset', 'conv_NOPE'),
    });
    expect(missing.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', source: 'pixieset' });
    const denied = await t.gql(`query($id: ID!) { conversation(id: $id) { id } }`, {
      id: toGlobalId('Conversation', 'pixieset', 'conv_FOREIGN000001'),
    });
    expect(denied.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', source: 'pixieset' });
  });

  it('sends a message with an attachment uploaded through the signed POST flow', async () => {
    const list = await t.gql<InboxData>(INBOX, { first: 1 });
    const conversationId = list.body.data!.conversations.edges[0]!.node.id;
    const file = Buffer.from('%PDF-1.4 a tiny contract\n');
    const up = await t.gql<{
      createAttachmentUpload: {
        url: string;
        method: string;
        attachmentId: string;
        expiresAt: string;
        fields: Array<{ name: string; value: string }>;
      };
    }>(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url method attachmentId expiresAt fields { name value } } }`,
      { input: { conversationId, filename: 'contract.pdf', contentType: 'application/pdf', size: file.length } },
    );
    expect(up.body.errors).toBeUndefined();
    const u = up.body.data!.createAttachmentUpload;
    expect(u.method).toBe('POST');
    expect(Date.parse(u.expiresAt)).toBeGreaterThan(Date.now());
    const form = new FormData();
    for (const f of u.fields) form.append(f.name, f.value);
    form.append('file', new Blob([file], { type: 'application/pdf' }), 'contract.pdf');
    const put = await fetch(u.url, { method: u.method, body: form });
    expect(put.status).toBe(204);

    const sent = await t.gql<{
      sendMessage: {
        id: string;
        content: string;
        direction: string;
        attachments: Array<{ filename: string; size: number; url: string }>;
      };
    }>(
      `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content direction attachments { filename size url } } }`,
      { input: { conversationId, content: 'Here is the contract.', attachmentIds: [u.attachmentId] } },
    );
    expect(sent.body.errors).toBeUndefined();
    const m = sent.body.data!.sendMessage;
    expect(m).toMatchObject({ content: 'Here is the contract.', direction: 'OUTGOING' });
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ filename: 'contract.pdf', size: file.length });
    const download = await fetch(m.attachments[0]!.url);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(file);

    const thread = await t.gql<{ conversation: { lastMessage: { id: string } } }>(
      `query($id: ID!) { conversation(id: $id) { lastMessage { id } } }`,
      { id: conversationId },
    );
    expect(thread.body.data!.conversation.lastMessage.id).toBe(m.id);
  });

  it('refuses an attachment above the source limit with FILE_TOO_LARGE before calling the source', async () => {
    const list = await t.gql<InboxData>(INBOX, { first: 1 });
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    px.clearRequests();
    const r = await t.gql(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url } }`,
      {
        input: {
          conversationId: list.body.data!.conversations.edges[0]!.node.id,
          filename: 'big.mov',
          contentType: 'video/quicktime',
          size: 10 * 1024 * 1024 + 1,
        },
      },
    );
    expect(r.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FILE_TOO_LARGE',
      source: 'pixieset',
      maxSize: 10485760,
    });
    expect(px.requests()).toHaveLength(0);
  });

  it('returns a typed error naming the source for an operation it cannot do', async () => {
    const list = await t.gql<InboxData>(INBOX, { first: 1 });
    const r = await t.gql(`mutation($id: ID!) { markConversationRead(id: $id) { id } }`, {
      id: list.body.data!.conversations.edges[0]!.node.id,
    });
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNSUPPORTED_OPERATION', source: 'pixieset' });
    expect(r.body.data).toBeNull();
  });

  it('reports the unread count the vendor reports', async () => {
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    const r = await t.gql<{
      unreadCount: {
        total: number;
        conversationsWithUnread: number;
        bySource: Array<{ source: { id: string }; total: number }>;
      };
    }>(`{ unreadCount { total conversationsWithUnread bySource { source { id } total } } }`);
    const vendor = px.controls.unreadState()!;
    expect(r.body.data!.unreadCount).toMatchObject({
      total: vendor.total,
      conversationsWithUnread: vendor.conversationsWithUnread,
    });
    expect(vendor.total).toBeGreaterThan(0);
  });

  it('counts upstream requests per operation when asked with X-Upstream-Stats', async () => {
    const r = await t.gql(INBOX, { first: 20 }, { 'x-upstream-stats': '1' });
    expect(r.body.extensions?.upstream).toEqual({ total: 1, bySource: [{ source: 'pixieset', requests: 1 }] });
  });

  it('requires an API key over HTTP (401 UNAUTHENTICATED)', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ sources { id } }"}',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
    const bad = await t.gql(`{ sources { id } }`, undefined, { authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
  });

  it('closes a WebSocket without a valid key with 4403', async () => {
    for (const key of ['wrong-key', null]) {
      const closed = deferred<number>();
      const client = createWsClient(t.wsUrl, key, { onClose: (c) => closed.resolve(c) });
      const sub = subscribe(client, `subscription { unreadCountChanged { total } }`);
      expect(await closed.promise).toBe(4403);
      expect(sub.values).toHaveLength(0);
      await client.dispose();
    }
  });

  it('pushes the current unread count first, then the change after a client writes and after a read', async () => {
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    const client = createWsClient(t.wsUrl, t.apiKey);
    const sub = subscribe<{ unreadCountChanged: { total: number } }>(
      client,
      `subscription { unreadCountChanged(sources: ["pixieset"]) { total conversationsWithUnread bySource { source { id } total } } }`,
    );
    const [first] = await sub.waitFor(1);
    const start = px.controls.unreadState()!.total;
    expect(first!.unreadCountChanged.total).toBe(start);

    const list = await t.gql<InboxData>(INBOX, { first: 1 });
    const nativeId = list.body.data!.conversations.edges[0]!.node.nativeId;
    px.controls.simulateIncoming({ conversationId: nativeId, content: 'Are we still on for Saturday?' });
    // Polling at the sandbox's 2 s interval picks it up.
    await sub.waitFor(2, 6000);
    expect(sub.values[1]!.unreadCountChanged.total).toBe(start + 1);

    // A reply through the gateway reads the thread (the emulator marks it read) and refreshes at once.
    await t.gql(`mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }`, {
      input: { conversationId: list.body.data!.conversations.edges[0]!.node.id, content: 'Yes, see you then!' },
    });
    await sub.waitFor(3, 3000);
    expect(sub.values[2]!.unreadCountChanged.total).toBe(px.controls.unreadState()!.total);
    expect(sub.values[2]!.unreadCountChanged.total).toBeLessThan(start + 1);
    sub.dispose();
    await client.dispose();
  });

  it('resolves node and nodes by global id, and null for ids it cannot see', async () => {
    const list = await t.gql<InboxData>(INBOX, { first: 2 });
    const [a, b] = list.body.data!.conversations.edges.map((e) => e.node.id);
    const r = await t.gql<{ nodes: Array<{ id: string; __typename: string } | null> }>(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`,
      {
        ids: [a, 'bm90LWFuLWlk', b],
      },
    );
    expect(r.body.data!.nodes).toEqual([
      { __typename: 'Conversation', id: a },
      null,
      { __typename: 'Conversation', id: b },
    ]);
  });
});
