import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import {
  CHATWOOT_SANDBOX_AGENT_TOKEN,
  CHATWOOT_SANDBOX_TOKEN,
  CHATWOOT_SANDBOX_WEBHOOK_SECRET,
} from '../../src/sandbox/chatwoot';
import { decodeGlobalId, toGlobalId } from '../../src/schema/ids';
import { signChatwootWebhook } from '../../src/connectors/chatwoot/webhook';
import { eventually } from '../live/helpers';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';

/**
 * Chatwoot's webhooks against the emulator, end to end (docs/vendors/chatwoot.md "Webhooks", "Bots"): the
 * emulator's deliveries are caught by a capture server, so the test decides when and in which order the gateway
 * gets them, and counts the emulator's requests exactly.
 */
interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { event: string; id?: number; updated_at?: number; changed_attributes?: unknown; [k: string]: unknown };
}

async function startCapture(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      deliveries.push({ path: req.url ?? '', headers: req.headers, body, json: JSON.parse(body) as Delivery['json'] });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const A = '/api/v1/accounts/1';
const HEADERS = ['x-chatwoot-signature', 'x-chatwoot-timestamp', 'x-chatwoot-delivery'];

/** POSTs a captured delivery to the gateway as the emulator sent it (or with `headers` replaced). */
function deliver(t: TestGateway, d: Delivery, headers?: Record<string, string>): Promise<Response> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  for (const k of HEADERS) if (typeof d.headers[k] === 'string') h[k] = d.headers[k];
  return fetch(`${t.url}${d.path}`, { method: 'POST', headers: headers ?? h, body: d.body });
}

function vendorCall(emu: EmulatorHandle, method: string, path: string, body?: unknown, token = CHATWOOT_SANDBOX_TOKEN) {
  return fetch(`${emu.url}${A}${path}`, {
    method,
    headers: { api_access_token: token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The emulator's requests since the last clear, as `METHOD path`. */
const calls = (emu: EmulatorHandle) => emu.requests().map((r) => `${r.method} ${r.path}`);

const INBOX = /* GraphQL */ `
  query {
    conversations(first: 100) {
      nodes {
        nativeId
        status
        participants {
          id
          name
          kind
        }
        lastMessage {
          content
          sender {
            id
            name
            kind
          }
        }
      }
    }
  }
`;
type Row = {
  nativeId: string;
  status: string;
  participants: Array<{ id: string; name: string | null; kind: string }>;
  lastMessage: { content: string | null; sender: { id: string; name: string | null; kind: string } | null } | null;
};
const inbox = async (t: TestGateway): Promise<Row[]> => {
  const r = await t.gql<{ conversations: { nodes: Row[] } }>(INBOX);
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.conversations.nodes;
};
const nativeOf = (globalId: string) => decodeGlobalId(globalId)?.nativeId;

describe('chatwoot webhooks end to end', () => {
  let t: TestGateway;
  let emu: EmulatorHandle;
  let capture: Awaited<ReturnType<typeof startCapture>>;

  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'], rateLimitPerMinute: 1_000_000 });
    emu = t.embedded.sandbox.emulators.get('chatwoot')!;
    capture = await startCapture();
    t.embedded.sandbox.setWebhookBase(capture.url);
  });
  afterAll(async () => {
    await t.close();
    await capture.close();
  });

  /** The deliveries from index `from` on about conversation `id`, once `n` of them arrived. */
  const deliveriesFor = (from: number, id: number, n: number) =>
    eventually(() => {
      const got = capture.deliveries
        .slice(from)
        .filter((d) => d.json.id === id || (d.json.conversation as { id?: number } | undefined)?.id === id);
      if (got.length < n) throw new Error(`${got.length} of ${n} deliveries`);
      return got;
    }, 5000);

  it('one status change dispatches conversation_status_changed and conversation_updated, and costs one re-read', async () => {
    await inbox(t); // the catalog's first sync
    const id = 10; // a seeded pending conversation
    const mark = capture.deliveries.length;
    expect((await vendorCall(emu, 'POST', `/conversations/${id}/toggle_status`, { status: 'resolved' })).status).toBe(
      200,
    );
    const both = await deliveriesFor(mark, id, 2);
    // Conversation#execute_after_update_commit_callbacks: notify_status_change, then notify_conversation_updation,
    // from one save, so with one updated_at.
    expect(both.map((d) => d.json.event)).toEqual(['conversation_status_changed', 'conversation_updated']);
    expect(both[0]!.json.updated_at).toBe(both[1]!.json.updated_at);
    expect(both.map((d) => d.json.changed_attributes)).toEqual([
      [{ status: { previous_value: 'pending', current_value: 'resolved' } }],
      [{ status: { previous_value: 'pending', current_value: 'resolved' } }],
    ]);

    // Both at once, as Chatwoot's parallel webhook jobs send them: one re-read.
    emu.clearRequests();
    const answers = await Promise.all(both.map((d) => deliver(t, d)));
    expect(answers.map((r) => r.status)).toEqual([202, 202]);
    expect(calls(emu)).toEqual([`GET ${A}/conversations/${id}`]);
    expect((await inbox(t)).find((c) => c.nativeId === `1:${id}`)?.status).toBe('RESOLVED');
    expect(calls(emu)).toHaveLength(1);

    // The next change, delivered one after the other and in reverse order (the later job first): one re-read too.
    const mark2 = capture.deliveries.length;
    await vendorCall(emu, 'POST', `/conversations/${id}/toggle_status`, { status: 'pending' });
    const next = await deliveriesFor(mark2, id, 2);
    emu.clearRequests();
    for (const d of [...next].reverse()) expect((await deliver(t, d)).status).toBe(202);
    expect(calls(emu)).toEqual([`GET ${A}/conversations/${id}`]);
    expect((await inbox(t)).find((c) => c.nativeId === `1:${id}`)?.status).toBe('PENDING');
  });

  it('a status change made through the gateway costs no re-read when its webhooks arrive', async () => {
    const rows = await inbox(t);
    const target = rows.find((c) => c.status === 'OPEN')!;
    const id = Number(target.nativeId.split(':')[1]);
    const mark = capture.deliveries.length;
    emu.clearRequests();
    const r = await t.gql<{ updateConversation: { status: string } }>(
      `mutation($id: ID!) { updateConversation(input: { id: $id, status: SNOOZED }) { status } }`,
      { id: toGlobalId('Conversation', 'chatwoot', target.nativeId) },
    );
    expect(r.body.data?.updateConversation.status).toBe('SNOOZED');
    const own = calls(emu);
    expect(own).toEqual([`POST ${A}/conversations/${id}/toggle_status`, `GET ${A}/conversations/${id}`]);
    const both = await deliveriesFor(mark, id, 2);
    for (const d of both) expect((await deliver(t, d)).status).toBe(202);
    expect(calls(emu)).toEqual(own);
  });

  it('message events are always re-read, and an older conversation event that arrives late costs nothing', async () => {
    const id = 1;
    const mark = capture.deliveries.length;
    await vendorCall(emu, 'POST', `/conversations/${id}/labels`, { labels: ['vip', 'bug'] });
    const [labels] = await deliveriesFor(mark, id, 1);
    expect(labels!.json.event).toBe('conversation_updated');
    emu.controls.simulateIncoming({ conversationId: `1:${id}`, content: 'One more thing' });
    const message = (await deliveriesFor(mark, id, 2)).find((d) => d.json.event === 'message_created');
    emu.clearRequests();
    expect((await deliver(t, message!)).status).toBe(202);
    expect((await deliver(t, labels!)).status).toBe(202);
    expect(calls(emu)).toEqual([`GET ${A}/conversations/${id}`]);
    const row = (await inbox(t)).find((c) => c.nativeId === `1:${id}`)!;
    expect(row.lastMessage?.content).toBe('One more thing');
  });

  it('shows agent-bot assignees and Captain assistant senders as BOT participants apart from users', async () => {
    const rows = await inbox(t);
    const botAssigned = rows.find((c) => c.nativeId === '1:3')!;
    const bot = botAssigned.participants.find((p) => p.kind === 'BOT');
    expect(bot).toMatchObject({ name: 'Captain', kind: 'BOT' });
    expect(nativeOf(bot!.id)).toBe('agent_bot:1');
    expect(botAssigned.participants.some((p) => p.kind === 'AGENT')).toBe(false);

    // The Captain assistant (id 1, as user 1 and contact 1) wrote in conversation 14.
    const r = await t.gql<{
      conversation: { messages: { nodes: Array<{ sender: { id: string; name: string; kind: string } | null }> } };
    }>(`query($id: ID!) { conversation(id: $id) { messages(last: 50) { nodes { sender { id name kind } } } } }`, {
      id: toGlobalId('Conversation', 'chatwoot', '1:14'),
    });
    const senders = r.body.data!.conversation.messages.nodes.map((m) => m.sender).filter((s) => s !== null);
    const captain = senders.find((s) => nativeOf(s.id) === 'captain_assistant:1');
    expect(captain).toMatchObject({ name: 'Acme Assistant', kind: 'BOT' });
    expect(senders.filter((s) => s.kind === 'BOT').every((s) => !nativeOf(s.id)!.startsWith('user:'))).toBe(true);

    // A webhook that assigns the bot (the emulator's push_data: meta.assignee_type "AgentBot") is mapped alike.
    const mark = capture.deliveries.length;
    emu.controls.simulateIncoming({ conversationId: '1:3', content: 'Hello bot' });
    const [created] = await deliveriesFor(mark, 3, 1);
    const meta = (created!.json.conversation as { meta: { assignee: { type: string }; assignee_type: string } }).meta;
    expect([meta.assignee.type, meta.assignee_type]).toEqual(['agent_bot', 'AgentBot']);
    expect((await deliver(t, created!)).status).toBe(202);
    const row = (await inbox(t)).find((c) => c.nativeId === '1:3')!;
    expect(row.participants.map((p) => [nativeOf(p.id), p.kind])).toContainEqual(['agent_bot:1', 'BOT']);
  });

  it('reopening with a plain agent’s token assigns the conversation to that agent; an administrator’s does not', async () => {
    // Sam Lee (user 2, a plain agent) sees the Website inbox (1) only.
    const list = (await (await vendorCall(emu, 'GET', '/conversations?status=snoozed')).json()) as {
      data: { payload: Array<{ id: number; inbox_id: number; muted: boolean; meta: { assignee?: { id: number } } }> };
    };
    const byAgent = list.data.payload.find((c) => c.inbox_id === 1 && !c.muted && c.meta.assignee?.id !== 2);
    const byAdmin = list.data.payload.find((c) => c.id !== byAgent?.id);
    expect(byAgent && byAdmin).toBeDefined();
    const show = async (id: number) =>
      (await (await vendorCall(emu, 'GET', `/conversations/${id}`)).json()) as {
        status: string;
        meta: { assignee?: { id: number }; assignee_type?: string };
      };
    const adminBefore = (await show(byAdmin!.id)).meta.assignee?.id;
    await vendorCall(emu, 'POST', `/conversations/${byAdmin!.id}/toggle_status`, { status: 'open' });
    expect((await show(byAdmin!.id)).meta.assignee?.id).toBe(adminBefore);

    const mark = capture.deliveries.length;
    const r = await vendorCall(
      emu,
      'POST',
      `/conversations/${byAgent!.id}/toggle_status`,
      { status: 'open' },
      CHATWOOT_SANDBOX_AGENT_TOKEN,
    );
    expect(r.status).toBe(200);
    const after = await show(byAgent!.id);
    expect([after.status, after.meta.assignee?.id, after.meta.assignee_type]).toEqual(['open', 2, 'User']);
    const events = await deliveriesFor(mark, byAgent!.id, 3);
    expect(events.map((d) => d.json.event)).toEqual([
      'conversation_status_changed',
      'conversation_updated',
      'conversation_updated',
    ]);
    expect(events[2]!.json.changed_attributes).toEqual([
      { assignee_id: { previous_value: byAgent!.meta.assignee?.id ?? null, current_value: 2 } },
    ]);
    const messages = (await (await vendorCall(emu, 'GET', `/conversations/${byAgent!.id}/messages`)).json()) as {
      payload: Array<{ content: string; message_type: number }>;
    };
    expect(messages.payload.at(-1)).toMatchObject({
      content: 'Sam Lee self-assigned this conversation',
      message_type: 2,
    });
  });

  it('through a gateway holding a plain agent’s token, a reopen makes that agent a participant (why README advises an administrator’s)', async () => {
    const asAgent = await startTestGateway({
      embedded: t.embedded,
      configure: (c) => tuneSources(c, () => ({ credentials: { apiAccessToken: CHATWOOT_SANDBOX_AGENT_TOKEN } })),
    });
    try {
      const list = (await (await vendorCall(emu, 'GET', '/conversations?status=resolved')).json()) as {
        data: {
          payload: Array<{ id: number; inbox_id: number; muted: boolean; meta: { assignee?: { id: number } } }>;
        };
      };
      // A Website conversation (the agent's only inbox): reopen it through the gateway.
      const target = list.data.payload.find((c) => c.inbox_id === 1 && !c.muted && c.meta.assignee?.id !== 2) ?? null;
      const snoozed = (await (await vendorCall(emu, 'GET', '/conversations?status=snoozed&inbox_id=1')).json()) as {
        data: { payload: Array<{ id: number; muted: boolean; meta: { assignee?: { id: number } } }> };
      };
      const id = (target ?? snoozed.data.payload.find((c) => !c.muted && c.meta.assignee?.id !== 2))!.id;
      const r = await asAgent.gql<{
        updateConversation: { status: string; participants: Array<{ id: string; kind: string }> };
      }>(
        `mutation($id: ID!) { updateConversation(input: { id: $id, status: OPEN }) { status participants { id kind } } }`,
        { id: toGlobalId('Conversation', 'chatwoot', `1:${id}`) },
      );
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.updateConversation.status).toBe('OPEN');
      expect(r.body.data!.updateConversation.participants.map((p) => [nativeOf(p.id), p.kind])).toContainEqual([
        'user:2',
        'AGENT',
      ]);
    } finally {
      await asAgent.close();
    }
  });
});

describe('chatwoot webhook authentication by configuration', () => {
  let capture: Awaited<ReturnType<typeof startCapture>>;
  beforeAll(async () => {
    capture = await startCapture();
  });
  afterAll(async () => {
    await capture.close();
  });

  const withConfig = async (
    over: { webhookToken?: string; webhookSecret?: string },
    run: (t: TestGateway, d: Delivery) => Promise<void>,
  ) => {
    const t = await startTestGateway({
      kinds: ['CHATWOOT'],
      configure: (c) => tuneSources(c, () => ({ webhookToken: undefined, webhookSecret: undefined, ...over })),
    });
    try {
      await t.gql(INBOX);
      t.embedded.sandbox.setWebhookBase(capture.url);
      const mark = capture.deliveries.length;
      t.embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({ conversationId: '1:1', content: 'x' });
      const d = await eventually(() => {
        const hit = capture.deliveries.slice(mark).find((x) => x.json.event === 'message_created');
        if (!hit) throw new Error('no delivery yet');
        return hit;
      }, 5000);
      await run(t, d);
    } finally {
      await t.close();
    }
  };
  const unsigned = { 'content-type': 'application/json' };

  it('token only (Chatwoot before v4.11.2, or Cloud): an unsigned delivery with the token is accepted', async () => {
    await withConfig({ webhookToken: 'sandbox-chatwoot-webhook-token' }, async (t, d) => {
      expect(d.path).toContain('?token=');
      expect((await deliver(t, d, unsigned)).status).toBe(202);
      expect((await deliver(t, { ...d, path: '/webhooks/chatwoot' }, unsigned)).status).toBe(403);
    });
  });

  it('secret only: a signed delivery is accepted without a token, an unsigned one is refused', async () => {
    await withConfig({ webhookSecret: CHATWOOT_SANDBOX_WEBHOOK_SECRET }, async (t, d) => {
      const bare = { ...d, path: '/webhooks/chatwoot' };
      expect((await deliver(t, bare, unsigned)).status).toBe(403);
      expect((await deliver(t, bare)).status).toBe(202);
      // Re-signed by someone who knows the secret but with another body: still one delivery per signature.
      const at = Math.floor(Date.now() / 1000);
      const body = d.body.replace('"x"', '"y"');
      const again = await fetch(`${t.url}/webhooks/chatwoot`, {
        method: 'POST',
        headers: {
          ...unsigned,
          'x-chatwoot-timestamp': String(at),
          'x-chatwoot-signature': signChatwootWebhook(body, at, CHATWOOT_SANDBOX_WEBHOOK_SECRET),
        },
        body,
      });
      expect(again.status).toBe(202);
    });
  });
});
