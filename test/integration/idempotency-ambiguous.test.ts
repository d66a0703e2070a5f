import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { SourceKind } from '../../src/connectors/types';
import type { Faults } from '../../src/sandbox/kit/server';
import { AMBIGUOUS_HINT } from '../../src/schema/resolvers/Mutation';
import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';

/**
 * Idempotency after an ambiguous failure (issue 12 item 16). The emulators' `failAfterWrite` fault lets the vendor
 * carry out a send and then fails its answer (a 500, no answer at all, a reset socket). The gateway holds the key,
 * answers with the typed error plus `retryable` and a hint, and the retry with the same key finds the message at
 * the vendor (its newest messages, matched by content and time) instead of sending it again: exactly one message
 * at the vendor, one POST in its request log. Failures after which the vendor certainly did not act (a 4xx, a
 * refused connection) release the key, and the retry sends. A repeated send with staged attachments returns the
 * first result.
 */

const SEND = `mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { id content direction attachments { filename } conversation { id } }
}`;

/** Where each vendor takes a new message (the request log's path). */
const WRITE: Record<SourceKind, RegExp> = {
  PIXIESET: /^\/api\/v1\/conversation_messages$/,
  PROTOCOL: /^\/v1\/messages$/,
  CHATWOOT: /^\/api\/v1\/accounts\/\d+\/conversations\/\d+\/messages$/,
  MONICA: /^\/api\/conversations\/\d+\/messages$/,
};
const SOURCE: Record<SourceKind, string> = {
  PIXIESET: 'pixieset',
  PROTOCOL: 'protocol',
  CHATWOOT: 'chatwoot',
  MONICA: 'monica',
};
const KINDS = Object.keys(WRITE) as SourceKind[];

type Gql = TestGateway['gql'];
type Sent = { id: string; content: string; direction: string; attachments: Array<{ filename: string }> };

/** A TCP proxy in front of an emulator that can refuse connections (its listener closed) and take them again. */
async function startProxy(target: string) {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const open = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((client) => {
        const upstream = connect(Number(targetPort), hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  let server: Server | null = await open(0);
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    /** From now on connections to the proxy are refused. */
    refuse: close,
    async accept() {
      server = await open(port);
    },
    close,
  };
}

let embedded: Embedded;
let t: TestGateway;
let proxy: Awaited<ReturnType<typeof startProxy>>;

beforeAll(async () => {
  embedded = await startEmbedded({ kinds: KINDS, port: 0 });
  // Protocol is reached through the proxy (to refuse connections); a 2 s attempt timeout for answers that hang.
  proxy = await startProxy(embedded.sandbox.emulators.get('protocol')!.url);
  t = await startTestGateway({
    embedded,
    configure: (config) =>
      tuneSources(config, (s) => ({
        timeoutMs: 2000,
        ...(s.id === 'protocol' ? { baseUrl: s.baseUrl.replace(/^http:\/\/[^/]+/, proxy.url) } : {}),
      })),
  });
  embedded.sandbox.setWebhookBase(t.url);
}, 60_000);
afterAll(async () => {
  await t?.close();
  await proxy?.close();
  await embedded?.sandbox.close();
});

/** The first conversation of a source (as the gateway lists it). */
async function conversationOf(gql: Gql, source: string): Promise<string> {
  const r = await gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
    `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { edges { node { id } } } }`,
    { s: [source] },
  );
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.conversations.edges[0]!.node.id;
}

/** How many of the conversation's newest 100 messages at the vendor have this content. */
async function countAtVendor(gql: Gql, conversationId: string, content: string): Promise<number> {
  const r = await gql<{ conversation: { messages: { edges: Array<{ node: { content: string | null } }> } } }>(
    `query($id: ID!) { conversation(id: $id) { messages(last: 100) { edges { node { content } } } } }`,
    { id: conversationId },
  );
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.conversation.messages.edges.filter((e) => e.node.content === content).length;
}

const emulator = (kind: SourceKind) => t.embedded.sandbox.emulators.get(SOURCE[kind])!;
const writes = (kind: SourceKind) =>
  emulator(kind)
    .requests()
    .filter((r) => r.method === 'POST' && WRITE[kind].test(r.path));

const send = (conversationId: string, content: string, idempotencyKey: string, extra: Record<string, unknown> = {}) =>
  t.gql<{ sendMessage: Sent }>(SEND, { input: { conversationId, content, idempotencyKey, ...extra } });

describe.each(KINDS)('%s: a send whose answer failed after the write', (kind) => {
  const source = SOURCE[kind];
  const after = (f: Omit<NonNullable<Faults['failAfterWrite']>, 'method' | 'path'>): Faults => ({
    failAfterWrite: { method: 'POST', path: WRITE[kind].source, times: 1, ...f },
  });

  it.each([
    ['a 500 after the write', after({ status: 500 }), 'SOURCE_UNAVAILABLE'],
    ['no answer after the write (timeout)', after({ hang: true }), 'SOURCE_TIMEOUT'],
    ['a socket reset after the write', after({ reset: true }), 'SOURCE_UNAVAILABLE'],
  ])('%s: the key is held; the retry finds the message at the vendor and sends nothing', async (_, faults, code) => {
    const conversationId = await conversationOf(t.gql, source);
    const content = `Ambiguous ${kind} ${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    emulator(kind).clearRequests();
    emulator(kind).setFaults(faults);

    const first = await send(conversationId, content, key);
    expect(first.body.data?.sendMessage ?? null).toBeNull();
    expect(first.body.errors?.[0]?.extensions).toMatchObject({
      code,
      source,
      retryable: true,
      hint: AMBIGUOUS_HINT,
    });
    expect(writes(kind)).toHaveLength(1);
    emulator(kind).setFaults({});
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);

    const retry = await send(conversationId, content, key);
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data!.sendMessage).toMatchObject({
      content,
      direction: 'OUTGOING',
      conversation: { id: conversationId },
    });
    // Found, not sent again: still exactly one write at the vendor, and one message.
    expect(writes(kind)).toHaveLength(1);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);

    // The found message is now the key's result: a third call gets it, and writes nothing.
    emulator(kind).clearRequests();
    const third = await send(conversationId, content, key);
    expect(third.body).toEqual(retry.body);
    expect(writes(kind)).toHaveLength(0);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);
  });

  it('a 4xx releases the key: the retry sends (the vendor did not act)', async () => {
    const conversationId = await conversationOf(t.gql, source);
    const content = `Refused ${kind} ${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    const path = await writePathFor(kind, conversationId);
    emulator(kind).clearRequests();
    // The vendor refuses the write with a validation error, before writing anything.
    emulator(kind).setFaults({ statusByPath: { [path]: 422 } });
    const first = await send(conversationId, content, key);
    expect(first.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source });
    expect(first.body.errors?.[0]?.extensions?.retryable).toBeUndefined();
    emulator(kind).setFaults({});
    const retry = await send(conversationId, content, key);
    expect(retry.body.errors).toBeUndefined();
    expect(writes(kind)).toHaveLength(2);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);
  });
});

/** The exact path a send to this conversation writes to (the request log's), learnt from one plain send. */
async function writePathFor(kind: SourceKind, conversationId: string): Promise<string> {
  const before = writes(kind).length;
  const r = await send(conversationId, `Path probe ${randomUUID()}`, `k-${randomUUID()}`);
  expect(r.body.errors).toBeUndefined();
  const log = writes(kind);
  expect(log).toHaveLength(before + 1);
  return log[log.length - 1]!.path;
}

describe('a connection refused (nothing sent)', () => {
  it('releases the key: the retry sends, without looking for the message first', async () => {
    const conversationId = await conversationOf(t.gql, 'protocol');
    const content = `Refused connection ${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    emulator('PROTOCOL').clearRequests();
    await proxy.refuse();
    let first;
    try {
      first = await send(conversationId, content, key);
    } finally {
      await proxy.accept();
    }
    expect(first.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'protocol' });
    expect(first.body.errors?.[0]?.extensions?.retryable).toBeUndefined();
    expect(emulator('PROTOCOL').requests()).toHaveLength(0);

    const retry = await send(conversationId, content, key);
    expect(retry.body.errors).toBeUndefined();
    // One write, and no read of the conversation's messages before it (a released key is not looked up).
    const log = emulator('PROTOCOL').requests();
    expect(writes('PROTOCOL')).toHaveLength(1);
    const firstWrite = log.findIndex((r) => r.method === 'POST' && WRITE.PROTOCOL.test(r.path));
    expect(log.slice(0, firstWrite).filter((r) => r.method === 'GET' && r.path === '/v1/messages')).toEqual([]);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);
  });
});

describe.each(['PROTOCOL', 'CHATWOOT'] as const)('%s: a send with staged attachments', (kind) => {
  const source = SOURCE[kind];
  type Upload = { url: string; attachmentId: string; fields: Array<{ name: string; value: string }> };

  /** createAttachmentUpload, then the file's POST to the gateway's staging: the attachment id to send. */
  async function stage(conversationId: string): Promise<string> {
    const r = await t.gql<{ createAttachmentUpload: Upload }>(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url attachmentId fields { name value } } }`,
      { input: { conversationId, filename: 'notes.txt', contentType: 'text/plain', size: 5 } },
    );
    expect(r.body.errors).toBeUndefined();
    const u = r.body.data!.createAttachmentUpload;
    const form = new FormData();
    for (const f of u.fields) form.append(f.name, f.value);
    form.append('file', new Blob([new Uint8Array(Buffer.from('hello'))], { type: 'text/plain' }), 'notes.txt');
    const res = await fetch(u.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    return u.attachmentId;
  }

  it('a repeat with the same key returns the first result (the staged upload it consumed is not checked again)', async () => {
    const conversationId = await conversationOf(t.gql, source);
    const attachmentIds = [await stage(conversationId)];
    const content = `With a file ${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    emulator(kind).clearRequests();
    const first = await send(conversationId, content, key, { attachmentIds });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.sendMessage.attachments).toHaveLength(1);
    const again = await send(conversationId, content, key, { attachmentIds });
    expect(again.body).toEqual(first.body);
    expect(writes(kind)).toHaveLength(1);
  });

  it('after a 500 that followed the write, the retry finds the message with its file and sends nothing', async () => {
    const conversationId = await conversationOf(t.gql, source);
    const attachmentIds = [await stage(conversationId)];
    const content = `With a file, answer lost ${randomUUID()}`;
    const key = `k-${randomUUID()}`;
    emulator(kind).clearRequests();
    emulator(kind).setFaults({ failAfterWrite: { method: 'POST', path: WRITE[kind].source, status: 500, times: 1 } });
    const first = await send(conversationId, content, key, { attachmentIds });
    emulator(kind).setFaults({});
    expect(first.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
    const retry = await send(conversationId, content, key, { attachmentIds });
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data!.sendMessage).toMatchObject({ content, attachments: [{}] });
    expect(writes(kind)).toHaveLength(1);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(1);
    // The staged upload was consumed with the found message: the same id cannot be sent again with a new key.
    const reuse = await send(conversationId, `${content} again`, `k-${randomUUID()}`, { attachmentIds });
    expect(reuse.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.attachmentIds' });
  });
});

describe.each(['CHATWOOT', 'MONICA'] as const)('%s: one message answers one key', (kind) => {
  it('the retry does not take an identical message another key sent meanwhile: it sends its own', async () => {
    const source = SOURCE[kind];
    const conversationId = await conversationOf(t.gql, source);
    const content = `Same words ${randomUUID()}`;
    const [a, b] = [`k-${randomUUID()}`, `k-${randomUUID()}`];
    emulator(kind).clearRequests();
    // A: a 500 before anything is written (ambiguous to the gateway: the key is held).
    emulator(kind).setFaults({ errorRate: 1 });
    const first = await send(conversationId, content, a);
    emulator(kind).setFaults({});
    expect(first.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
    // B: the same words, sent.
    const other = await send(conversationId, content, b);
    expect(other.body.errors).toBeUndefined();
    // A's retry sees B's message in the window, passes over it, and sends A's own.
    const retry = await send(conversationId, content, a);
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data!.sendMessage.id).not.toBe(other.body.data!.sendMessage.id);
    expect(writes(kind).filter((r) => r.status < 300)).toHaveLength(2);
    expect(await countAtVendor(t.gql, conversationId, content)).toBe(2);
  });
});
