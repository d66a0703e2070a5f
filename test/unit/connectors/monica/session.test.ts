import type { MonicaSourceConfig } from '../../../../src/config/schema';
import { rejection } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';
import { createMonicaConnector, MONICA_CAPABILITIES, MONICA_PROFILE } from '../../../../src/connectors/monica';
import { CatalogSync, ConversationCatalog } from '../../../../src/connectors/catalog';
import { createMonicaCatalogReader } from '../../../../src/connectors/monica/catalog';
import { createMemoryCatalogStore } from '../../../../src/connectors/catalog-stores/memory';
import { createMonicaClient } from '../../../../src/connectors/monica/client';
import { toMonicaDate } from '../../../../src/connectors/monica/mapper';
import { MonicaSession } from '../../../../src/connectors/monica/session';
import type { Connector, ConnectorSession, MessageModel } from '../../../../src/connectors/types';
import { ErrorCode } from '../../../../src/errors';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN, startMonicaEmulator } from '../../../../src/sandbox/monica';

/** The connector against the emulator over real HTTP (port 0). */

/** The sandbox's Monica config (test/utils/vendors.ts), without retries: request counts are exact. */
const config = (url: string, over: Partial<MonicaSourceConfig> = {}): MonicaSourceConfig =>
  vendorConfig('MONICA', url, { retries: 0, ...over });

interface RawMessage {
  id: number;
  content: string;
  written_at: string;
  written_by_me: boolean;
  updated_at: string;
}
interface RawConversation {
  id: number;
  happened_at: string;
  updated_at: string;
  contact: { id: number; complete_name: string };
  contact_field_type: { id: number; name: string };
  messages: RawMessage[];
}

let emu: EmulatorHandle;
let connector: Connector;

beforeAll(async () => {
  emu = await startMonicaEmulator({ rateLimitPerMinute: 1_000_000 });
  connector = createMonicaConnector(config(emu.url));
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.controls.reset();
  emu.clearRequests();
  // A fresh connector, so each test starts with an empty catalog.
  connector = createMonicaConnector(config(emu.url));
});

const open = (c: Connector = connector): ConnectorSession => c.openSession({ requestId: 'test' });
/** The JSON bodies the connector sent with one method, in order (the emulator logs raw write bodies). */
const bodies = (method: string, h: EmulatorHandle = emu) =>
  h
    .requests()
    .filter((r) => r.method === method)
    .map((r) => JSON.parse(r.body ?? 'null') as unknown);
/** A session with a fixed clock, over a fresh connector's client (what openSession builds). */
function sessionAt(now: Date, h: EmulatorHandle = emu): MonicaSession {
  const cfg = config(h.url);
  const client = createMonicaClient(cfg);
  const catalog = new ConversationCatalog(createMemoryCatalogStore(), cfg.id, 30_000);
  return new MonicaSession(
    {
      config: cfg,
      profile: MONICA_PROFILE,
      client,
      catalog,
      sync: new CatalogSync(catalog, createMonicaCatalogReader(cfg, client)),
      shared: undefined,
      now: () => now,
    },
    { requestId: 'test' },
  );
}
/** POST to the emulator's control API. */
async function control<T = unknown>(path: string, json: unknown = {}, h: EmulatorHandle = emu): Promise<T> {
  const res = await fetch(`${h.url}/__sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return (await res.json()) as T;
}
const calls = (h: EmulatorHandle = emu) => h.requests().map((r) => `${r.method} ${r.path}`);
const headers = { authorization: `Bearer ${MONICA_SANDBOX_TOKEN}`, accept: 'application/json' };

/** Everything, read raw; clears the request log afterwards so tests count only the connector's calls. */
async function rawAll(h: EmulatorHandle = emu): Promise<RawConversation[]> {
  const out: RawConversation[] = [];
  for (let page = 1; ; page++) {
    const body = (await (await fetch(`${h.url}/api/conversations?limit=100&page=${page}`, { headers })).json()) as {
      data: RawConversation[];
      links: { next: string | null };
    };
    out.push(...body.data);
    if (!body.links.next) break;
  }
  h.clearRequests();
  return out;
}
async function raw(id: number): Promise<RawConversation> {
  const body = (await (await fetch(`${emu.url}/api/conversations/${id}`, { headers })).json()) as {
    data: RawConversation;
  };
  emu.clearRequests();
  return body.data;
}

/** The inbox order computed straight from the wire: max(written_at) else happened_at, desc; then id asc. */
function inboxOrder(all: RawConversation[]): string[] {
  const last = (c: RawConversation) => Math.max(...c.messages.map((m) => Date.parse(m.written_at)), -Infinity);
  const key = (c: RawConversation) => (c.messages.length > 0 ? last(c) : Date.parse(c.happened_at));
  return [...all].sort((a, b) => key(b) - key(a) || a.id - b.id).map((c) => String(c.id));
}

describe('listConversations', () => {
  it('returns every conversation in inbox order with the total', async () => {
    const expected = inboxOrder(await rawAll());
    const page = await open().listConversations({ offset: 0, limit: 100, filter: {} });
    expect(page.total).toBe(20);
    expect(page.items.map((c) => c.nativeId)).toEqual(expected);
  });

  it('slices windows of the same order by offset', async () => {
    const expected = inboxOrder(await rawAll());
    const page = await open().listConversations({ offset: 5, limit: 5, filter: {} });
    expect(page.items.map((c) => c.nativeId)).toEqual(expected.slice(5, 10));
    expect(page.total).toBe(20);
  });

  it('syncs the catalog once and serves pages, participants and last messages from it', async () => {
    const s = open();
    const a = await s.listConversations({ offset: 0, limit: 3, filter: {} });
    await s.listConversations({ offset: 3, limit: 3, filter: { search: 'a' } });
    expect(await s.loadLastMessage(a.items[0]!)).toEqual(a.items[0]!.lastMessage);
    expect((await s.loadParticipants(a.items[0]!)).map((p) => p.kind)).toEqual(['CONTACT', 'AGENT']);
    expect(calls().sort()).toEqual(['GET /api/conversations', 'GET /api/me']);
    expect(emu.requests().find((r) => r.path === '/api/conversations')!.query).toMatchObject({
      page: '1',
      limit: '100',
    });
    // Another operation while the snapshot is fresh: no request at all.
    emu.clearRequests();
    const again = await open().listConversations({ offset: 0, limit: 3, filter: {} });
    expect(again.items.map((c) => c.nativeId)).toEqual(a.items.map((c) => c.nativeId));
    expect(calls()).toEqual([]);
  });

  it('re-syncs when the snapshot is older than catalogMaxAgeMs', async () => {
    const c = createMonicaConnector(config(emu.url, { catalogMaxAgeMs: 1 }));
    await open(c).listConversations({ offset: 0, limit: 1, filter: {} });
    await new Promise((r) => setTimeout(r, 5));
    emu.controls.simulateIncoming({ conversationId: '3', content: 'Fresh news' });
    emu.clearRequests();
    const page = await open(c).listConversations({ offset: 0, limit: 1, filter: {} });
    expect(page.items[0]!.nativeId).toBe('3');
    expect(calls()).toContain('GET /api/conversations');
  });

  it('patches the catalog on writes, so the inbox shows them before the next sync', async () => {
    const s = open();
    await s.listConversations({ offset: 0, limit: 1, filter: {} });
    await s.sendMessage({
      conversationNativeId: '5',
      content: 'Sent through the gateway',
      private: false,
      attachmentIds: [],
      files: [],
    });
    emu.clearRequests();
    const page = await open().listConversations({ offset: 0, limit: 1, filter: {} });
    expect(page.items[0]).toMatchObject({
      nativeId: '5',
      lastMessage: expect.objectContaining({ content: 'Sent through the gateway' }),
    });
    expect(calls()).toEqual([]);
  });

  it('reads every page, 100 at a time, when the account has more', async () => {
    const big = await startMonicaEmulator({ scale: 6, rateLimitPerMinute: 1_000_000 });
    try {
      const expected = inboxOrder(await rawAll(big));
      const page = await open(createMonicaConnector(config(big.url))).listConversations({
        offset: 95,
        limit: 10,
        filter: {},
      });
      expect(page.total).toBe(120);
      expect(page.items.map((c) => c.nativeId)).toEqual(expected.slice(95, 105));
      const q = big
        .requests()
        .filter((r) => r.path === '/api/conversations')
        .map((r) => r.query);
      expect(q).toEqual([
        { page: '1', limit: '100' },
        { page: '2', limit: '100' },
      ]);
    } finally {
      await big.close();
    }
  });

  it('filters by contact from the catalog', async () => {
    const all = await rawAll();
    const contactId = all[0]!.contact.id;
    const expected = inboxOrder(all.filter((c) => c.contact.id === contactId));
    const page = await open().listConversations({
      offset: 0,
      limit: 50,
      filter: { participantNativeId: String(contactId) },
    });
    expect(page.items.map((c) => c.nativeId)).toEqual(expected);
    expect(page.total).toBe(expected.length);
  });

  it('answers a filter on an unknown contact with nothing', async () => {
    const s = open();
    expect(await s.listConversations({ offset: 0, limit: 50, filter: { participantNativeId: '9999' } })).toEqual({
      items: [],
      total: 0,
    });
    expect(await s.listConversations({ offset: 0, limit: 50, filter: { participantNativeId: 'abc' } })).toEqual({
      items: [],
      total: 0,
    });
  });

  it('treats the account user as a participant of every conversation', async () => {
    const page = await open().listConversations({ offset: 0, limit: 50, filter: { participantNativeId: 'me' } });
    expect(page.total).toBe(20);
  });

  it('matches search against contact names and message contents, case-insensitively', async () => {
    const all = await rawAll();
    const name = all[0]!.contact.complete_name.split(' ')[0]!;
    const byName = all.filter((c) => c.contact.complete_name.toLowerCase().includes(name.toLowerCase()));
    const s = open();
    const a = await s.listConversations({ offset: 0, limit: 50, filter: { search: name.toUpperCase() } });
    expect(a.items.map((c) => c.nativeId).sort()).toEqual(byName.map((c) => String(c.id)).sort());

    const inContent = (w: string) => all.filter((c) => c.messages.some((m) => m.content.toLowerCase().includes(w)));
    // Words of the demo lines that appear in no name or channel.
    const word = ['lisbon', 'recipe', 'photos', 'book'].find((w) => inContent(w).length > 0)!;
    expect(word).toBeDefined();
    const byContent = inContent(word);
    const b = await s.listConversations({ offset: 0, limit: 50, filter: { search: word } });
    expect(b.items.map((c) => c.nativeId)).toEqual(inboxOrder(byContent));
  });

  it('answers filters Monica cannot satisfy (unread, labels, non-open status) without a request', async () => {
    const s = open();
    const none = { items: [], total: 0 };
    expect(await s.listConversations({ offset: 0, limit: 10, filter: { unreadOnly: true } })).toEqual(none);
    expect(await s.listConversations({ offset: 0, limit: 10, filter: { labels: ['family'] } })).toEqual(none);
    expect(await s.listConversations({ offset: 0, limit: 10, filter: { status: ['RESOLVED', 'ARCHIVED'] } })).toEqual(
      none,
    );
    expect(calls()).toEqual([]);
    expect((await s.listConversations({ offset: 0, limit: 10, filter: { status: ['OPEN'] } })).total).toBe(20);
  });
});

describe('participants', () => {
  it('loads the contact and the account user, fetching /me once per operation', async () => {
    const s = open();
    const { items } = await s.listConversations({ offset: 0, limit: 3, filter: {} });
    const lists = await Promise.all(items.map((c) => s.loadParticipants(c)));
    await s.loadParticipant('me');
    expect(calls()).toEqual(['GET /api/conversations', 'GET /api/me']);
    for (const ps of lists) {
      expect(ps.map((p) => p.kind)).toEqual(['CONTACT', 'AGENT']);
      expect(ps[1]).toMatchObject({ nativeId: 'me', name: 'Robin Keller', email: 'robin@example.com' });
    }
  });

  it('loads one contact with its email and phone from its contact fields', async () => {
    const s = open();
    const p = await s.loadParticipant('1');
    expect(p).toMatchObject({ nativeId: '1', kind: 'CONTACT' });
    expect(p?.email).toMatch(/@example\.com$/);
    expect(emu.requests()[0]).toMatchObject({ path: '/api/contacts/1', query: { with: 'contactfields' } });
    expect(await s.loadParticipant('9999')).toBeNull();
    expect(await s.loadParticipant('x')).toBeNull();
  });
});

describe('messages', () => {
  it('pages messages oldest first by written_at then id, whatever the DB order', async () => {
    const all = await rawAll();
    // The demo data logs some conversations out of order (docs/vendors/monica.md: embedded order is DB order).
    const conv = all.find((c) => c.messages.some((m, i) => i > 0 && m.written_at < c.messages[i - 1]!.written_at));
    expect(conv).toBeDefined();
    const expected = [...conv!.messages]
      .sort((a, b) => Date.parse(a.written_at) - Date.parse(b.written_at) || a.id - b.id)
      .map((m) => `${conv!.id}/${m.id}`);
    const s = open();
    const got: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await s.listMessages(String(conv!.id), { first: 2, after });
      got.push(...page.items.map((e) => e.message.nativeId));
      if (!page.hasNextPage) break;
      after = page.items.at(-1)!.cursor;
    }
    expect(got).toEqual(expected);
  });

  it('loads one message by its conversation/message id', async () => {
    const conv = await raw(2);
    const m = conv.messages[0]!;
    const s = open();
    expect(await s.loadMessage(`2/${m.id}`)).toMatchObject({
      nativeId: `2/${m.id}`,
      conversationNativeId: '2',
      content: m.content,
    });
    expect(await s.loadMessage('2/99999')).toBeNull();
    expect(await s.loadMessage('2')).toBeNull();
  });

  it('throws NOT_FOUND naming the source for the messages of an unknown conversation', async () => {
    const e = await rejection(open().listMessages('9999', { first: 5 }));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(e.extensions.source).toBe('monica');
  });
});

describe('writes', () => {
  it('creates a conversation on a named channel with a first message dated like it', async () => {
    const s = open();
    const c = await s.createConversation({
      participantNativeIds: ['me', '2'],
      channel: 'whatsapp',
      content: 'Lovely to see you yesterday',
      happenedAt: new Date('2026-10-30T18:00:00Z'),
    });
    // Matched case-insensitively: Monica's default type is spelled `Whatsapp`.
    expect(c).toMatchObject({ channel: 'Whatsapp', subject: 'Whatsapp · 2026-10-30', status: 'OPEN' });
    expect(c.lastMessage).toMatchObject({ content: 'Lovely to see you yesterday', direction: 'OUTGOING' });
    expect(bodies('POST')).toEqual([
      { happened_at: '2026-10-30T18:00:00Z', contact_id: 2, contact_field_type_id: 5 },
      { written_at: '2026-10-30T18:00:00Z', written_by_me: true, content: 'Lovely to see you yesterday' },
    ]);

    const stored = await raw(Number(c.nativeId));
    // docs/vendors/monica.md "Timestamps": the time of day is kept, on the conversation and its first message.
    expect(stored).toMatchObject({ happened_at: '2026-10-30T18:00:00Z', contact: { id: 2 } });
    expect(stored.messages.map((m) => [m.written_at, m.written_by_me])).toEqual([['2026-10-30T18:00:00Z', true]]);
  });

  it("creates a conversation today on the account's first contact field type by default", async () => {
    const c = await open().createConversation({ participantNativeIds: ['3'] });
    expect(c.channel).toBe('Email');
    expect(c.subject).toBe(`Email · ${toMonicaDate(new Date())}`);
    expect(c.lastMessage).toBeNull();
    expect(calls()).toEqual(['GET /api/contactfieldtypes', 'POST /api/conversations']);
  });

  it('refuses create inputs Monica cannot hold', async () => {
    const s = open();
    expect((await rejection(s.createConversation({ participantNativeIds: ['1', '2'] }))).code).toBe(
      ErrorCode.BAD_USER_INPUT,
    );
    expect((await rejection(s.createConversation({ participantNativeIds: ['1'], subject: 'Hi' }))).code).toBe(
      ErrorCode.UNSUPPORTED_OPERATION,
    );
    expect((await rejection(s.createConversation({ participantNativeIds: [], groupNativeId: 'g' }))).code).toBe(
      ErrorCode.UNSUPPORTED_OPERATION,
    );
    expect((await rejection(s.createConversation({ participantNativeIds: ['1'], channel: 'Pigeon' }))).code).toBe(
      ErrorCode.BAD_USER_INPUT,
    );
    const missing = await rejection(s.createConversation({ participantNativeIds: ['9999'], channel: '1' }));
    expect(missing.code).toBe(ErrorCode.NOT_FOUND);
    expect(missing.extensions.source).toBe('monica');
  });

  it('updates happenedAt and keeps the contact field type (PUT needs both)', async () => {
    const before = await raw(4);
    const c = await open().updateConversation('4', { happenedAt: new Date('2026-01-15T00:00:00Z') });
    expect(c.subject).toBe(`${before.contact_field_type.name} · 2026-01-15`);
    const after = await raw(4);
    expect(after.happened_at).toBe('2026-01-15T00:00:00Z');
    expect(after.contact_field_type.id).toBe(before.contact_field_type.id);
  });

  it.each([
    [{ status: 'RESOLVED' as const }],
    [{ muted: true }],
    [{ pinned: true }],
    [{ archived: true }],
    [{ subject: 'New' }],
    [{ labels: ['x'] }],
  ])('refuses to update %j with UNSUPPORTED_OPERATION naming the source, without a request', async (patch) => {
    const e = await rejection(open().updateConversation('4', patch));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED_OPERATION);
    expect(e.extensions.source).toBe('monica');
    expect(calls()).toEqual([]);
  });

  it('sends an outgoing message dated today and the conversation moves to the top of the next poll', async () => {
    const before = await raw(7);
    const m = await open().sendMessage({
      conversationNativeId: '7',
      content: 'Coffee next week?',
      private: false,
      attachmentIds: [],
      files: [],
    });
    const newest = Math.max(...(await raw(7)).messages.map((x) => x.id));
    expect(m).toMatchObject({
      nativeId: `7/${newest}`,
      content: 'Coffee next week?',
      direction: 'OUTGOING',
      senderRef: 'me',
    });
    expect(toMonicaDate(m.sentAt!)).toBe(toMonicaDate(new Date()));
    const page = await open().listConversations({ offset: 0, limit: 1, filter: {} });
    expect(page.items[0]).toMatchObject({ nativeId: '7' });
    // docs/vendors/monica.md: a new message does not touch the conversation's updated_at.
    expect((await raw(7)).updated_at).toBe(before.updated_at);
  });

  it('refuses attachments and private notes', async () => {
    const s = open();
    const base = { conversationNativeId: '7', content: 'x', private: false, attachmentIds: [], files: [] };
    expect((await rejection(s.sendMessage({ ...base, attachmentIds: ['a'] }))).code).toBe(
      ErrorCode.UNSUPPORTED_OPERATION,
    );
    expect((await rejection(s.sendMessage({ ...base, private: true }))).code).toBe(ErrorCode.UNSUPPORTED_OPERATION);
    expect(calls()).toEqual([]);
  });

  it('edits a message and keeps its written_at and written_by_me', async () => {
    const all = await rawAll();
    const conv = all.find((c) => c.messages.some((m) => !m.written_by_me))!;
    const target = conv.messages.find((m) => !m.written_by_me)!;
    const edited: MessageModel = await open().editMessage(`${conv.id}/${target.id}`, 'Edited words');
    expect(edited).toMatchObject({
      content: 'Edited words',
      direction: 'INCOMING',
      sentAt: new Date(target.written_at),
    });
    const stored = (await raw(conv.id)).messages.find((m) => m.id === target.id)!;
    expect(stored).toMatchObject({ content: 'Edited words', written_at: target.written_at, written_by_me: false });
  });

  it('deletes a message and a conversation', async () => {
    const conv = await raw(3);
    const s = open();
    await s.deleteMessage(`3/${conv.messages[0]!.id}`);
    expect((await raw(3)).messages).toHaveLength(conv.messages.length - 1);
    await s.deleteConversation('3');
    expect(await open().loadConversation('3')).toBeNull();
    const e = await rejection(open().deleteConversation('3'));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(e.extensions.source).toBe('monica');
  });

  it('sees a message written through the vendor on the next poll', async () => {
    emu.controls.simulateIncoming({ conversationId: '12', content: 'Are you free on Sunday?' });
    const page = await open().listConversations({ offset: 0, limit: 1, filter: {} });
    expect(page.items[0]!.nativeId).toBe('12');
    expect(page.items[0]!.lastMessage).toMatchObject({ content: 'Are you free on Sunday?', direction: 'INCOMING' });
  });
});

describe('times of day (docs/vendors/monica.md "Timestamps")', () => {
  it('keeps 14:35:07 written by another client when the gateway edits the message', async () => {
    // Another API client logs a message with a time of day.
    const res = await fetch(`${emu.url}/api/conversations/6/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ written_at: '2026-11-28T14:35:07Z', written_by_me: false, content: 'Seen at 14:35:07' }),
    });
    const theirs = ((await res.json()) as { data: RawConversation }).data.messages.at(-1)!;
    expect(theirs.written_at).toBe('2026-11-28T14:35:07Z');
    emu.clearRequests();
    const edited = await open().editMessage(`6/${theirs.id}`, 'Edited through the gateway');
    expect(edited.sentAt).toEqual(new Date('2026-11-28T14:35:07Z'));
    expect(bodies('PUT')).toEqual([
      { written_at: '2026-11-28T14:35:07Z', written_by_me: false, content: 'Edited through the gateway' },
    ]);
    const stored = (await raw(6)).messages.find((m) => m.id === theirs.id)!;
    expect(stored).toMatchObject({ written_at: '2026-11-28T14:35:07Z', content: 'Edited through the gateway' });
  });

  it('sends a message written now, to the second', async () => {
    const now = new Date('2026-11-29T08:07:06.543Z');
    const m = await sessionAt(now).sendMessage({
      conversationNativeId: '7',
      content: 'At 08:07:06',
      private: false,
      attachmentIds: [],
      files: [],
    });
    expect(bodies('POST')).toEqual([
      { written_at: '2026-11-29T08:07:06Z', written_by_me: true, content: 'At 08:07:06' },
    ]);
    expect(m.sentAt).toEqual(new Date('2026-11-29T08:07:06Z'));
    expect((await raw(7)).messages.at(-1)!.written_at).toBe('2026-11-29T08:07:06Z');
  });

  it('updates happenedAt with its time of day and creates at the current time by default', async () => {
    const type = (await raw(4)).contact_field_type.id;
    await open().updateConversation('4', { happenedAt: new Date('2026-01-15T10:20:30Z') });
    expect(bodies('PUT')).toEqual([{ happened_at: '2026-01-15T10:20:30Z', contact_field_type_id: type }]);
    expect((await raw(4)).happened_at).toBe('2026-01-15T10:20:30Z');
    const c = await sessionAt(new Date('2026-11-29T21:22:23Z')).createConversation({
      participantNativeIds: ['3'],
      content: 'hello',
    });
    expect(await raw(Number(c.nativeId))).toMatchObject({
      happened_at: '2026-11-29T21:22:23Z',
      messages: [{ written_at: '2026-11-29T21:22:23Z' }],
    });
  });
});

describe('unknown ids (Monica answers 422/32 on PUT/DELETE /conversations/{id})', () => {
  it('deletes an already-deleted conversation as NOT_FOUND, with one request and no fallback read', async () => {
    await open().deleteConversation('3');
    emu.clearRequests();
    const e = await rejection(open().deleteConversation('3'));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(e.extensions.source).toBe('monica');
    expect(emu.requests().map((r) => [r.method, r.path, r.status])).toEqual([['DELETE', '/api/conversations/3', 422]]);
  });

  it('drops a conversation deleted elsewhere from the catalog when a delete finds it gone', async () => {
    const s = open();
    await s.listConversations({ offset: 0, limit: 100, filter: {} });
    await fetch(`${emu.url}/api/conversations/8`, { method: 'DELETE', headers });
    expect((await rejection(s.deleteConversation('8'))).code).toBe(ErrorCode.NOT_FOUND);
    emu.clearRequests();
    const page = await open().listConversations({ offset: 0, limit: 100, filter: {} });
    expect(page.items.map((c) => c.nativeId)).not.toContain('8');
    expect(calls()).toEqual([]);
  });

  it('updates a conversation deleted elsewhere as NOT_FOUND and drops it from the catalog', async () => {
    const s = open();
    await s.listConversations({ offset: 0, limit: 100, filter: {} });
    await fetch(`${emu.url}/api/conversations/10`, { method: 'DELETE', headers });
    const e = await rejection(s.updateConversation('10', { happenedAt: new Date('2026-01-01T12:00:00Z') }));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    emu.clearRequests();
    const page = await open().listConversations({ offset: 0, limit: 100, filter: {} });
    expect(page.items.map((c) => c.nativeId)).not.toContain('10');
    expect(calls()).toEqual([]);
  });

  it('creates for an unknown contact as NOT_FOUND (422 "The selected contact id is invalid.")', async () => {
    const e = await rejection(open().createConversation({ participantNativeIds: ['9999'], channel: '1' }));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(emu.requests().map((r) => r.status)).toEqual([422]);
  });

  describe('in another locale (validation texts are translated)', () => {
    let fr: EmulatorHandle;
    beforeAll(async () => {
      fr = await startMonicaEmulator({ locale: 'fr', rateLimitPerMinute: 1_000_000 });
    });
    afterAll(() => fr.close());
    beforeEach(() => {
      fr.controls.reset();
      fr.clearRequests();
    });
    const frOpen = () => createMonicaConnector(config(fr.url)).openSession({ requestId: 'test' });

    it('reads the conversation once to tell a missing id from another refusal', async () => {
      const e = await rejection(frOpen().deleteConversation('9999'));
      expect(e.code).toBe(ErrorCode.NOT_FOUND);
      expect(fr.requests().map((r) => [r.method, r.path, r.status])).toEqual([
        ['DELETE', '/api/conversations/9999', 422],
        ['GET', '/api/conversations/9999', 404],
      ]);
    });

    it('leaves a real validation failure SOURCE_REJECTED after that read', async () => {
      const e = await rejection(
        frOpen().sendMessage({ conversationNativeId: '7', content: '', private: false, attachmentIds: [], files: [] }),
      );
      expect(e.code).toBe(ErrorCode.SOURCE_REJECTED);
      expect(e.extensions.reason).toBeUndefined();
      expect(e.message).toContain('Le champ content est obligatoire.');
      expect(fr.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /api/conversations/7/messages',
        'GET /api/conversations/7',
      ]);
    });

    it('recognises an archived contact by reading it', async () => {
      const conv = (await (await fetch(`${fr.url}/api/conversations/7`, { headers })).json()) as {
        data: RawConversation;
      };
      await control(`/contacts/${conv.data.contact.id}/archive`, { archived: true }, fr);
      fr.clearRequests();
      const e = await rejection(
        frOpen().sendMessage({ conversationNativeId: '7', content: 'x', private: false, attachmentIds: [], files: [] }),
      );
      expect(e.code).toBe(ErrorCode.SOURCE_REJECTED);
      expect(e.extensions.reason).toBe('CONTACT_ARCHIVED');
      const create = await rejection(
        frOpen().createConversation({ participantNativeIds: [String(conv.data.contact.id)], channel: '1' }),
      );
      expect(create.extensions.reason).toBe('CONTACT_ARCHIVED');
      expect(fr.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /api/conversations/7/messages',
        'GET /api/conversations/7',
        'POST /api/conversations',
        `GET /api/contacts/${conv.data.contact.id}`,
      ]);
    });
  });
});

describe('archived contacts (Contact::throwInactive: 422/32)', () => {
  let conv: RawConversation;
  beforeEach(async () => {
    conv = await raw(2);
    await control(`/contacts/${conv.contact.id}/archive`, { archived: true });
    emu.clearRequests();
  });

  it('refuses every write with SOURCE_REJECTED, reason CONTACT_ARCHIVED and a message that says what to do', async () => {
    const m = `2/${conv.messages[0]!.id}`;
    const attempts: Array<[string, () => Promise<unknown>]> = [
      [
        'send',
        () =>
          open().sendMessage({ conversationNativeId: '2', content: 'x', private: false, attachmentIds: [], files: [] }),
      ],
      ['edit', () => open().editMessage(m, 'x')],
      ['delete message', () => open().deleteMessage(m)],
      ['update', () => open().updateConversation('2', { happenedAt: new Date('2026-01-01T00:00:00Z') })],
      ['delete', () => open().deleteConversation('2')],
      ['create', () => open().createConversation({ participantNativeIds: [String(conv.contact.id)], channel: '1' })],
    ];
    for (const [name, run] of attempts) {
      const e = await rejection(run());
      expect([name, e.code, e.extensions.reason, e.extensions.source]).toEqual([
        name,
        ErrorCode.SOURCE_REJECTED,
        'CONTACT_ARCHIVED',
        'monica',
      ]);
      expect(e.message).toMatch(/archived in Monica/);
      expect(e.message).toMatch(/unarchive the contact in Monica first/);
    }
    // Nothing was written.
    expect((await raw(2)).messages).toHaveLength(conv.messages.length);
  });

  it('still reads the conversations of an archived contact', async () => {
    expect(await open().loadConversation('2')).toMatchObject({ nativeId: '2' });
  });
});

describe("an edit in Monica's web UI re-creates every message with a new id", () => {
  const dashboardEdit = (id: number) => control<{ data: RawConversation }>(`/conversations/${id}/dashboard-edit`);

  it('makes stale message ids NOT_FOUND for edit and delete, without writing anything', async () => {
    const before = await raw(5);
    await dashboardEdit(5);
    emu.clearRequests();
    const stale = `5/${before.messages[0]!.id}`;
    const edit = await rejection(open().editMessage(stale, 'too late'));
    expect(edit.code).toBe(ErrorCode.NOT_FOUND);
    const del = await rejection(open().deleteMessage(stale));
    expect(del.code).toBe(ErrorCode.NOT_FOUND);
    expect(await open().loadMessage(stale)).toBeNull();
    expect(calls()).toEqual([
      'GET /api/conversations/5',
      `DELETE /api/conversations/5/messages/${before.messages[0]!.id}`,
      'GET /api/conversations/5',
    ]);
    expect(emu.requests().map((r) => r.status)).toEqual([200, 404, 200]);
  });

  it('lists the new ids, and a stale edit puts the conversation as it is now into the catalog', async () => {
    const s = open();
    await s.listConversations({ offset: 0, limit: 100, filter: {} });
    const before = await raw(5);
    const after = (await dashboardEdit(5)).data;
    const page = await open().listMessages('5', { first: 50 });
    expect(page.items.map((e) => e.message.nativeId).sort()).toEqual(after.messages.map((m) => `5/${m.id}`).sort());
    await rejection(open().editMessage(`5/${before.messages.at(-1)!.id}`, 'x'));
    emu.clearRequests();
    const listed = (await open().listConversations({ offset: 0, limit: 100, filter: {} })).items.find(
      (c) => c.nativeId === '5',
    )!;
    expect(after.messages.map((m) => `5/${m.id}`)).toContain(listed.lastMessage!.nativeId);
    expect(calls()).toEqual([]);
  });

  it('is reported by the next poll', async () => {
    const poll = connector.poll!;
    expect(await poll({ requestId: 'poll' })).toEqual([]);
    await dashboardEdit(9);
    const changes = await poll({ requestId: 'poll' });
    expect(changes.map((c) => c.conversationNativeId)).toEqual(['9']);
    const fresh = await raw(9);
    expect(fresh.messages.map((m) => `9/${m.id}`)).toContain(changes[0]!.conversation!.lastMessage!.nativeId);
    expect(await poll({ requestId: 'poll' })).toEqual([]);
  });
});

describe('errors', () => {
  it('surfaces Monica validation as SOURCE_REJECTED with its message', async () => {
    const e = await rejection(
      open().sendMessage({ conversationNativeId: '7', content: '', private: false, attachmentIds: [], files: [] }),
    );
    expect(e.code).toBe(ErrorCode.SOURCE_REJECTED);
    expect(e.message).toContain('The content field is required.');
    expect(e.extensions.reason).toBeUndefined();
    // An English text is read as it is: no extra request to explain it.
    expect(calls()).toEqual(['POST /api/conversations/7/messages']);
  });

  it('surfaces the throttle as SOURCE_RATE_LIMITED with retryAfter', async () => {
    const slow = await startMonicaEmulator({ rateLimitPerMinute: 1 });
    try {
      const c = createMonicaConnector(config(slow.url));
      await open(c).loadConversation('1');
      const e = await rejection(open(c).loadConversation('2'));
      expect(e.code).toBe(ErrorCode.SOURCE_RATE_LIMITED);
      expect(e.extensions.source).toBe('monica');
      expect(e.extensions.retryAfter).toBeGreaterThanOrEqual(1);
      expect(e.extensions.retryAfter).toBeLessThanOrEqual(60);
    } finally {
      await slow.close();
    }
  });

  it('reports a refused token as SOURCE_AUTH_FAILED', async () => {
    const c = createMonicaConnector(config(emu.url, { credentials: { token: 'wrong' } }));
    const e = await rejection(open(c).listConversations({ offset: 0, limit: 5, filter: {} }));
    expect(e.code).toBe(ErrorCode.SOURCE_AUTH_FAILED);
    expect(e.extensions.source).toBe('monica');
  });

  it('exposes the Monica capabilities: no read state, attachments or webhooks', () => {
    expect(connector.capabilities).toBe(MONICA_CAPABILITIES);
    expect(MONICA_CAPABILITIES).toMatchObject({
      unreadCounts: false,
      markRead: false,
      attachments: false,
      realtime: 'POLLING',
    });
  });
});
