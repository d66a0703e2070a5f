import { createServer, type Server } from 'node:http';
import { rejection } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';
import { waitFor } from '../../../utils/wait';
import type { AddressInfo } from 'node:net';
import type { ProtocolSourceConfig } from '../../../../src/config/schema';
import {
  createProtocolConnector,
  PROTOCOL_CAPABILITIES,
  PROTOCOL_MAX_ATTACHMENT_SIZE,
} from '../../../../src/connectors/protocol';
import {
  compareConversations,
  type Connector,
  type ConnectorSession,
  type ConversationModel,
  type MessageModel,
} from '../../../../src/connectors/types';
import { ErrorCode, GatewayError } from '../../../../src/errors';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import {
  PROTOCOL_SANDBOX_SELF_CONTACT_ID as SELF,
  PROTOCOL_SANDBOX_TOKEN,
  PROTOCOL_SANDBOX_WEBHOOK_SECRET,
  startProtocolEmulator,
} from '../../../../src/sandbox/protocol';

type Json = Record<string, unknown>;

/** The sandbox's Protocol config (test/utils/vendors.ts), without retries: request counts are exact. */
const config = (url: string, over: Partial<ProtocolSourceConfig> = {}): ProtocolSourceConfig =>
  vendorConfig('PROTOCOL', url, { retries: 0, ...over });

describe('Protocol connector against the emulator', () => {
  let emu: EmulatorHandle;
  let connector: Connector;
  let session: ConnectorSession;
  const open = () => connector.openSession({ requestId: 'test' });
  const vendor = async (path: string): Promise<Json[]> => {
    const out: Json[] = [];
    let after = '';
    for (;;) {
      const sep = path.includes('?') ? '&' : '?';
      const res = await fetch(`${emu.url}/v1${path}${sep}limit=100${after ? `&starting_after=${after}` : ''}`, {
        headers: { authorization: `Bearer ${PROTOCOL_SANDBOX_TOKEN}` },
      });
      const body = (await res.json()) as { has_more: boolean; data: Json[] };
      out.push(...body.data);
      if (!body.has_more) return out;
      after = String(body.data[body.data.length - 1]?.id);
    }
  };
  const requests = (path: string) => emu.requests().filter((r) => r.path === `/v1${path}`);

  beforeAll(async () => {
    emu = await startProtocolEmulator({ port: 0, scale: 3, rateLimitPerMinute: 100_000 });
    connector = createProtocolConnector(config(emu.url));
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.controls.reset();
    // A fresh connector, so each test starts with an empty catalog.
    connector = createProtocolConnector(config(emu.url));
    session = open();
  });

  it('declares its capabilities', () => {
    expect(connector.kind).toBe('PROTOCOL');
    expect(connector.capabilities).toBe(PROTOCOL_CAPABILITIES);
    expect(PROTOCOL_CAPABILITIES).toEqual(
      expect.objectContaining({
        unreadCounts: true,
        exactUnreadCounts: true,
        markRead: false,
        markUnread: false,
        uploadMode: 'INLINE',
        maxAttachmentSize: 25 * 1024 * 1024,
        settableStatuses: ['OPEN', 'ARCHIVED'],
        labels: false,
        realtime: 'WEBHOOK',
      }),
    );
  });

  describe('listConversations', () => {
    it('returns every conversation in the inbox order with the total, reading the list once in pages of 100', async () => {
      const vendorIds = (await vendor('/conversations')).map((c) => c.id);
      emu.clearRequests();
      const page = await session.listConversations({ offset: 0, limit: 100, filter: {} });
      expect(page.total).toBe(vendorIds.length);
      expect(page.items.map((c) => c.nativeId).sort()).toEqual([...vendorIds].sort());
      expect([...page.items].sort(compareConversations)).toEqual(page.items);
      // A conversation without messages has no lastMessageAt and sorts last.
      expect(page.items[page.items.length - 1]?.lastMessageAt).toBeNull();
      const lists = requests('/conversations');
      expect(lists).toHaveLength(Math.ceil(vendorIds.length / 100));
      expect(lists.every((r) => r.query.limit === '100')).toBe(true);
    });

    it('slices windows of the same order and reuses the session’s full read', async () => {
      const whole = await session.listConversations({ offset: 0, limit: 100, filter: {} });
      emu.clearRequests();
      const window = await session.listConversations({ offset: 7, limit: 5, filter: {} });
      expect(window.items.map((c) => c.nativeId)).toEqual(whole.items.slice(7, 12).map((c) => c.nativeId));
      expect(window.total).toBe(whole.total);
      expect(requests('/conversations')).toHaveLength(0);
    });

    it('names a conversation after its contact or group and lists the self contact as the AGENT', async () => {
      const page = await session.listConversations({ offset: 0, limit: 100, filter: {} });
      const contacts = new Map((await vendor('/contacts')).map((c) => [c.id, c]));
      const groups = new Map((await vendor('/groups')).map((g) => [g.id, g]));
      const raw = new Map((await vendor('/conversations')).map((c) => [c.id, c]));
      for (const c of page.items) {
        const r = raw.get(c.nativeId) as Json;
        if (r.group_id) {
          const g = groups.get(r.group_id) as Json;
          expect(c.subject).toBe(g.name);
          expect(c.participants?.filter((p) => p.kind === 'CONTACT').map((p) => p.nativeId)).toEqual(
            (g.contacts as Json[]).map((m) => m.id),
          );
        } else {
          const contact = contacts.get(r.contact_id) as Json;
          expect(c.subject).toBe(contact.display_name ?? contact.username);
        }
        expect(c.participants?.find((p) => p.kind === 'AGENT')?.nativeId).toBe(SELF);
        // Listed conversations come from the catalog, which carries the derived unread count.
        expect(c.unreadCount).toEqual(expect.any(Number));
        expect(c.channel).toBe('protocol');
      }
    });

    it('fetches each contact and group at most once per session', async () => {
      emu.clearRequests();
      await session.listConversations({ offset: 0, limit: 30, filter: {} });
      await session.listConversations({ offset: 30, limit: 30, filter: {} });
      const gets = emu
        .requests()
        .filter((r) => /^\/v1\/(contacts|groups)\/[^/]+$/.test(r.path))
        .map((r) => r.path);
      expect(new Set(gets).size).toBe(gets.length);
    });

    it('filters by status', async () => {
      const all = await vendor('/conversations');
      emu.clearRequests();
      const archived = await session.listConversations({ offset: 0, limit: 100, filter: { status: ['ARCHIVED'] } });
      expect(archived.total).toBe(all.filter((c) => c.archived_at !== null).length);
      expect(archived.items.every((c) => c.status === 'ARCHIVED' && c.archived)).toBe(true);
      const openOnes = await session.listConversations({ offset: 0, limit: 100, filter: { status: ['OPEN'] } });
      expect(openOnes.total).toBe(all.length - archived.total);
      const none = await session.listConversations({ offset: 0, limit: 100, filter: { status: ['RESOLVED'] } });
      expect(none).toEqual({ items: [], total: 0 });
    });

    it('filters unread-only with the derived counts, which agree with the emulator', async () => {
      const page = await session.listConversations({ offset: 0, limit: 100, filter: { unreadOnly: true } });
      const state = emu.controls.unreadState();
      expect(page.total).toBe(state?.conversationsWithUnread);
      expect(page.items.every((c) => (c.unreadCount ?? 0) > 0)).toBe(true);
      expect(page.items.reduce((n, c) => n + (c.unreadCount ?? 0), 0)).toBe(state?.total);
    });

    it('searches subjects and participant names, and filters by participant', async () => {
      const page = await session.listConversations({ offset: 0, limit: 100, filter: {} });
      const group = page.items.find((c) => (c.participants?.length ?? 0) > 2) as ConversationModel;
      const member = group.participants?.find((p) => p.kind === 'CONTACT');
      const byMember = await open().listConversations({
        offset: 0,
        limit: 100,
        filter: { participantNativeId: member?.nativeId },
      });
      expect(byMember.items.map((c) => c.nativeId)).toContain(group.nativeId);
      expect(byMember.items.every((c) => c.participants?.some((p) => p.nativeId === member?.nativeId))).toBe(true);
      const search = await open().listConversations({
        offset: 0,
        limit: 100,
        filter: { search: String(group.subject).toUpperCase() },
      });
      expect(search.items.map((c) => c.nativeId)).toContain(group.nativeId);
      expect(
        (await open().listConversations({ offset: 0, limit: 100, filter: { search: 'zz-no-such-name' } })).total,
      ).toBe(0);
    });

    it('matches nothing for a label filter (Protocol has no labels)', async () => {
      expect((await session.listConversations({ offset: 0, limit: 10, filter: { labels: ['vip'] } })).total).toBe(0);
    });
  });

  describe('unread', () => {
    it('derives each conversation’s unread count and sums them like the emulator', async () => {
      const total = await session.unreadCount();
      expect(total).toEqual({ sourceId: 'protocol', ...emu.controls.unreadState() });
    });

    it('counts a simulated incoming message after a read, and stops counting after the next read', async () => {
      const c = (await session.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } }))
        .items[0] as ConversationModel;
      emu.controls.simulateRead({ conversationId: c.nativeId });
      expect(await open().loadUnreadCount?.(c)).toBe(0);
      emu.controls.simulateIncoming({ conversationId: c.nativeId });
      emu.controls.simulateIncoming({ conversationId: c.nativeId });
      expect(await open().loadUnreadCount?.(c)).toBe(2);
      emu.controls.simulateRead({ conversationId: c.nativeId });
      expect(await open().loadUnreadCount?.(c)).toBe(0);
    });

    it('reads a conversation’s messages once for its unread count and last message together', async () => {
      const c = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items[0] as ConversationModel;
      emu.clearRequests();
      const [n, last, again] = await Promise.all([
        session.loadUnreadCount?.(c),
        session.loadLastMessage(c),
        session.loadUnreadCount?.(c),
      ]);
      expect(n).toBe(again);
      const reads = requests('/messages');
      expect(reads.every((r) => r.query.limit === '100')).toBe(true);
      expect(reads).toHaveLength(1);
      expect(last?.conversationNativeId).toBe(c.nativeId);
      expect(last?.sentAt?.getTime()).toBe(c.lastMessageAt?.getTime());
    });

    it('serves the last message a listed (catalog) conversation carries without a request', async () => {
      const c = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items[0] as ConversationModel;
      emu.clearRequests();
      expect((await session.loadLastMessage(c))?.sentAt?.getTime()).toBe(c.lastMessageAt?.getTime());
      expect(emu.requests()).toHaveLength(0);
    });

    it('asks for one page of two messages only when just the last message of a bare conversation is needed', async () => {
      const c = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items[0] as ConversationModel;
      emu.clearRequests();
      await open().loadLastMessage({ ...c, lastMessage: undefined });
      // Two, not one: the second checks that the list is newest first, which no document says (wire.test.ts).
      expect(requests('/messages').map((r) => r.query.limit)).toEqual(['2']);
    });
  });

  describe('messages', () => {
    const busiest = async () => {
      const convs = await vendor('/conversations');
      let best = { id: '', n: -1 };
      for (const c of convs) {
        const n = (await vendor(`/messages?conversation_id=${String(c.id)}`)).length;
        if (n > best.n) best = { id: String(c.id), n };
      }
      return best;
    };

    it('pages backwards with last/before and forwards with first/after, oldest to newest', async () => {
      const { id, n } = await busiest();
      const all = (await vendor(`/messages?conversation_id=${id}`)).map((m) => m.id).reverse();
      expect(n).toBeGreaterThan(4);

      const newest = await session.listMessages(id, { last: 3 });
      expect(newest.items.map((i) => i.message.nativeId)).toEqual(all.slice(-3));
      expect([newest.hasPreviousPage, newest.hasNextPage]).toEqual([true, false]);

      const seen = [...newest.items];
      let page = newest;
      while (page.hasPreviousPage) {
        page = await open().listMessages(id, { last: 2, before: page.items[0]?.cursor });
        seen.unshift(...page.items);
      }
      expect(seen.map((i) => i.message.nativeId)).toEqual(all);

      const forward = await open().listMessages(id, { first: 2, after: seen[0]?.cursor });
      expect(forward.items.map((i) => i.message.nativeId)).toEqual(all.slice(1, 3));
      expect([forward.hasPreviousPage, forward.hasNextPage]).toEqual([true, n > 3]);
      const tail = await open().listMessages(id, { first: 100, after: seen[1]?.cursor });
      expect(tail.items.map((i) => i.message.nativeId)).toEqual(all.slice(2));
      expect(tail.hasNextPage).toBe(false);
    });

    it('serves the oldest messages for first without after, with a total', async () => {
      const { id } = await busiest();
      const all = (await vendor(`/messages?conversation_id=${id}`)).map((m) => m.id).reverse();
      const oldest = await session.listMessages(id, { first: 2 });
      expect(oldest.items.map((i) => i.message.nativeId)).toEqual(all.slice(0, 2));
      expect([oldest.hasPreviousPage, oldest.hasNextPage, oldest.totalCount]).toEqual([false, true, all.length]);
    });

    it('marks the self contact’s messages OUTGOING and the others INCOMING', async () => {
      const { id } = await busiest();
      const page = await session.listMessages(id, { last: 100 });
      const byDirection = (d: MessageModel['direction']) =>
        page.items.filter((i) => i.message.direction === d).map((i) => i.message);
      expect(byDirection('OUTGOING').every((m) => m.sender?.nativeId === SELF && m.sender.kind === 'AGENT')).toBe(true);
      expect(byDirection('INCOMING').every((m) => m.sender?.nativeId !== SELF && m.sender?.kind === 'CONTACT')).toBe(
        true,
      );
      expect(byDirection('OUTGOING').length + byDirection('INCOMING').length).toBe(page.items.length);
    });

    it('rejects a cursor that is not one of its own with BAD_USER_INPUT', async () => {
      const { id } = await busiest();
      expect((await rejection(session.listMessages(id, { first: 2, before: 'i:3' }))).code).toBe(
        ErrorCode.BAD_USER_INPUT,
      );
      expect((await rejection(session.listMessages(id, { first: 2, before: 'm:AAAAAAAAAAAAAAAA' }))).code).toBe(
        ErrorCode.BAD_USER_INPUT,
      );
    });

    it('answers NOT_FOUND naming the source for an unknown conversation', async () => {
      const e = await rejection(session.listMessages('AAAAAAAAAAAAAAAA', { last: 5 }));
      expect(e.code).toBe(ErrorCode.NOT_FOUND);
      expect(e.extensions.source).toBe('protocol');
      expect(e.message).toMatch(/protocol.*No such conversation/);
    });

    it('loads a message by id and null for an unknown one', async () => {
      const { id } = await busiest();
      const m = (await vendor(`/messages?conversation_id=${id}`))[0] as Json;
      expect((await session.loadMessage(String(m.id)))?.content).toBe(m.message);
      expect(await session.loadMessage('AAAAAAAAAAAAAAAA')).toBeNull();
      expect(await session.loadConversation('AAAAAAAAAAAAAAAA')).toBeNull();
      expect(await session.loadParticipant(SELF)).toEqual(
        expect.objectContaining({ nativeId: SELF, kind: 'AGENT', name: 'Switchboard Demo' }),
      );
    });
  });

  describe('writes', () => {
    const firstOpen = async () =>
      (await session.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } }))
        .items[0] as ConversationModel;

    it('sends a message with files uploaded to /v1/attachments first', async () => {
      const c = await firstOpen();
      emu.clearRequests();
      const m = await session.sendMessage({
        conversationNativeId: c.nativeId,
        content: 'Here you go',
        private: false,
        attachmentIds: [],
        files: [
          { filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('alpha') },
          { filename: 'b.png', contentType: 'image/png', data: Buffer.from('beta') },
        ],
      });
      expect(requests('/attachments').map((r) => r.method)).toEqual(['POST', 'POST']);
      expect(m).toEqual(
        expect.objectContaining({ content: 'Here you go', direction: 'OUTGOING', conversationNativeId: c.nativeId }),
      );
      expect(m.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
        ['a.txt', 'text/plain', 5],
        ['b.png', 'image/png', 4],
      ]);
      expect(await (await fetch(String(m.attachments[0]?.url))).text()).toBe('alpha');
      // The same session sees the new message afterwards.
      expect((await session.loadLastMessage({ ...c, lastMessage: undefined }))?.nativeId).toBe(m.nativeId);
      // And the catalog has it too.
      const listed = (await open().listConversations({ offset: 0, limit: 100, filter: {} })).items.find(
        (x) => x.nativeId === c.nativeId,
      );
      expect(listed?.lastMessage?.nativeId).toBe(m.nativeId);
    });

    it('refuses a file above the limit with FILE_TOO_LARGE before calling the vendor', async () => {
      const c = await firstOpen();
      emu.clearRequests();
      const e = await rejection(
        session.sendMessage({
          conversationNativeId: c.nativeId,
          content: 'big',
          private: false,
          attachmentIds: [],
          files: [
            {
              filename: 'big.bin',
              contentType: 'application/octet-stream',
              data: Buffer.alloc(PROTOCOL_MAX_ATTACHMENT_SIZE + 1),
            },
          ],
        }),
      );
      expect([e.code, e.extensions.maxSize]).toEqual([ErrorCode.FILE_TOO_LARGE, PROTOCOL_MAX_ATTACHMENT_SIZE]);
      expect(emu.requests()).toEqual([]);
    });

    it('refuses private notes with UNSUPPORTED_OPERATION', async () => {
      const c = await firstOpen();
      const e = await rejection(
        session.sendMessage({
          conversationNativeId: c.nativeId,
          content: 'x',
          private: true,
          attachmentIds: [],
          files: [],
        }),
      );
      expect(e.code).toBe(ErrorCode.UNSUPPORTED_OPERATION);
    });

    it('maps a vendor validation error to SOURCE_REJECTED with the vendor message', async () => {
      const c = await firstOpen();
      const e = await rejection(
        session.sendMessage({
          conversationNativeId: c.nativeId,
          content: ' ',
          private: false,
          attachmentIds: [],
          files: [],
        }),
      );
      expect(e.code).toBe(ErrorCode.SOURCE_REJECTED);
      expect(e.message).toMatch(/cannot be empty/);
    });

    it('creates a conversation with one contact, with a first message', async () => {
      const lonely = (await vendor('/contacts')).find((c) => c.conversation_id === null && c.id !== SELF) as Json;
      const c = await session.createConversation({
        participantNativeIds: [String(lonely.id), SELF],
        content: 'Hello there',
      });
      expect(c.subject).toBe(lonely.display_name ?? lonely.username);
      expect(c.lastMessageAt).not.toBeNull();
      expect((await open().loadLastMessage(c))?.content).toBe('Hello there');
    });

    it('creates (finds) a group conversation by group id', async () => {
      const g = (await vendor('/groups'))[0] as Json;
      const c = await session.createConversation({ participantNativeIds: [], groupNativeId: String(g.id) });
      expect([c.nativeId, c.subject]).toEqual([g.conversation_id, g.name]);
    });

    it('refuses several participants without a group with BAD_USER_INPUT', async () => {
      const contacts = (await vendor('/contacts')).filter((c) => c.id !== SELF);
      const e = await rejection(
        session.createConversation({ participantNativeIds: [String(contacts[0]?.id), String(contacts[1]?.id)] }),
      );
      expect(e.code).toBe(ErrorCode.BAD_USER_INPUT);
    });

    it('archives, reopens, pins and mutes', async () => {
      const c = await firstOpen();
      const archived = await session.updateConversation(c.nativeId, { status: 'ARCHIVED', pinned: true, muted: true });
      expect([archived.status, archived.archived, archived.pinned, archived.muted]).toEqual([
        'ARCHIVED',
        true,
        true,
        true,
      ]);
      const raw = (await vendor('/conversations?archived=true')).find((x) => x.id === c.nativeId) as Json;
      expect(raw.archived_at).toEqual(expect.any(Number));
      // The session's cached list follows its own writes.
      const list = await session.listConversations({ offset: 0, limit: 100, filter: { status: ['ARCHIVED'] } });
      expect(list.items.some((x) => x.nativeId === c.nativeId)).toBe(true);
      const reopened = await session.updateConversation(c.nativeId, { archived: false, muted: false });
      expect([reopened.status, reopened.archived, reopened.pinned, reopened.muted]).toEqual([
        'OPEN',
        false,
        true,
        false,
      ]);
      expect((await vendor('/conversations?archived=true')).some((x) => x.id === c.nativeId)).toBe(false);
    });

    it('refuses subject, labels and statuses other than OPEN and ARCHIVED with UNSUPPORTED_OPERATION', async () => {
      const c = await firstOpen();
      for (const patch of [{ subject: 'New' }, { labels: ['vip'] }, { status: 'RESOLVED' as const }]) {
        const e = await rejection(session.updateConversation(c.nativeId, patch));
        expect([e.code, e.extensions.source]).toEqual([ErrorCode.UNSUPPORTED_OPERATION, 'protocol']);
      }
    });

    it('answers NOT_FOUND for an update of an unknown conversation', async () => {
      const e = await rejection(session.updateConversation('AAAAAAAAAAAAAAAA', { muted: true }));
      expect([e.code, e.extensions.source]).toEqual([ErrorCode.NOT_FOUND, 'protocol']);
    });

    it('edits and deletes a message, and deletes a conversation', async () => {
      const c = await firstOpen();
      const m = await session.sendMessage({
        conversationNativeId: c.nativeId,
        content: 'v1',
        private: false,
        attachmentIds: [],
        files: [],
      });
      expect((await session.editMessage(m.nativeId, 'v2')).content).toBe('v2');
      await session.deleteMessage(m.nativeId);
      expect(await open().loadMessage(m.nativeId)).toBeNull();
      await session.deleteConversation(c.nativeId);
      expect(await open().loadConversation(c.nativeId)).toBeNull();
    });

    it('refuses mark read and unread with UNSUPPORTED_OPERATION', async () => {
      const c = await firstOpen();
      expect((await rejection(session.markRead(c.nativeId))).code).toBe(ErrorCode.UNSUPPORTED_OPERATION);
      expect((await rejection(session.markUnread(c.nativeId))).code).toBe(ErrorCode.UNSUPPORTED_OPERATION);
    });
  });

  describe('failures', () => {
    it('maps a wrong token to SOURCE_AUTH_FAILED', async () => {
      const bad = createProtocolConnector(config(emu.url, { credentials: { token: 'wrong' } }));
      const e = await rejection(
        bad.openSession({ requestId: 't' }).listConversations({ offset: 0, limit: 1, filter: {} }),
      );
      expect([e.code, e.extensions.source]).toEqual([ErrorCode.SOURCE_AUTH_FAILED, 'protocol']);
    });

    it('maps a 429 to SOURCE_RATE_LIMITED with retryAfter', async () => {
      const limited = await startProtocolEmulator({ port: 0, rateLimitPerMinute: 1 });
      try {
        const c = createProtocolConnector(config(limited.url));
        await c.openSession({ requestId: 't' }).loadConversation('AAAAAAAAAAAAAAAA');
        const e = await rejection(c.openSession({ requestId: 't' }).loadConversation('BBBBBBBBBBBBBBBB'));
        expect(e.code).toBe(ErrorCode.SOURCE_RATE_LIMITED);
        expect(e.extensions.retryAfter).toEqual(expect.any(Number));
      } finally {
        await limited.close();
      }
    });
  });

  describe('webhooks', () => {
    it('verifies and parses what the emulator delivers', async () => {
      const bodies: Array<{ headers: Record<string, string | string[] | undefined>; raw: Buffer }> = [];
      const server: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (d: Buffer) => chunks.push(d));
        req.on('end', () => {
          bodies.push({ headers: req.headers, raw: Buffer.concat(chunks) });
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/protocol`;
      const hooked = await startProtocolEmulator({
        port: 0,
        webhook: () => ({ url, secret: PROTOCOL_SANDBOX_WEBHOOK_SECRET }),
      });
      try {
        const conv = String(
          (
            (await (
              await fetch(`${hooked.url}/v1/conversations?limit=1`, {
                headers: { authorization: `Bearer ${PROTOCOL_SANDBOX_TOKEN}` },
              })
            ).json()) as { data: Json[] }
          ).data[0]?.id,
        );
        hooked.controls.simulateIncoming({ conversationId: conv, content: 'hook me' });
        await waitFor(() => bodies.length > 0, { timeoutMs: 3000, what: 'a webhook delivery' });
        const d = bodies[0] as (typeof bodies)[number];
        const changes = connector.parseWebhook?.({ headers: d.headers, rawBody: d.raw, query: {} });
        expect(changes).toEqual([
          {
            sourceId: 'protocol',
            conversationNativeId: conv,
            eventId: expect.stringMatching(/^[A-Za-z0-9]{16}$/),
            // docs/live.md "Thread events": the message itself, for conversationEvents.
            events: [
              expect.objectContaining({
                kind: 'MessageAdded',
                message: expect.objectContaining({ content: 'hook me', conversationNativeId: conv }),
              }),
            ],
          },
        ]);
        const wrong = createProtocolConnector(config(hooked.url, { webhookSecret: 'another-secret' }));
        expect(() => wrong.parseWebhook?.({ headers: d.headers, rawBody: d.raw, query: {} })).toThrow(GatewayError);
      } finally {
        await hooked.close();
        await new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        });
      }
    });
  });
});
