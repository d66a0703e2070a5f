import type { Client } from 'graphql-ws';
import { toGlobalId } from '../../src/schema/ids';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN } from '../../src/sandbox/monica';
import { adjust, eventually } from '../live/helpers';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * The whole gateway in front of the Monica emulator, on the three behaviours of Monica 4.x that a client of the
 * gateway would otherwise get wrong (docs/vendors/monica.md "Timestamps", "Errors"): times of day written by
 * another client survive an edit, unknown ids and archived contacts give typed errors, and an edit in Monica's
 * web UI (which re-creates every message with a new id) is reported and leaves stale ids NOT_FOUND.
 */

const AUTH = { authorization: `Bearer ${MONICA_SANDBOX_TOKEN}`, accept: 'application/json' };

interface RawMessage {
  id: number;
  content: string;
  written_at: string;
  written_by_me: boolean;
}
interface RawConversation {
  id: number;
  happened_at: string;
  contact: { id: number };
  messages: RawMessage[];
}

let t: TestGateway;
let mo: EmulatorHandle;
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    kinds: ['MONICA'],
    rateLimitPerMinute: 1_000_000,
    configure: adjust({ source: () => ({ pollIntervalMs: 300, rateLimitPerMinute: 100_000 }) }),
  });
  mo = t.embedded.sandbox.emulators.get('monica') as EmulatorHandle;
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
  await t.close();
});

/** Another client of Monica's own API. */
async function monica<T>(method: string, path: string, json?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${mo.url}/api${path}`, {
    method,
    headers: { ...AUTH, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const stored = async (id: number) => (await monica<{ data: RawConversation }>('GET', `/conversations/${id}`)).body.data;
async function control<T>(path: string, json: unknown = {}): Promise<T> {
  const res = await fetch(`${mo.url}/__sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return (await res.json()) as T;
}
const convId = (id: number) => toGlobalId('Conversation', 'monica', String(id));
const msgId = (conv: number, m: number) => toGlobalId('Message', 'monica', `${conv}/${m}`);
const writes = () => mo.requests().filter((r) => r.method !== 'GET');

const EDIT = `mutation($id: ID!, $content: String!) { editMessage(input: { id: $id, content: $content }) { id content sentAt } }`;
const DELETE_MESSAGE = `mutation($id: ID!) { deleteMessage(id: $id) { id deleted } }`;
const DELETE_CONVERSATION = `mutation($id: ID!) { deleteConversation(id: $id) { id deleted } }`;
const SEND = `mutation($id: ID!, $content: String!) { sendMessage(input: { conversationId: $id, content: $content }) { id } }`;

describe('times of day', () => {
  it('keeps 14:35:07, written by another client, after an edit through the gateway', async () => {
    const added = await monica<{ data: RawConversation }>('POST', '/conversations/6/messages', {
      written_at: '2026-11-28T14:35:07Z',
      written_by_me: false,
      content: 'Written at 14:35:07 by another client',
    });
    const theirs = added.body.data.messages.at(-1)!;
    expect(theirs.written_at).toBe('2026-11-28T14:35:07Z');
    mo.clearRequests();

    const r = await t.gql<{ editMessage: { id: string; content: string; sentAt: string } }>(EDIT, {
      id: msgId(6, theirs.id),
      content: 'Edited through the gateway',
    });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.editMessage).toEqual({
      id: msgId(6, theirs.id),
      content: 'Edited through the gateway',
      sentAt: '2026-11-28T14:35:07.000Z',
    });
    // What the gateway sent, and what Monica now holds.
    expect(writes().map((w) => JSON.parse(w.body!))).toEqual([
      { written_at: '2026-11-28T14:35:07Z', written_by_me: false, content: 'Edited through the gateway' },
    ]);
    const after = (await stored(6)).messages.find((m) => m.id === theirs.id)!;
    expect(after).toMatchObject({ written_at: '2026-11-28T14:35:07Z', content: 'Edited through the gateway' });

    const read = await t.gql<{ node: { sentAt: string } }>(
      `query($id: ID!) { node(id: $id) { ... on Message { sentAt } } }`,
      {
        id: msgId(6, theirs.id),
      },
    );
    expect(read.body.data!.node.sentAt).toBe('2026-11-28T14:35:07.000Z');
  });
});

describe('typed errors', () => {
  it('answers a second deleteConversation with NOT_FOUND (Monica: 422/32 "The selected conversation id is invalid.")', async () => {
    const first = await t.gql<{ deleteConversation: { deleted: boolean } }>(DELETE_CONVERSATION, { id: convId(11) });
    expect(first.body.data!.deleteConversation.deleted).toBe(true);
    mo.clearRequests();
    const second = await t.gql(DELETE_CONVERSATION, { id: convId(11) });
    expect(second.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', source: 'monica' });
    expect(mo.requests().map((r) => [r.method, r.path, r.status])).toEqual([['DELETE', '/api/conversations/11', 422]]);
  });

  it('answers a write to an archived contact with SOURCE_REJECTED, reason CONTACT_ARCHIVED', async () => {
    const conv = await stored(12);
    await control(`/contacts/${conv.contact.id}/archive`, { archived: true });
    try {
      const r = await t.gql(SEND, { id: convId(12), content: 'Hello?' });
      expect(r.body.errors?.[0]?.extensions).toMatchObject({
        code: 'SOURCE_REJECTED',
        source: 'monica',
        reason: 'CONTACT_ARCHIVED',
      });
      expect(r.body.errors?.[0]?.message).toMatch(/unarchive the contact in Monica first/);
      expect((await stored(12)).messages).toHaveLength(conv.messages.length);
    } finally {
      await control(`/contacts/${conv.contact.id}/archive`, { archived: false });
    }
  });
});

describe("an edit in Monica's web UI", () => {
  it('is pushed to conversationChanged subscribers, and stale message ids become NOT_FOUND', async () => {
    const ws = createWsClient(t.wsUrl, t.apiKey);
    clients.push(ws);
    const sub = subscribe<{ conversationChanged: { nativeId: string; lastMessage: { id: string } | null } }>(
      ws,
      `subscription { conversationChanged(sources: ["monica"]) { nativeId lastMessage { id } } }`,
    );
    // The poller's first poll only sets its baseline; wait until it has run once more with nothing to report.
    await eventually(() => mo.requests().filter((r) => r.path === '/api/conversations').length >= 2, 10_000);

    const before = await stored(5);
    const edited = (await control<{ data: RawConversation }>('/conversations/5/dashboard-edit')).data;
    const newIds = new Set(edited.messages.map((m) => msgId(5, m.id)));
    expect(before.messages.some((m) => newIds.has(msgId(5, m.id)))).toBe(false);

    const pushed = await eventually(() => {
      const v = sub.values.find((x) => x.conversationChanged.nativeId === '5');
      if (!v) throw new Error('no event for conversation 5 yet');
      return v.conversationChanged;
    }, 15_000);
    expect(newIds.has(pushed.lastMessage!.id)).toBe(true);
    expect(sub.errors).toEqual([]);

    const stale = msgId(5, before.messages[0]!.id);
    mo.clearRequests();
    const edit = await t.gql(EDIT, { id: stale, content: 'too late' });
    expect(edit.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', source: 'monica' });
    const del = await t.gql(DELETE_MESSAGE, { id: stale });
    expect(del.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', source: 'monica' });
    // Nothing was changed by the stale ids: no PUT, and the one DELETE found nothing.
    expect(writes().map((w) => [w.method, w.status])).toEqual([['DELETE', 404]]);
    const node = await t.gql<{ node: unknown }>(`query($id: ID!) { node(id: $id) { id } }`, { id: stale });
    expect(node.body.data!.node).toBeNull();

    const list = await t.gql<{ conversation: { messages: { edges: Array<{ node: { id: string } }> } } }>(
      `query($id: ID!) { conversation(id: $id) { messages(first: 50) { edges { node { id } } } } }`,
      { id: convId(5) },
    );
    expect(new Set(list.body.data!.conversation.messages.edges.map((e) => e.node.id))).toEqual(newIds);
  });
});
