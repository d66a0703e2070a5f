import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createLiveClient, type LiveClient, type LiveSubscription } from '../utils/liveClient';
import { eventually } from '../live/helpers';

/**
 * # Thread events from every webhook and from the gateway's deletes (issue 14)
 *
 * Over real HTTP and graphql-ws, against the emulators: Protocol's message.* webhooks become MessageAdded /
 * MessageUpdated / MessageDeleted, Chatwoot's conversation_status_changed / conversation_updated become
 * ConversationUpdated { changedFields }, the gateway's own write and the vendor's webhook of it are one event, a
 * real change back and forth is each delivered, and deleteMessage publishes MessageDeleted on every source that can
 * delete (docs/live.md "Thread events").
 */
type Event = {
  conversationEvents: {
    __typename: string;
    conversationId: string;
    messageId?: string;
    message?: { id: string; content: string | null };
    changedFields?: string[];
    conversation?: { id: string; status: string; labels: string[] };
  };
};
const EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) {
    __typename conversationId
    ... on MessageAdded { message { id content } }
    ... on MessageUpdated { message { id content } }
    ... on MessageDeleted { messageId }
    ... on ConversationUpdated { changedFields conversation { id status labels } }
  }
}`;
const SEND = `mutation($id: ID!, $c: String!) { sendMessage(input: { conversationId: $id, content: $c }) { id content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(input: { id: $id, content: $c }) { id content } }`;
const DELETE = `mutation($id: ID!) { deleteMessage(id: $id) { deleted } }`;
const STATUS = `mutation($id: ID!, $s: ConversationStatus!) { updateConversation(input: { id: $id, status: $s }) { id status } }`;

let t: TestGateway;
let client: LiveClient;
let relay: Server;
const subs: Array<LiveSubscription<Event>> = [];
/** Webhook deliveries the gateway answered, by `<source>:<event or type>`. */
const delivered = new Map<string, number>();

/**
 * Between the emulators and the gateway: forwards every webhook delivery as it came and counts it once the gateway
 * answered (its events are published by then), so a test knows when the vendor's echo of a write was heard.
 */
function startRelay(target: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
      void fetch(`${target()}${req.url}`, { method: 'POST', headers, body })
        .then(async (r) => {
          await r.arrayBuffer();
          const json = JSON.parse(body.toString('utf8')) as { event?: string; type?: string };
          const key = `${req.url!.split('/')[2]!.split('?')[0]}:${json.event ?? json.type}`;
          delivered.set(key, (delivered.get(key) ?? 0) + 1);
          res.writeHead(r.status).end();
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const count = (key: string) => delivered.get(key) ?? 0;
/** Resolves once `n` more deliveries of `key` than `from` were answered. */
const heard = (key: string, from: number, n: number) =>
  eventually(() => expect(count(key)).toBeGreaterThanOrEqual(from + n));

beforeAll(async () => {
  t = await startTestGateway({ kinds: ['PROTOCOL', 'CHATWOOT', 'MONICA', 'PIXIESET'] });
  relay = await startRelay(() => t.url);
  t.embedded.sandbox.setWebhookBase(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`);
  client = createLiveClient('ws', t, t.apiKey);
});
afterEach(() => subs.splice(0).forEach((s) => s.dispose()));
afterAll(async () => {
  await client.close();
  await new Promise((resolve) => relay.close(resolve));
  await t.close();
});

const emulator = (id: string) => t.embedded.sandbox.emulators.get(id)!;
const source = (id: string) => t.embedded.config.sources.find((s) => s.id === id)! as unknown;
const subscribe = (conversationId: string) => {
  const s = client.subscribe<Event>(EVENTS, { ids: [conversationId] });
  subs.push(s);
  return s;
};
/** What a subscriber saw, as `kind:content|messageId|status[fields]`. */
const seen = (s: LiveSubscription<Event>) =>
  s.values.map(({ conversationEvents: e }) => {
    if (e.__typename === 'ConversationUpdated')
      return `${e.__typename}:${e.conversation!.status}[${e.changedFields!.join(',')}]`;
    return `${e.__typename}:${e.message?.content ?? e.messageId ?? ''}`;
  });

async function conversations(sourceId: string, status = 'OPEN') {
  const r = await t.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
    `query($s: [ID!], $st: [ConversationStatus!]) { conversations(first: 10, filter: { sources: $s, status: $st }) { edges { node { id nativeId } } } }`,
    { s: [sourceId], st: [status] },
  );
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.conversations.edges.map((e) => e.node);
}

/**
 * Waits until the subscription is live and everything published on the source's topic before now has reached it:
 * a message simulated at the vendor comes through its webhook after those (one topic per source, in order).
 */
async function marker(sourceId: string, control: string, sub: LiveSubscription<Event>, text: string) {
  await eventually(async () => {
    emulator(sourceId).controls.simulateIncoming({ conversationId: control, content: text });
    await sub.waitFor(sub.values.length + 1, 1000);
    expect(seen(sub)).toContain(`MessageAdded:${text}`);
  });
}
/** The vendor requests since `clearRequests`, numbers as `:n`. */
const paths = (sourceId: string) =>
  emulator(sourceId)
    .requests()
    .map((r) => `${r.method} ${r.path.replace(/\?.*/, '').replace(/\/\d+/g, '/:n')}`);
const withoutMarkers = (s: LiveSubscription<Event>) => seen(s).filter((v) => !v.includes(':marker'));

describe('Protocol webhooks', () => {
  it('turns the vendor-side message.created and message.deleted webhooks into MessageAdded and MessageDeleted, once each', async () => {
    const [conv] = await conversations('protocol');
    const sub = subscribe(conv!.id);
    await marker('protocol', conv!.nativeId, sub, 'marker 1');
    const before = count('protocol:message.deleted');
    const simulated = emulator('protocol').controls.simulateIncoming({
      conversationId: conv!.nativeId,
      content: 'from the vendor',
    }) as { id: string };
    await eventually(() => expect(seen(sub)).toContain('MessageAdded:from the vendor'));
    // A delete made at the vendor (its REST API, not the gateway): only its webhook tells.
    const cfg = source('protocol') as { credentials: { token: string } };
    const res = await fetch(`${emulator('protocol').url}/v1/messages/${simulated.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${cfg.credentials.token}` },
    });
    expect(res.status).toBe(204);
    await heard('protocol:message.deleted', before, 1);
    await marker('protocol', conv!.nativeId, sub, 'marker 2');
    const messageId = sub.values.find((v) => v.conversationEvents.message?.content === 'from the vendor')!
      .conversationEvents.message!.id;
    expect(withoutMarkers(sub)).toEqual(['MessageAdded:from the vendor', `MessageDeleted:${messageId}`]);
    expect(sub.values.at(-2)!.conversationEvents.conversationId).toBe(conv!.id);
    expect(sub.errors).toEqual([]);
  });

  it("publishes the gateway's own send, edit and delete once each although every one of them comes back as a webhook", async () => {
    const [conv] = await conversations('protocol');
    const sub = subscribe(conv!.id);
    await marker('protocol', conv!.nativeId, sub, 'marker 3');
    const before = ['created', 'updated', 'deleted'].map((a) => count(`protocol:message.${a}`));
    const sent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: conv!.id, c: 'sent here' });
    expect(sent.body.errors).toBeUndefined();
    const id = sent.body.data!.sendMessage.id;
    // Each write is published before the mutation answers.
    expect(seen(sub)).toContain('MessageAdded:sent here');
    const edited = await t.gql(EDIT, { id, c: 'edited here' });
    expect(edited.body.errors).toBeUndefined();
    expect(seen(sub)).toContain('MessageUpdated:edited here');
    const deleted = await t.gql(DELETE, { id });
    expect(deleted.body.errors).toBeUndefined();
    expect(seen(sub)).toContain(`MessageDeleted:${id}`);
    // message.created, message.updated, message.deleted: all three echoes arrived and added nothing.
    await heard('protocol:message.created', before[0]!, 1);
    await heard('protocol:message.updated', before[1]!, 1);
    await heard('protocol:message.deleted', before[2]!, 1);
    await marker('protocol', conv!.nativeId, sub, 'marker 4');
    expect(withoutMarkers(sub)).toEqual([
      'MessageAdded:sent here',
      'MessageUpdated:edited here',
      `MessageDeleted:${id}`,
    ]);
  });

  it('costs the delete no request more: the message it reads for its conversation is the one the delete reads anyway', async () => {
    const [conv] = await conversations('protocol');
    const sent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: conv!.id, c: 'to delete' });
    expect(sent.body.errors).toBeUndefined();
    emulator('protocol').clearRequests();
    const deleted = await t.gql(DELETE, { id: sent.body.data!.sendMessage.id });
    expect(deleted.body.errors).toBeUndefined();
    const calls = emulator('protocol')
      .requests()
      .map((r) => `${r.method} ${r.path.replace(/\/[A-Za-z0-9]{16}/g, '/:id').replace(/\?.*/, '')}`);
    expect(calls.filter((c) => c.startsWith('GET /v1/messages/:id') || c.startsWith('DELETE'))).toEqual([
      'GET /v1/messages/:id',
      'DELETE /v1/messages/:id',
    ]);
  });
});

describe('Chatwoot conversation webhooks', () => {
  const chatwoot = async () => {
    const [conv] = await conversations('chatwoot');
    return conv!;
  };
  /** A status change made at the vendor (its REST API, as an agent in Chatwoot's dashboard would). */
  const toggleAtVendor = async (nativeId: string, status: string) => {
    const cfg = source('chatwoot') as { accountId: number; credentials: { apiAccessToken: string } };
    const display = nativeId.split(':')[1];
    const res = await fetch(
      `${emulator('chatwoot').url}/api/v1/accounts/${cfg.accountId}/conversations/${display}/toggle_status`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', api_access_token: cfg.credentials.apiAccessToken },
        body: JSON.stringify({ status }),
      },
    );
    expect(res.status).toBe(200);
  };

  it('turns a status change made at the vendor (conversation_status_changed + conversation_updated) into one ConversationUpdated [STATUS]', async () => {
    const conv = await chatwoot();
    const sub = subscribe(conv.id);
    await marker('chatwoot', conv.nativeId, sub, 'marker 5');
    const status = count('chatwoot:conversation_status_changed');
    const updated = count('chatwoot:conversation_updated');
    await toggleAtVendor(conv.nativeId, 'pending');
    await heard('chatwoot:conversation_status_changed', status, 1);
    await heard('chatwoot:conversation_updated', updated, 1);
    await marker('chatwoot', conv.nativeId, sub, 'marker 6');
    expect(withoutMarkers(sub)).toEqual(['ConversationUpdated:PENDING[STATUS]']);
    expect(
      sub.values.find((v) => v.conversationEvents.__typename === 'ConversationUpdated')!.conversationEvents,
    ).toMatchObject({ conversationId: conv.id, conversation: { id: conv.id, status: 'PENDING' } });
  });

  it("publishes the gateway's own updateConversation once though both of the vendor's webhooks for it come back, and each later change back and forth", async () => {
    const conv = await chatwoot();
    const sub = subscribe(conv.id);
    await marker('chatwoot', conv.nativeId, sub, 'marker 7');
    const status = count('chatwoot:conversation_status_changed');
    const updated = count('chatwoot:conversation_updated');
    // Changes apart in time, each one's two webhooks (conversation_status_changed, conversation_updated) in before
    // the next: a change back to a value set before is a new change.
    for (const [i, value] of ['RESOLVED', 'OPEN', 'RESOLVED'].entries()) {
      const r = await t.gql(STATUS, { id: conv.id, s: value });
      expect(r.body.errors).toBeUndefined();
      await heard('chatwoot:conversation_status_changed', status, i + 1);
      await heard('chatwoot:conversation_updated', updated, i + 1);
    }
    // A change made at the vendor to a value the gateway set a moment ago is a new change.
    await toggleAtVendor(conv.nativeId, 'open');
    await heard('chatwoot:conversation_status_changed', status, 4);
    await heard('chatwoot:conversation_updated', updated, 4);
    await marker('chatwoot', conv.nativeId, sub, 'marker 8');
    expect(withoutMarkers(sub)).toEqual([
      'ConversationUpdated:RESOLVED[STATUS]',
      'ConversationUpdated:OPEN[STATUS]',
      'ConversationUpdated:RESOLVED[STATUS]',
      'ConversationUpdated:OPEN[STATUS]',
    ]);
  });

  it("publishes the gateway's labels change as one ConversationUpdated [LABELS], its conversation_updated echo adding nothing", async () => {
    const conv = await chatwoot();
    const sub = subscribe(conv.id);
    await marker('chatwoot', conv.nativeId, sub, 'marker 9');
    const before = count('chatwoot:conversation_updated');
    const r = await t.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, labels: ["billing"] }) { id } }`, {
      id: conv.id,
    });
    expect(r.body.errors).toBeUndefined();
    await heard('chatwoot:conversation_updated', before, 1);
    await marker('chatwoot', conv.nativeId, sub, 'marker 10');
    const updates = sub.values.filter((v) => v.conversationEvents.__typename === 'ConversationUpdated');
    expect(updates.map((v) => v.conversationEvents.changedFields)).toEqual([['LABELS']]);
    expect(updates[0]!.conversationEvents.conversation!.labels).toEqual(['billing']);
  });
});

describe('deleteMessage on every source', () => {
  it('publishes MessageDeleted at once on Chatwoot (once, with its soft-delete webhook) and Monica; Pixieset cannot delete', async () => {
    // Chatwoot: the message's native id names its conversation; the soft delete's message_updated echo adds nothing.
    const [cw] = await conversations('chatwoot');
    const cwSub = subscribe(cw!.id);
    await marker('chatwoot', cw!.nativeId, cwSub, 'marker 11');
    const before = count('chatwoot:message_updated');
    const cwSent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: cw!.id, c: 'chatwoot delete' });
    const cwId = cwSent.body.data!.sendMessage.id;
    emulator('chatwoot').clearRequests();
    expect((await t.gql(DELETE, { id: cwId })).body.errors).toBeUndefined();
    // The message read for its conversation is one request more than the delete alone (docs/live.md "Thread events").
    expect(paths('chatwoot')).toEqual([
      'GET /api/v1/accounts/:n/conversations/:n/messages',
      'DELETE /api/v1/accounts/:n/conversations/:n/messages/:n',
      'GET /api/v1/accounts/:n/conversations/:n',
      'GET /api/v1/accounts/:n/conversations/:n',
    ]);
    expect(seen(cwSub)).toContain(`MessageDeleted:${cwId}`);
    // The soft delete's message_updated (content_attributes.deleted).
    await heard('chatwoot:message_updated', before, 1);
    await marker('chatwoot', cw!.nativeId, cwSub, 'marker 12');
    expect(withoutMarkers(cwSub)).toEqual(['MessageAdded:chatwoot delete', `MessageDeleted:${cwId}`]);

    // Monica (polling, no webhooks): published by the mutation itself.
    const [mo] = await conversations('monica');
    const moSub = subscribe(mo!.id);
    const moSent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: mo!.id, c: 'monica delete' });
    expect(moSent.body.errors).toBeUndefined();
    await moSub.waitFor(1);
    const moId = moSent.body.data!.sendMessage.id;
    emulator('monica').clearRequests();
    expect((await t.gql(DELETE, { id: moId })).body.errors).toBeUndefined();
    expect(paths('monica')).toEqual([
      'GET /api/conversations/:n',
      'DELETE /api/conversations/:n/messages/:n',
      'GET /api/conversations/:n',
    ]);
    await moSub.waitFor(2);
    expect(seen(moSub)).toEqual(['MessageAdded:monica delete', `MessageDeleted:${moId}`]);
    expect(moSub.values[1]!.conversationEvents.conversationId).toBe(mo!.id);

    // Pixieset: deleteMessage is UNSUPPORTED_OPERATION (its capability), so there is nothing to publish.
    const caps = await t.gql<{ sources: Array<{ id: string; capabilities: { deleteMessage: boolean } }> }>(
      `{ sources { id capabilities { deleteMessage } } }`,
    );
    expect(caps.body.data!.sources.find((s) => s.id === 'pixieset')!.capabilities.deleteMessage).toBe(false);
  });
});
