import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHATWOOT_SANDBOX_TOKEN, startChatwootEmulator } from '../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { waitFor } from '../utils/wait';

/**
 * The Chatwoot emulator's webhook signing and bot shapes, checked against Chatwoot's own recipe and views
 * (docs/vendors/chatwoot.md "Signed webhooks", "Bots"), independently of the connector's code.
 */
const A = '/api/v1/accounts/1';
const SECRET = 'emulator-test-signing-secret';

describe('chatwoot emulator: signed webhooks and bots', () => {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let sink: Server;
  let h: EmulatorHandle;
  let secret: string | undefined = SECRET;
  beforeAll(async () => {
    sink = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
    h = await startChatwootEmulator({ port: 0, webhook: () => ({ url, secret }) });
  });
  afterAll(async () => {
    await h.close();
    await new Promise<void>((r) => sink.close(() => r()));
  });
  beforeEach(() => {
    received.length = 0;
    secret = SECRET;
    h.controls.reset();
  });
  const until = async (n: number) => {
    await waitFor(() => received.length >= n, { timeoutMs: 3000, what: `${n} deliveries` });
    expect(received.length).toBeGreaterThanOrEqual(n);
  };
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${h.url}${A}${path}`, {
      ...init,
      headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN, 'content-type': 'application/json' },
    });

  it('signs every delivery as Chatwoot v4.11.2+: sha256=HMAC("{timestamp}.{body}"), unix seconds, one uuid each', async () => {
    const before = Math.floor(Date.now() / 1000);
    await api('/conversations/10/toggle_status', { method: 'POST', body: JSON.stringify({ status: 'resolved' }) });
    await until(2);
    const ids = new Set<string>();
    for (const d of received) {
      const stamp = String(d.headers['x-chatwoot-timestamp']);
      expect(Number(stamp)).toBeGreaterThanOrEqual(before);
      expect(Number(stamp)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      const mac = createHmac('sha256', SECRET).update(`${stamp}.${d.body}`).digest('hex');
      expect(d.headers['x-chatwoot-signature']).toBe(`sha256=${mac}`);
      ids.add(String(d.headers['x-chatwoot-delivery']));
    }
    expect([...ids].every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id))).toBe(
      true,
    );
    expect(ids.size).toBe(received.length);
  });

  it('sends unsigned deliveries without a secret, as Chatwoot before v4.11.2', async () => {
    secret = undefined;
    h.controls.simulateIncoming({ conversationId: '1:1', content: 'unsigned' });
    await until(1);
    expect(Object.keys(received[0]!.headers).filter((k) => k.startsWith('x-chatwoot'))).toEqual([]);
  });

  it('shows an agent-bot assignee as Chatwoot’s views do, in REST and in webhooks, and a Captain sender', async () => {
    const show = (await (await api('/conversations/3')).json()) as {
      meta: { assignee: Record<string, unknown>; assignee_type: string };
    };
    // `agent_bot_slim` partial + assignee_type (_conversation.json.jbuilder).
    expect(show.meta.assignee_type).toBe('AgentBot');
    expect(Object.keys(show.meta.assignee).sort()).toEqual(
      ['bot_type', 'description', 'id', 'name', 'outgoing_url', 'thumbnail'].sort(),
    );
    const human = (await (await api('/conversations/1')).json()) as { meta: { assignee_type: string } };
    expect(human.meta.assignee_type).toBe('User');
    // push_data: AgentBot#push_event_data and assignee_type (Conversations::EventDataPresenter#push_meta).
    h.controls.simulateIncoming({ conversationId: '1:3', content: 'Bot?' });
    await until(1);
    const hook = JSON.parse(received.find((d) => d.body.includes('"message_created"'))!.body) as {
      conversation: { meta: { assignee: unknown; assignee_type: string } };
    };
    expect(hook.conversation.meta).toMatchObject({
      assignee: { id: 1, name: 'Captain', avatar_url: '', type: 'agent_bot' },
      assignee_type: 'AgentBot',
    });
    // Captain::Assistant#push_event_data in the messages index.
    const messages = (await (await api('/conversations/14/messages')).json()) as {
      payload: Array<{ sender?: { type: string; id: number; name: string } }>;
    };
    expect(messages.payload.map((m) => m.sender).filter((s) => s?.type === 'captain_assistant')).toEqual([
      expect.objectContaining({ id: 1, name: 'Acme Assistant', type: 'captain_assistant' }),
    ]);
  });
});
