import type { SourceConfig } from '../../src/config/schema';
import { createConnector } from '../../src/connectors/registry';
import {
  compareConversations,
  type Connector,
  type ConnectorSession,
  type ConversationModel,
  type MessageModel,
  type ParticipantModel,
  type SourceKind,
} from '../../src/connectors/types';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { expectGatewayError } from '../utils/errors';

/**
 * The connector contract suite (src/connectors/types.ts), run by every connector against its own emulator
 * over real HTTP. It sees only the Connector interface and the emulator's control API, so a new source joins
 * with one line in connectors.test.ts.
 */
export interface ContractOptions {
  /** A conversation id in the vendor's format that does not exist. */
  missingConversationId: string;
}

const scope = { requestId: 'contract' };

/** The kit's expectGatewayError (test/utils/errors.ts), plus the contract's rule: the error names its source. */
async function expectCode(p: Promise<unknown>, code: string | string[], source: string) {
  const g = await expectGatewayError(p, code);
  if (g.code !== 'NOT_FOUND' || g.extensions.source !== undefined) expect(g.extensions.source).toBe(source);
  return g;
}

async function listAll(session: ConnectorSession, limit = 7): Promise<{ items: ConversationModel[]; total: number }> {
  const items: ConversationModel[] = [];
  let total: number;
  for (let offset = 0; ; offset += limit) {
    const page = await session.listConversations({ offset, limit, filter: {} });
    total = page.total;
    items.push(...page.items);
    if (offset + limit >= page.total || page.items.length === 0) break;
  }
  return { items, total };
}

async function allMessages(session: ConnectorSession, conversationId: string): Promise<MessageModel[]> {
  const out: MessageModel[] = [];
  let before: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await session.listMessages(conversationId, { last: 3, before });
    out.unshift(...page.items.map((x) => x.message));
    if (!page.hasPreviousPage || page.items.length === 0) break;
    before = page.items[0]!.cursor;
  }
  return out;
}

/**
 * Every page of a session's `listContacts` with this `first`, asserting on the way what holds for every page: one
 * upstream request, at most `first` contacts (issue 15).
 */
async function allContacts(
  session: ConnectorSession,
  emulator: EmulatorHandle,
  first: number,
): Promise<{ items: ParticipantModel[]; pages: number }> {
  const items: ParticipantModel[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    emulator.clearRequests();
    const page = await session.listContacts!({ after, first });
    pages++;
    expect(emulator.requests()).toHaveLength(1);
    expect(page.items.length).toBeLessThanOrEqual(first);
    items.push(...page.items);
    if (!page.next) break;
    expect(pages).toBeLessThan(1000);
    after = page.next;
  }
  return { items, pages };
}

export function defineConnectorContract(kind: SourceKind, opts: ContractOptions) {
  describe(`connector contract: ${kind}`, () => {
    let sandbox: Sandbox;
    let emulator: EmulatorHandle;
    let config: SourceConfig;
    let connector: Connector;
    const fresh = () => createConnector(config);

    beforeAll(async () => {
      sandbox = await startSandbox({ kinds: [kind], scale: 2 });
      config = sandbox.sourceConfigs[0]!;
      emulator = [...sandbox.emulators.values()][0]!;
    });
    afterAll(async () => {
      await sandbox.close();
    });
    beforeEach(() => {
      emulator.controls.reset();
      emulator.setFaults({});
      connector = fresh();
    });

    it('describes itself: id, kind, name and capabilities', () => {
      expect(connector.id).toBe(config.id);
      expect(connector.kind).toBe(kind);
      expect(connector.name.length).toBeGreaterThan(0);
      const c = connector.capabilities;
      if (c.attachments) {
        expect(c.maxAttachmentSize).toBeGreaterThan(0);
        expect(c.uploadMode).not.toBeNull();
      }
      expect(['WEBHOOK', 'POLLING']).toContain(c.realtime);
      if (c.realtime === 'WEBHOOK') expect(typeof connector.parseWebhook).toBe('function');
    });

    it('lists conversations in the inbox order and pages to the end with nothing missing', async () => {
      const session = connector.openSession(scope);
      const { items, total } = await listAll(session);
      expect(total).toBeGreaterThan(10);
      expect(items).toHaveLength(total);
      expect(new Set(items.map((c) => c.nativeId)).size).toBe(total);
      expect([...items].sort(compareConversations).map((c) => c.nativeId)).toEqual(items.map((c) => c.nativeId));
      for (const c of items) expect(c.sourceId).toBe(config.id);
      // Any window is the same slice of the whole.
      const mid = await connector.openSession(scope).listConversations({ offset: 5, limit: 9, filter: {} });
      expect(mid.items.map((c) => c.nativeId)).toEqual(items.slice(5, 14).map((c) => c.nativeId));
    });

    it('loads a conversation by id, and null for one that does not exist', async () => {
      const session = connector.openSession(scope);
      const [first] = (await session.listConversations({ offset: 0, limit: 3, filter: {} })).items;
      const loaded = await session.loadConversation(first!.nativeId);
      expect(loaded?.nativeId).toBe(first!.nativeId);
      expect(loaded?.status).toBe(first!.status);
      expect(await connector.openSession(scope).loadConversation(opts.missingConversationId)).toBeNull();
    });

    it('fetches each conversation once per session however often it is asked', async () => {
      const session = connector.openSession(scope);
      const { items } = { items: (await session.listConversations({ offset: 0, limit: 2, filter: {} })).items };
      emulator.clearRequests();
      // A connector whose catalog has not synced: a warm catalog answers loadConversation without any request (issue
      // 13 target 1, test/integration/upstream-thread-send.test.ts), and this is about the reads.
      const s2 = fresh().openSession(scope);
      await Promise.all([
        s2.loadConversation(items[0]!.nativeId),
        s2.loadConversation(items[0]!.nativeId),
        s2.loadConversation(items[1]!.nativeId),
      ]);
      await s2.loadConversation(items[0]!.nativeId);
      // Joins a vendor needs (Protocol's contact or group for the subject) are allowed; repeats are not.
      const calls = emulator.requests().map((r) => `${r.method} ${r.path} ${JSON.stringify(r.query)}`);
      expect(calls.length).toBeGreaterThan(0);
      expect(new Set(calls).size).toBe(calls.length);
    });

    it('settles each key of a batch on its own: missing is null, a refused or failing id its own error, the rest their objects', async () => {
      const listed = (await connector.openSession(scope).listConversations({ offset: 0, limit: 4, filter: {} })).items;
      const [ok1, denied, broken, ok2] = listed.map((c) => c.nativeId);
      // The path of each id's read, as the connector calls it: one load alone, in a session of its own (of a connector
      // whose catalog has not synced, which would answer without a read).
      const pathOf = async (id: string) => {
        emulator.clearRequests();
        expect(await fresh().openSession(scope).loadConversation(id)).not.toBeNull();
        return emulator.requests()[0]!.path;
      };
      const paths = {
        ok1: await pathOf(ok1!),
        denied: await pathOf(denied!),
        broken: await pathOf(broken!),
        ok2: await pathOf(ok2!),
      };
      expect(new Set(Object.values(paths)).size).toBe(4);
      emulator.setFaults({ statusByPath: { [paths.denied]: 403, [paths.broken]: 500 } });
      emulator.clearRequests();
      // One session, every load in the same tick: one DataLoader batch. A fresh connector, so no circuit history.
      const retries = 1;
      const session = createConnector({ ...config, retries } as SourceConfig).openSession(scope);
      const ids = [ok1!, opts.missingConversationId, denied!, broken!, ok2!];
      const [a, missing, refused, failed, b] = await Promise.allSettled(ids.map((id) => session.loadConversation(id)));
      expect(a).toMatchObject({ status: 'fulfilled', value: { nativeId: ok1 } });
      expect(missing).toEqual({ status: 'fulfilled', value: null });
      expect(refused.status).toBe('rejected');
      await expectCode(Promise.reject((refused as PromiseRejectedResult).reason), 'FORBIDDEN', config.id);
      expect(failed.status).toBe('rejected');
      await expectCode(Promise.reject((failed as PromiseRejectedResult).reason), 'SOURCE_UNAVAILABLE', config.id);
      expect(b).toMatchObject({ status: 'fulfilled', value: { nativeId: ok2 } });
      // Each id was read on its own: once each, the 403 never retried, the 500 retried `retries` times.
      const count = (path: string) => emulator.requests().filter((r) => r.path === path).length;
      expect(count(paths.ok1)).toBe(1);
      expect(count(paths.ok2)).toBe(1);
      expect(count(paths.denied)).toBe(1);
      expect(count(paths.broken)).toBe(1 + retries);
      emulator.setFaults({});
    });

    it('pages messages oldest to newest in both directions', async () => {
      const session = connector.openSession(scope);
      const { items } = await listAll(session, 50);
      const conv = items.find((c) => c.lastMessage !== null) ?? items[0]!;
      const backward = await allMessages(session, conv.nativeId);
      expect(backward.length).toBeGreaterThan(0);
      const times = backward.map((m) => m.sentAt?.getTime() ?? 0);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      const forward: MessageModel[] = [];
      let after: string | null = null;
      for (let i = 0; i < 100; i++) {
        const page = await connector.openSession(scope).listMessages(conv.nativeId, { first: 4, after });
        forward.push(...page.items.map((x) => x.message));
        if (!page.hasNextPage || page.items.length === 0) break;
        after = page.items[page.items.length - 1]!.cursor;
      }
      expect(forward.map((m) => m.nativeId)).toEqual(backward.map((m) => m.nativeId));
      const newest = await connector.openSession(scope).listMessages(conv.nativeId, { last: 1 });
      expect(newest.items[0]?.message.nativeId).toBe(backward[backward.length - 1]!.nativeId);
      const last = await session.loadLastMessage(conv);
      expect(last?.nativeId).toBe(backward[backward.length - 1]!.nativeId);
      for (const m of backward) expect(m.conversationNativeId).toBe(conv.nativeId);
    });

    it('loads participants, and resolves every message sender', async () => {
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items;
      const participants = await session.loadParticipants(conv!);
      expect(participants.length).toBeGreaterThan(0);
      for (const p of participants) expect(p.sourceId).toBe(config.id);
      const page = await session.listMessages(conv!.nativeId, { last: 10 });
      for (const { message } of page.items) {
        if (message.direction === 'ACTIVITY') continue;
        const sender = message.sender ?? (message.senderRef ? await session.loadParticipant(message.senderRef) : null);
        expect(sender).not.toBeNull();
      }
    });

    it('reports unread counts as the vendor keeps them, or null without read state', async () => {
      const u = await connector.openSession(scope).unreadCount();
      const vendor = emulator.controls.unreadState();
      if (!connector.capabilities.unreadCounts) {
        expect(u).toBeNull();
        return;
      }
      expect(u).not.toBeNull();
      expect(u!.sourceId).toBe(config.id);
      if (vendor && connector.capabilities.exactUnreadCounts) {
        expect(u!.total).toBe(vendor.total);
        expect(u!.conversationsWithUnread).toBe(vendor.conversationsWithUnread);
      }
      if (vendor) expect(u!.conversationsWithUnread).toBe(vendor.conversationsWithUnread);
    });

    it('sends a message, or refuses with UNSUPPORTED_OPERATION', async () => {
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } })).items;
      const send = session.sendMessage({
        conversationNativeId: conv!.nativeId,
        content: 'Contract check',
        private: false,
        attachmentIds: [],
        files: [],
      });
      if (!connector.capabilities.sendMessage) return void (await expectCode(send, 'UNSUPPORTED_OPERATION', config.id));
      const m = await send;
      expect(m.content).toBe('Contract check');
      expect(m.direction).toBe('OUTGOING');
      const newest = await connector.openSession(scope).listMessages(conv!.nativeId, { last: 1 });
      expect(newest.items[0]?.message.nativeId).toBe(m.nativeId);
    });

    it('sends attachments the way it declares, or refuses them', async () => {
      const c = connector.capabilities;
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } })).items;
      const data = Buffer.from('contract attachment\n');
      if (!c.attachments) {
        await expectCode(
          session.createAttachmentUpload({
            conversationNativeId: conv!.nativeId,
            filename: 'a.txt',
            contentType: 'text/plain',
            size: data.length,
          }),
          'UNSUPPORTED_OPERATION',
          config.id,
        );
        return;
      }
      let msg: MessageModel;
      if (c.uploadMode === 'SIGNED') {
        const u = await session.createAttachmentUpload({
          conversationNativeId: conv!.nativeId,
          filename: 'a.txt',
          contentType: 'text/plain',
          size: data.length,
        });
        const form = new FormData();
        for (const f of u.fields) form.append(f.name, f.value);
        form.append('file', new Blob([data], { type: 'text/plain' }), 'a.txt');
        expect((await fetch(u.url, { method: u.method, body: form })).ok).toBe(true);
        msg = await session.sendMessage({
          conversationNativeId: conv!.nativeId,
          content: 'with file',
          private: false,
          attachmentIds: [u.attachmentNativeId],
          files: [],
        });
      } else {
        msg = await session.sendMessage({
          conversationNativeId: conv!.nativeId,
          content: 'with file',
          private: false,
          attachmentIds: [],
          files: [{ filename: 'a.txt', contentType: 'text/plain', data }],
        });
      }
      expect(msg.attachments).toHaveLength(1);
      const url = msg.attachments[0]!.url!;
      const got = await fetch(url);
      expect(Buffer.from(await got.arrayBuffer())).toEqual(data);
    });

    it('marks read and unread where it can, and refuses where it cannot', async () => {
      const c = connector.capabilities;
      const session = connector.openSession(scope);
      const { items } = await listAll(session, 50);
      const conv = items.find((x) => (x.unreadCount ?? 0) > 0) ?? items[0]!;
      if (!c.markRead) await expectCode(session.markRead(conv.nativeId), 'UNSUPPORTED_OPERATION', config.id);
      else {
        const read = await session.markRead(conv.nativeId);
        expect(read.unreadCount).toBe(0);
      }
      if (!c.markUnread) await expectCode(session.markUnread(conv.nativeId), 'UNSUPPORTED_OPERATION', config.id);
      else {
        const unread = await connector.openSession(scope).markUnread(conv.nativeId);
        expect(unread.unreadCount).toBeGreaterThan(0);
      }
    });

    it('updates what it declares (statuses, mute, pin, archive, labels) and refuses the rest', async () => {
      const c = connector.capabilities;
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items;
      const id = conv!.nativeId;
      if (!c.updateConversation)
        return void (await expectCode(
          session.updateConversation(id, { status: 'OPEN' }),
          'UNSUPPORTED_OPERATION',
          config.id,
        ));
      for (const status of c.settableStatuses) {
        const u = await connector.openSession(scope).updateConversation(id, { status });
        expect(u.status).toBe(status);
      }
      const checks: Array<
        [boolean, Parameters<ConnectorSession['updateConversation']>[1], (x: ConversationModel) => unknown, unknown]
      > = [
        [c.pin, { pinned: true }, (x) => x.pinned, true],
        [c.archive, { archived: true }, (x) => x.archived, true],
        [c.labels, { labels: ['contract-check'] }, (x) => x.labels, ['contract-check']],
        [c.mute, { muted: true }, (x) => x.muted, true],
      ];
      for (const [supported, patch, read, expected] of checks) {
        const p = connector.openSession(scope).updateConversation(id, patch);
        if (!supported) await expectCode(p, 'UNSUPPORTED_OPERATION', config.id);
        else expect(read(await p)).toEqual(expected);
      }
    });

    it('creates and deletes conversations where it can, and refuses where it cannot', async () => {
      const c = connector.capabilities;
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: {} })).items;
      const participants = await session.loadParticipants(conv!);
      const contact = participants.find((p) => p.kind === 'CONTACT')!;
      const create = session.createConversation({
        participantNativeIds: [contact.nativeId],
        content: 'Hello from the contract',
      });
      if (!c.createConversation) await expectCode(create, 'UNSUPPORTED_OPERATION', config.id);
      else {
        const created = await create;
        expect(created.sourceId).toBe(config.id);
        const again = await connector.openSession(scope).loadConversation(created.nativeId);
        expect(again?.nativeId).toBe(created.nativeId);
      }
      const del = connector.openSession(scope).deleteConversation(conv!.nativeId);
      if (!c.deleteConversation) await expectCode(del, 'UNSUPPORTED_OPERATION', config.id);
      else {
        await del;
        expect(await connector.openSession(scope).loadConversation(conv!.nativeId)).toBeNull();
      }
    });

    it('edits and deletes messages where it can, and refuses where it cannot', async () => {
      const c = connector.capabilities;
      const session = connector.openSession(scope);
      const [conv] = (await session.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } })).items;
      const last = await connector.openSession(scope).listMessages(conv!.nativeId, { last: 1 });
      const target = last.items[0]!.message;
      const edit = session.editMessage(target.nativeId, 'edited by the contract');
      if (!c.editMessage) await expectCode(edit, 'UNSUPPORTED_OPERATION', config.id);
      else expect((await edit).content).toBe('edited by the contract');
      const del = connector.openSession(scope).deleteMessage(target.nativeId);
      if (!c.deleteMessage) await expectCode(del, 'UNSUPPORTED_OPERATION', config.id);
      else {
        await del;
        const after = await connector.openSession(scope).loadMessage(target.nativeId);
        // Hard delete removes it; a soft delete (Chatwoot) keeps a tombstone with other content.
        if (after) expect(after.content).not.toBe(target.content);
      }
    });

    it('lists its own contacts page by page, where it has a listing: each once, at most `first`, one request a page', async () => {
      if (!connector.openSession(scope).listContacts) return;
      const small = await allContacts(connector.openSession(scope), emulator, 4);
      const large = await allContacts(connector.openSession(scope), emulator, 100);
      const ids = small.items.map((p) => p.nativeId);
      expect(ids.length).toBeGreaterThan(4);
      expect(small.pages).toBeGreaterThan(1);
      expect(new Set(ids).size).toBe(ids.length);
      // The pages of any size are the same list.
      expect(large.items.map((p) => p.nativeId)).toEqual(ids);
      for (const p of small.items) {
        expect(p.sourceId).toBe(config.id);
        expect(p.kind).toBe('CONTACT');
      }
    });

    it("lists contacts with the ids its conversations' participants carry, and the same email and phone", async () => {
      if (!connector.openSession(scope).listContacts) return;
      const listed = new Map(
        (await allContacts(connector.openSession(scope), emulator, 100)).items.map((p) => [p.nativeId, p]),
      );
      const session = connector.openSession(scope);
      const { items } = await listAll(session, 50);
      const contacts = new Set<string>();
      for (const c of items) {
        for (const p of c.participants ?? (await session.loadParticipants(c))) {
          if (p.kind === 'CONTACT') contacts.add(p.nativeId);
        }
      }
      expect(contacts.size).toBeGreaterThan(0);
      let matched = 0;
      for (const id of contacts) {
        // The participant as the connector loads it by id (Monica's conversations embed no email or phone).
        const full = await session.loadParticipant(id);
        expect(full).not.toBeNull();
        const own = listed.get(id);
        if (!own) {
          // Only a contact nothing can merge may be missing (Chatwoot lists no anonymous widget visitor).
          expect([full!.email, full!.phone]).toEqual([null, null]);
          continue;
        }
        matched++;
        expect(own).toEqual(full);
      }
      expect(matched).toBeGreaterThan(0);
    });

    it('turns a missing conversation into NOT_FOUND naming the source', async () => {
      await expectCode(
        connector.openSession(scope).listMessages(opts.missingConversationId, { last: 5 }),
        'NOT_FOUND',
        config.id,
      );
    });

    it('turns vendor failures into SOURCE_* errors naming the source', async () => {
      emulator.setFaults({ errorRate: 1 });
      // A connector that makes several calls at once may trip its own circuit breaker before the first failure lands.
      await expectCode(
        fresh().openSession(scope).listConversations({ offset: 0, limit: 5, filter: {} }),
        ['SOURCE_UNAVAILABLE', 'CIRCUIT_OPEN'],
        config.id,
      );
      emulator.setFaults({ malformed: true });
      await expectCode(
        fresh().openSession(scope).listConversations({ offset: 0, limit: 5, filter: {} }),
        'SOURCE_BAD_RESPONSE',
        config.id,
      );
      emulator.setFaults({ rateLimitRetryAfter: 7 });
      const limited = await expectCode(
        fresh().openSession(scope).listConversations({ offset: 0, limit: 5, filter: {} }),
        'SOURCE_RATE_LIMITED',
        config.id,
      );
      expect(limited.extensions.retryAfter).toBe(7);
      emulator.setFaults({});
    });

    it('turns refused credentials into SOURCE_AUTH_FAILED', async () => {
      const creds = Object.fromEntries(Object.keys(config.credentials).map((k) => [k, 'wrong-credential']));
      const bad = createConnector({ ...config, credentials: creds } as SourceConfig);
      await expectCode(
        bad.openSession(scope).listConversations({ offset: 0, limit: 5, filter: {} }),
        'SOURCE_AUTH_FAILED',
        config.id,
      );
    });
  });
}
