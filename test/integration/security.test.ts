import { createHmac } from 'node:crypto';
import type { SourceConfig } from '../../src/config/schema';
import { toGlobalId } from '../../src/schema/ids';
import type { Faults } from '../../src/sandbox/kit/server';
import { createWsClient, subscribe } from '../utils/ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Tenant isolation (a key sees only its sources; other sources' ids are NOT_FOUND, exactly like ids that do
 * not exist) and secrecy (no backend credential in any response or log line, whatever goes wrong).
 */
type Edge = { node: { id: string; source: { id: string }; participants: Array<{ id: string }> | null } };
type Inbox = { conversations: { edges: Edge[] } };

describe('tenant isolation: sandbox-limited-key sees only the first source', () => {
  let t: TestGateway;
  let ids: Record<string, { conversation: string; participant: string }>;
  const limited = () => ({ authorization: `Bearer ${t.limitedKey}` });
  const hiddenCalls = () =>
    ['protocol', 'chatwoot', 'monica'].reduce((n, s) => n + t.embedded.sandbox.emulators.get(s)!.requests().length, 0);
  const clearHidden = () =>
    ['protocol', 'chatwoot', 'monica'].forEach((s) => t.embedded.sandbox.emulators.get(s)!.clearRequests());

  beforeAll(async () => {
    t = await startTestGateway();
    ids = {};
    for (const s of ['pixieset', 'protocol', 'chatwoot', 'monica']) {
      const r = await t.gql<Inbox>(
        `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { edges { node { id source { id } participants { id } } } } }`,
        { s: [s] },
      );
      const node = r.body.data!.conversations.edges[0]!.node;
      ids[s] = { conversation: node.id, participant: node.participants![0]!.id };
    }
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists only its own source in sources, conversations and unreadCount', async () => {
    const r = await t.gql<
      Inbox & { sources: Array<{ id: string }>; unreadCount: { bySource: Array<{ source: { id: string } }> } }
    >(
      `{ sources { id } conversations(first: 100) { edges { node { id source { id } } } } unreadCount { bySource { source { id } } } }`,
      undefined,
      limited(),
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.sources).toEqual([{ id: 'pixieset' }]);
    expect(r.body.data!.conversations.edges.length).toBeGreaterThan(0);
    expect(new Set(r.body.data!.conversations.edges.map((e) => e.node.source.id))).toEqual(new Set(['pixieset']));
    expect(r.body.data!.unreadCount.bySource.map((b) => b.source.id)).toEqual(['pixieset']);

    const asked = await t.gql<Inbox>(
      `{ conversations(filter: { sources: ["protocol", "monica"] }) { edges { node { id } } } }`,
      undefined,
      limited(),
    );
    expect(asked.body.data!.conversations.edges).toEqual([]);
  });

  it("answers NOT_FOUND for another source's ids in conversation, exactly as for an id that does not exist", async () => {
    const hidden = await t.gql(
      `query($id: ID!) { conversation(id: $id) { id } }`,
      { id: ids.protocol!.conversation },
      limited(),
    );
    const nowhere = await t.gql(
      `query($id: ID!) { conversation(id: $id) { id } }`,
      { id: toGlobalId('Conversation', 'no-such-source', '1') },
      limited(),
    );
    expect(hidden.body.data).toEqual({ conversation: null });
    expect(hidden.body.errors).toEqual([
      {
        message: 'Conversation not found.',
        locations: expect.any(Array),
        path: ['conversation'],
        extensions: { code: 'NOT_FOUND' },
      },
    ]);
    expect(hidden.body).toEqual(nowhere.body);
  });

  it('resolves node and nodes of other sources as null, like missing ids', async () => {
    const r = await t.gql<{ node: unknown; nodes: Array<{ id: string } | null> }>(
      `query($id: ID!, $ids: [ID!]!) { node(id: $id) { id } nodes(ids: $ids) { id } }`,
      {
        id: ids.chatwoot!.conversation,
        ids: [ids.pixieset!.conversation, ids.monica!.conversation, ids.protocol!.participant],
      },
      limited(),
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).toEqual({ node: null, nodes: [{ id: ids.pixieset!.conversation }, null, null] });
  });

  it('refuses every mutation on another source with NOT_FOUND, calling no backend', async () => {
    clearHidden();
    const p = ids.protocol!;
    const c = ids.chatwoot!;
    const m = ids.monica!;
    const mutations: Array<[string, Record<string, unknown>]> = [
      [
        `mutation($id: ID!) { sendMessage(input: { conversationId: $id, content: "hi", idempotencyKey: "k1" }) { id } }`,
        { id: p.conversation },
      ],
      [`mutation($id: ID!) { markConversationRead(id: $id) { id } }`, { id: c.conversation }],
      [`mutation($id: ID!) { markConversationUnread(id: $id) { id } }`, { id: c.conversation }],
      [
        `mutation($id: ID!) { updateConversation(input: { id: $id, status: RESOLVED }) { id } }`,
        { id: c.conversation },
      ],
      [`mutation($id: ID!) { deleteConversation(id: $id) { id } }`, { id: m.conversation }],
      [
        `mutation($id: ID!) { createConversation(input: { sourceId: "chatwoot", participantIds: [$id] }) { id } }`,
        { id: c.participant },
      ],
      [
        `mutation($id: ID!) { createConversation(input: { sourceId: "protocol", participantIds: [$id] }) { id } }`,
        { id: p.participant },
      ],
      [
        `mutation($id: ID!) { createAttachmentUpload(input: { conversationId: $id, filename: "a.txt", contentType: "text/plain", size: 3 }) { url } }`,
        { id: p.conversation },
      ],
    ];
    for (const [query, variables] of mutations) {
      const r = await t.gql(query, variables, limited());
      expect(r.body.errors?.map((e) => e.extensions)).toEqual([{ code: 'NOT_FOUND' }]);
    }
    expect(hiddenCalls()).toBe(0);
  });

  it('subscribes only to its own source over graphql-ws', async () => {
    const client = createWsClient(t.wsUrl, t.limitedKey);
    const sub = subscribe<{ unreadCountChanged: { bySource: Array<{ source: { id: string } }> } }>(
      client,
      `subscription { unreadCountChanged(sources: ["pixieset", "protocol", "chatwoot"]) { total bySource { source { id } } } }`,
    );
    const [first] = await sub.waitFor(1);
    expect(first!.unreadCountChanged.bySource.map((b) => b.source.id)).toEqual(['pixieset']);
    sub.dispose();
    await client.dispose();
  });
});

describe('secrets', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ logLevel: 'debug' });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Every credential string of the sandbox config, and the API keys themselves. */
  function secretsOf(sources: readonly SourceConfig[]): string[] {
    const out = new Set<string>([t.apiKey, t.limitedKey]);
    for (const s of sources) {
      for (const v of Object.values(s.credentials)) out.add(String(v));
      if (s.kind === 'PROTOCOL' && s.webhookSecret) out.add(s.webhookSecret);
      if (s.kind === 'CHATWOOT' && s.webhookToken) out.add(s.webhookToken);
      if (s.kind === 'CHATWOOT' && s.webhookSecret) out.add(s.webhookSecret);
    }
    return [...out].filter((v) => v.length >= 8);
  }

  it('never appear in a response or a log line, through successes, every fault, webhooks, uploads and bad keys', async () => {
    const responses: string[] = [];
    const keep = async (res: Response) => {
      responses.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`);
    };
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${t.apiKey}`,
          'x-upstream-stats': '1',
          ...headers,
        },
        body: JSON.stringify(body),
      }).then(keep);
    const INBOX = `{ conversations(first: 20) { edges { node { id subject participants { name email } lastMessage { content } messages(last: 2) { edges { node { content } } } } } } unreadCount { total } sources { id health { status lastErrorCode } } }`;
    const sources = t.embedded.config.sources;
    const secrets = secretsOf(sources);
    expect(secrets.length).toBeGreaterThanOrEqual(8);

    await post({ query: INBOX });
    const faults: Faults[] = [{ errorRate: 1 }, { rateLimitRetryAfter: 1 }, { malformed: true }, { refuse: true }];
    for (const f of faults) {
      for (const e of t.embedded.sandbox.emulators.values()) e.setFaults(f);
      await post({ query: INBOX });
      await fetch(`${t.url}/readyz`).then(keep);
    }
    for (const e of t.embedded.sandbox.emulators.values()) e.setFaults({});
    await post({ query: '{ nope }' });
    await post({ query: `mutation { sendMessage(input: { conversationId: "bad", content: "x" }) { id } }` });
    await post({ query: INBOX }, { authorization: 'Bearer wrong-key' });
    await post({ query: INBOX }, { authorization: `Basic ${Buffer.from(`user:${t.apiKey}`).toString('base64')}` });
    // Webhooks: Chatwoot's token travels in the URL; Protocol's signature in a header.
    const cw = sources.find((s) => s.kind === 'CHATWOOT');
    const pr = sources.find((s) => s.kind === 'PROTOCOL');
    const event = JSON.stringify({ event: 'message_created', id: 1, conversation: { id: 1 }, account: { id: 1 } });
    if (cw?.kind === 'CHATWOOT') {
      await fetch(`${t.url}/webhooks/${cw.id}?token=${encodeURIComponent(cw.webhookToken ?? '')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event,
      }).then(keep);
      await fetch(`${t.url}/webhooks/${cw.id}?token=wrong-token-123`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event,
      }).then(keep);
    }
    if (pr?.kind === 'PROTOCOL') {
      const body = JSON.stringify({
        id: 'evt1',
        type: 'message.created',
        payload: { id: 'm1', conversation_id: 'c1' },
      });
      const sig = createHmac('sha256', pr.webhookSecret ?? '')
        .update(body)
        .digest('hex');
      await fetch(`${t.url}/webhooks/${pr.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-protocol-signature': sig },
        body,
      }).then(keep);
      await fetch(`${t.url}/webhooks/${pr.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-protocol-signature': 'bad' },
        body,
      }).then(keep);
    }
    await fetch(`${t.url}/uploads/nope`, { method: 'POST', body: new FormData() }).then(keep);
    await fetch(`${t.url}/metrics`).then(keep);
    // graphql-ws: an operation that fails at a source.
    for (const e of t.embedded.sandbox.emulators.values()) e.setFaults({ errorRate: 1 });
    const client = createWsClient(t.wsUrl, t.apiKey);
    const sub = subscribe(client, `subscription { unreadCountChanged { total } }`);
    await sub.waitFor(1);
    responses.push(JSON.stringify(sub.values), JSON.stringify(sub.errors));
    sub.dispose();
    await client.dispose();
    for (const e of t.embedded.sandbox.emulators.values()) e.setFaults({});

    expect(responses.length).toBeGreaterThan(15);
    expect(t.logs.length).toBeGreaterThan(20);
    const everything = [...responses, ...t.logs];
    for (const secret of secrets) {
      const leaks = everything.filter((line) => line.includes(secret));
      expect({ secret: `${secret.slice(0, 4)}…`, leaks }).toEqual({ secret: `${secret.slice(0, 4)}…`, leaks: [] });
    }
  });

  it('logs one line per HTTP request with method, route, status, ms, request id and key name, and no headers', async () => {
    const before = t.logs.length;
    await t.gql(`{ sources { id } }`, undefined, { 'x-request-id': 'req-security-1' });
    await new Promise((r) => setTimeout(r, 20));
    const lines = t.logs
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.requestId === 'req-security-1' && l.msg === 'request');
    expect(lines).toEqual([
      expect.objectContaining({
        method: 'POST',
        route: '/graphql',
        status: 200,
        ms: expect.any(Number),
        keyName: 'sandbox',
      }),
    ]);
    expect(JSON.stringify(lines[0])).not.toMatch(/authorization|bearer|cookie/i);
  });
});
