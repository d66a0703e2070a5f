import type { EmulatorHandle, RequestLogEntry } from '../../src/sandbox/kit/server';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Protocol's documents show every write as `curl -d key=value` (form-encoded) and uploads as `curl -F file=...`
 * (multipart); JSON bodies appear nowhere (docs/vendors/protocol.md "Request bodies"). Every write the gateway makes
 * must go out that way: the emulator (which refuses JSON by default) logs the content type and raw body of each.
 */
let t: TestGateway;
let emu: EmulatorHandle;

beforeAll(async () => {
  t = await startTestGateway({ kinds: ['PROTOCOL'], scale: 2, rateLimitPerMinute: 1_000_000 });
  emu = t.embedded.sandbox.emulators.get('protocol') as EmulatorHandle;
});
afterAll(async () => {
  await t.close();
});

type Conv = { id: string; status: string; participants: Array<{ id: string; kind: string }> };

async function ok<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await t.gql<T>(query, variables);
  expect(r.body.errors).toBeUndefined();
  return r.body.data as T;
}

const FORM = /^application\/x-www-form-urlencoded/;
const writes = () => emu.requests().filter((r) => r.method === 'POST' || r.method === 'PUT');
const decoded = (e: RequestLogEntry) => Object.fromEntries(new URLSearchParams(e.body ?? '').entries());

it('sends every write form-encoded, and files as multipart, never JSON', async () => {
  const { conversations } = await ok<{ conversations: { nodes: Conv[] } }>(
    `{ conversations(first: 20, filter: { status: [OPEN] }) { nodes { id status participants { id kind } } } }`,
    {},
  );
  const [c, other] = conversations.nodes as [Conv, Conv];
  const contact = other.participants.find((p) => p.kind === 'CONTACT') as { id: string };
  emu.clearRequests();

  // sendMessage, with a staged file (Protocol uploads INLINE: POST /v1/attachments, then the message).
  const upload = await ok<{
    createAttachmentUpload: {
      url: string;
      attachmentId: string;
      method: string;
      fields: Array<{ name: string; value: string }>;
    };
  }>(
    `mutation($i: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $i) { url method attachmentId fields { name value } } }`,
    { i: { conversationId: c.id, filename: 'notes.txt', contentType: 'text/plain', size: 6 } },
  );
  const form = new FormData();
  for (const f of upload.createAttachmentUpload.fields) form.append(f.name, f.value);
  form.append('file', new Blob([Buffer.from('notes\n')], { type: 'text/plain' }), 'notes.txt');
  expect(
    (await fetch(upload.createAttachmentUpload.url, { method: upload.createAttachmentUpload.method, body: form }))
      .status,
  ).toBeLessThan(300);
  const sent = await ok<{ sendMessage: { id: string } }>(
    `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`,
    {
      i: {
        conversationId: c.id,
        content: 'Hello & welcome',
        attachmentIds: [upload.createAttachmentUpload.attachmentId],
      },
    },
  );
  await ok(`mutation($i: EditMessageInput!) { editMessage(input: $i) { id } }`, {
    i: { id: sent.sendMessage.id, content: 'Edited' },
  });
  for (const patch of [{ archived: true, pinned: true }, { archived: false }, { muted: true }]) {
    await ok(`mutation($i: UpdateConversationInput!) { updateConversation(input: $i) { id } }`, {
      i: { id: c.id, ...patch },
    });
  }
  await ok(`mutation($i: CreateConversationInput!) { createConversation(input: $i) { id } }`, {
    i: { sourceId: 'protocol', participantIds: [contact.id], content: 'A first message' },
  });
  await ok(`mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: sent.sendMessage.id });

  const log = writes();
  const kinds = [...new Set(log.map((r) => `${r.method} ${r.path.replace(/\/[A-Za-z0-9]{16}$/, '/:id')}`))].sort();
  expect(kinds).toEqual([
    'POST /v1/attachments',
    'POST /v1/conversations',
    'POST /v1/messages',
    'PUT /v1/conversations/:id',
    'PUT /v1/messages/:id',
  ]);
  for (const r of log) {
    if (r.path === '/v1/attachments') expect(r.contentType).toMatch(/^multipart\/form-data; boundary=/);
    else expect([r.path, r.contentType]).toEqual([r.path, expect.stringMatching(FORM)]);
    expect(r.status).toBeLessThan(300);
  }
  expect(log.some((r) => /json/.test(r.contentType ?? ''))).toBe(false);

  // The bodies are the reference's: plain fields, `attachments[]` for the id array, an empty value to clear.
  const messages = log.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
  expect(messages[0]?.body).toMatch(/^conversation_id=\w{16}&message=Hello\+%26\+welcome&attachments%5B%5D=\w{16}$/);
  expect(decoded(messages[1] as RequestLogEntry)).toEqual({
    conversation_id: expect.any(String),
    message: 'A first message',
  });
  const puts = log.filter((r) => r.method === 'PUT' && r.path.startsWith('/v1/conversations/')).map(decoded);
  expect(puts).toEqual([
    { archived_at: expect.stringMatching(/^\d+$/), is_pinned: 'true' },
    { archived_at: '' },
    { is_muted: 'true' },
  ]);
  expect(decoded(log.find((r) => r.method === 'PUT' && r.path.startsWith('/v1/messages/')) as RequestLogEntry)).toEqual(
    { message: 'Edited' },
  );
});

it('deletes without a body', async () => {
  const { conversations } = await ok<{ conversations: { nodes: Conv[] } }>(
    `{ conversations(first: 1) { nodes { id status participants { id kind } } } }`,
    {},
  );
  emu.clearRequests();
  await ok(`mutation($id: ID!) { deleteConversation(id: $id) { id } }`, { id: conversations.nodes[0]?.id });
  const deletes = emu.requests().filter((r) => r.method === 'DELETE');
  expect(deletes).toHaveLength(1);
  expect(deletes[0]?.contentType).toBeUndefined();
  expect(writes()).toEqual([]);
});
