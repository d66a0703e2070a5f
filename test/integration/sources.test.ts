import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Every operation of the schema through the gateway, for each of the four sources: it works where the source
 * declares the capability, and fails with a typed error naming the source where it does not.
 */
type Caps = {
  sendMessage: boolean;
  markRead: boolean;
  markUnread: boolean;
  createConversation: boolean;
  deleteConversation: boolean;
  editMessage: boolean;
  deleteMessage: boolean;
  attachments: boolean;
  maxAttachmentSize: number | null;
  mute: boolean;
  pin: boolean;
  archive: boolean;
  labels: boolean;
  privateMessages: boolean;
  unreadCounts: boolean;
  settableStatuses: string[];
};
type Source = { id: string; kind: string; capabilities: Caps };
type Conv = {
  id: string;
  unreadCount: number | null;
  participants: Array<{ id: string; kind: string }>;
  status: string;
};

let t: TestGateway;
let sources: Source[];

beforeAll(async () => {
  t = await startTestGateway({ scale: 2, rateLimitPerMinute: 1_000_000 });
  const r = await t.gql<{ sources: Source[] }>(`{ sources { id kind capabilities {
    sendMessage markRead markUnread createConversation deleteConversation editMessage deleteMessage attachments
    maxAttachmentSize mute pin archive labels privateMessages unreadCounts settableStatuses } } }`);
  sources = r.body.data!.sources;
});
afterAll(async () => {
  await t.close();
});

async function aConversation(sourceId: string, filter: Record<string, unknown> = {}): Promise<Conv> {
  const r = await t.gql<{ conversations: { edges: Array<{ node: Conv }> } }>(
    `query($f: ConversationFilter) { conversations(first: 5, filter: $f) { edges { node { id unreadCount status participants { id kind } } } } }`,
    { f: { sources: [sourceId], ...filter } },
  );
  expect(r.body.errors).toBeUndefined();
  const node = r.body.data!.conversations.edges[0]?.node;
  expect(node).toBeDefined();
  return node!;
}

function expectUnsupported(body: { errors?: Array<{ extensions?: Record<string, unknown> }> }, sourceId: string) {
  expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UNSUPPORTED_OPERATION', source: sourceId });
}

const KINDS = ['PIXIESET', 'PROTOCOL', 'CHATWOOT', 'MONICA'];

describe.each(KINDS)('%s through the gateway', (kind) => {
  const src = () => sources.find((s) => s.kind === kind)!;

  it('lists, opens a thread and resolves every message field', async () => {
    const c = await aConversation(src().id);
    const r = await t.gql<{
      conversation: {
        source: { kind: string };
        messages: { edges: Array<{ node: { id: string; sender: { name: string } | null; direction: string } }> };
      };
    }>(
      `query($id: ID!) { conversation(id: $id) { source { kind } messages(last: 20) { edges { node { id content sentAt direction private sender { name kind } attachments { filename url } conversation { id } } } } } }`,
      { id: c.id },
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.conversation.source.kind).toBe(kind);
    expect(r.body.data!.conversation.messages.edges.length).toBeGreaterThan(0);
  });

  it('sends a message, with an attachment where it takes files, or refuses naming the source', async () => {
    const s = src();
    const c = await aConversation(s.id, { status: ['OPEN'] });
    const send = (input: Record<string, unknown>) =>
      t.gql<{
        sendMessage: { content: string; direction: string; attachments: Array<{ filename: string; url: string }> };
      }>(
        `mutation($input: SendMessageInput!) { sendMessage(input: $input) { content direction attachments { filename url } } }`,
        { input: { conversationId: c.id, ...input } },
      );
    if (!s.capabilities.sendMessage) return expectUnsupported((await send({ content: 'x' })).body, s.id);
    const plain = await send({ content: 'Hello from the gateway' });
    expect(plain.body.data?.sendMessage).toMatchObject({ content: 'Hello from the gateway', direction: 'OUTGOING' });

    const up = await t.gql<{
      createAttachmentUpload: {
        url: string;
        method: string;
        attachmentId: string;
        fields: Array<{ name: string; value: string }>;
      };
    }>(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url method attachmentId fields { name value } } }`,
      { input: { conversationId: c.id, filename: 'notes.txt', contentType: 'text/plain', size: 6 } },
    );
    if (!s.capabilities.attachments) return expectUnsupported(up.body, s.id);
    const u = up.body.data!.createAttachmentUpload;
    const form = new FormData();
    for (const f of u.fields) form.append(f.name, f.value);
    form.append('file', new Blob([Buffer.from('notes\n')], { type: 'text/plain' }), 'notes.txt');
    const res = await fetch(u.url, { method: u.method, body: form });
    expect(res.status).toBeLessThan(300);
    const withFile = await send({ content: 'See attached', attachmentIds: [u.attachmentId] });
    expect(withFile.body.errors).toBeUndefined();
    const att = withFile.body.data!.sendMessage.attachments;
    expect(att).toHaveLength(1);
    expect(await (await fetch(att[0]!.url)).text()).toBe('notes\n');
  });

  it('refuses an attachment above its limit with FILE_TOO_LARGE before calling the source', async () => {
    const s = src();
    const c = await aConversation(s.id);
    const r = await t.gql(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url } }`,
      {
        input: {
          conversationId: c.id,
          filename: 'big.bin',
          contentType: 'application/octet-stream',
          size: (s.capabilities.maxAttachmentSize ?? 0) + 1,
        },
      },
    );
    if (!s.capabilities.attachments) return expectUnsupported(r.body, s.id);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FILE_TOO_LARGE',
      source: s.id,
      maxSize: s.capabilities.maxAttachmentSize,
    });
  });

  it('marks read and unread, or refuses naming the source', async () => {
    const s = src();
    const c = await aConversation(s.id);
    const read = await t.gql<{ markConversationRead: { unreadCount: number } }>(
      `mutation($id: ID!) { markConversationRead(id: $id) { unreadCount } }`,
      { id: c.id },
    );
    if (!s.capabilities.markRead) expectUnsupported(read.body, s.id);
    else expect(read.body.data!.markConversationRead.unreadCount).toBe(0);
    const unread = await t.gql<{ markConversationUnread: { unreadCount: number } }>(
      `mutation($id: ID!) { markConversationUnread(id: $id) { unreadCount } }`,
      { id: c.id },
    );
    if (!s.capabilities.markUnread) expectUnsupported(unread.body, s.id);
    else expect(unread.body.errors).toBeUndefined();
  });

  it('updates what it declares and refuses the rest, naming the source', async () => {
    const s = src();
    const c = await aConversation(s.id);
    const update = (input: Record<string, unknown>) =>
      t.gql<{
        updateConversation: { status: string; muted: boolean; pinned: boolean; archived: boolean; labels: string[] };
      }>(
        `mutation($input: UpdateConversationInput!) { updateConversation(input: $input) { status muted pinned archived labels } }`,
        { input: { id: c.id, ...input } },
      );
    for (const [cap, patch, field, value] of [
      ['pin', { pinned: true }, 'pinned', true],
      ['labels', { labels: ['vip'] }, 'labels', ['vip']],
      ['mute', { muted: true }, 'muted', true],
      ['archive', { archived: true }, 'archived', true],
    ] as const) {
      const r = await update(patch);
      if (!s.capabilities[cap]) expectUnsupported(r.body, s.id);
      else expect(r.body.data!.updateConversation[field]).toEqual(value);
    }
    for (const status of ['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED', 'ARCHIVED']) {
      const r = await update({ status });
      if (!s.capabilities.settableStatuses.includes(status)) expectUnsupported(r.body, s.id);
      else expect(r.body.data!.updateConversation.status).toBe(status);
    }
  });

  it('creates and deletes conversations, or refuses naming the source', async () => {
    const s = src();
    const c = await aConversation(s.id);
    const contact = c.participants.find((p) => p.kind === 'CONTACT')!;
    const created = await t.gql<{ createConversation: { id: string; source: { id: string } } }>(
      `mutation($input: CreateConversationInput!) { createConversation(input: $input) { id source { id } } }`,
      {
        input: {
          sourceId: s.id,
          participantIds: [contact.id],
          content: 'Starting a new thread',
          idempotencyKey: `create-${s.id}`,
        },
      },
    );
    if (!s.capabilities.createConversation) expectUnsupported(created.body, s.id);
    else {
      expect(created.body.errors).toBeUndefined();
      expect(created.body.data!.createConversation.source.id).toBe(s.id);
    }
    const del = await t.gql<{ deleteConversation: { deleted: boolean } }>(
      `mutation($id: ID!) { deleteConversation(id: $id) { id deleted } }`,
      { id: c.id },
    );
    if (!s.capabilities.deleteConversation) expectUnsupported(del.body, s.id);
    else {
      expect(del.body.data!.deleteConversation.deleted).toBe(true);
      const gone = await t.gql(`query($id: ID!) { conversation(id: $id) { id } }`, { id: c.id });
      expect(gone.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('edits and deletes messages, or refuses naming the source', async () => {
    const s = src();
    const c = await aConversation(s.id, { status: ['OPEN'] });
    const thread = await t.gql<{ conversation: { messages: { edges: Array<{ node: { id: string } }> } } }>(
      `query($id: ID!) { conversation(id: $id) { messages(last: 1) { edges { node { id } } } } }`,
      { id: c.id },
    );
    const id = thread.body.data!.conversation.messages.edges[0]!.node.id;
    const edit = await t.gql<{ editMessage: { content: string } }>(
      `mutation($input: EditMessageInput!) { editMessage(input: $input) { content } }`,
      {
        input: { id, content: 'Edited' },
      },
    );
    if (!s.capabilities.editMessage) expectUnsupported(edit.body, s.id);
    else expect(edit.body.data!.editMessage.content).toBe('Edited');
    const del = await t.gql(`mutation($id: ID!) { deleteMessage(id: $id) { deleted } }`, { id });
    if (!s.capabilities.deleteMessage) expectUnsupported(del.body, s.id);
    else expect(del.body.errors).toBeUndefined();
  });
});

describe('tenant isolation', () => {
  it('a key limited to one source sees nothing of the others', async () => {
    const hidden = await aConversation(sources.find((s) => s.kind === 'CHATWOOT')!.id);
    const as = (q: string, v?: Record<string, unknown>) => t.gql(q, v, { authorization: `Bearer ${t.limitedKey}` });
    const visible = await as(`{ sources { id } }`);
    expect(visible.body.data).toEqual({ sources: [{ id: sources[0]!.id }] });
    const r = await as(`query($id: ID!) { conversation(id: $id) { id } }`, { id: hidden.id });
    expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND' });
    expect(JSON.stringify(r.body)).not.toContain('chatwoot');
    const n = await as(`query($id: ID!) { node(id: $id) { id } }`, { id: hidden.id });
    expect(n.body.data).toEqual({ node: null });
    const m = await as(`mutation($id: ID!) { markConversationRead(id: $id) { id } }`, { id: hidden.id });
    expect(m.body.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND' });
  });
});
