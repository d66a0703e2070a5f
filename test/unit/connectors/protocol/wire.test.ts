import type { ProtocolSourceConfig } from '../../../../src/config/schema';
import { ErrorCode } from '../../../../src/errors';
import { rejection } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';
import { createProtocolConnector } from '../../../../src/connectors/protocol';
import { toForm } from '../../../../src/connectors/protocol/form';
import type { Connector, ConversationModel } from '../../../../src/connectors/types';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import {
  PROTOCOL_SANDBOX_TOKEN,
  startProtocolEmulator,
  type ProtocolEmulatorOptions,
} from '../../../../src/sandbox/protocol';

/**
 * Protocol bodies on the wire (docs/vendors/protocol.md "Request bodies" and "Assumptions"): form-encoded with the
 * reference's bracket conventions, and un-archiving, whose null no document spells, with a fallback that a vendor
 * taking the other spelling exercises.
 */
/** The sandbox's Protocol config (test/utils/vendors.ts), without a webhook secret and without retries. */
const config = (url: string): ProtocolSourceConfig =>
  vendorConfig('PROTOCOL', url, { webhookSecret: undefined, retries: 0 });

describe('toForm', () => {
  it('writes the reference’s bracket forms: reactions[red_angry_face][]=KateMcCallister, attachments[]=id', () => {
    const form = toForm({ reactions: { red_angry_face: ['KateMcCallister'] }, attachments: ['a', 'b'] });
    expect(decodeURIComponent(form.toString())).toBe(
      'reactions[red_angry_face][]=KateMcCallister&attachments[]=a&attachments[]=b',
    );
  });

  it('writes booleans as true/false, leaves undefined out, and null as empty or as the literal null', () => {
    const body = { is_muted: false, is_pinned: undefined, archived_at: null, n: 5, objs: [{ id: 'x' }] };
    expect(decodeURIComponent(toForm(body).toString())).toBe('is_muted=false&archived_at=&n=5&objs[0][id]=x');
    expect(toForm({ archived_at: null }, 'literal').toString()).toBe('archived_at=null');
  });
});

describe.each<[string, ProtocolEmulatorOptions, string[]]>([
  ['archived_at= (the default emulator)', {}, ['archived_at=']],
  ['archived_at=null (clearWith: "null")', { clearWith: 'null' }, ['archived_at=', 'archived_at=null']],
])('un-archiving against a vendor that clears with %s', (_name, options, firstAttempts) => {
  let emu: EmulatorHandle;
  let connector: Connector;

  beforeAll(async () => {
    emu = await startProtocolEmulator({ port: 0, rateLimitPerMinute: 100_000, ...options });
    connector = createProtocolConnector(config(emu.url));
  });
  afterAll(async () => {
    await emu.close();
  });

  const archivedOnes = async (): Promise<ConversationModel[]> =>
    (
      await connector
        .openSession({ requestId: 'arch' })
        .listConversations({ offset: 0, limit: 100, filter: { status: ['ARCHIVED'] } })
    ).items;
  const putBodies = () =>
    emu
      .requests()
      .filter((r) => r.method === 'PUT')
      .map((r) => [r.body, r.status]);

  it('re-opens with the spelling that works, trying the other one first only once per connector', async () => {
    // Archive two conversations to re-open (the demo data has one archived at scale 1).
    const s = connector.openSession({ requestId: 'setup' });
    const open = (await s.listConversations({ offset: 0, limit: 2, filter: { status: ['OPEN'] } })).items;
    for (const c of open) await s.updateConversation(c.nativeId, { archived: true });
    const [first, second] = (await archivedOnes()).filter((c) => open.some((o) => o.nativeId === c.nativeId));

    emu.clearRequests();
    const reopened = await connector.openSession({ requestId: 'a' }).updateConversation(first!.nativeId, {
      status: 'OPEN',
    });
    expect([reopened.status, reopened.archived]).toEqual(['OPEN', false]);
    const tried = putBodies();
    expect(tried.map(([body]) => body)).toEqual(firstAttempts);
    expect(tried.map(([, status]) => status)).toEqual(firstAttempts.length === 1 ? [200] : [400, 200]);

    // The connector remembers what the vendor took: the next one costs one request.
    emu.clearRequests();
    const again = await connector.openSession({ requestId: 'b' }).updateConversation(second!.nativeId, {
      archived: false,
    });
    expect(again.archived).toBe(false);
    expect(putBodies()).toEqual([[firstAttempts[firstAttempts.length - 1], 200]]);
    // And the vendor agrees.
    const raw = (await (
      await fetch(`${emu.url}/v1/conversations/${second!.nativeId}`, {
        headers: { authorization: `Bearer ${PROTOCOL_SANDBOX_TOKEN}` },
      })
    ).json()) as { archived_at: number | null };
    expect(raw.archived_at).toBeNull();
  });
});

describe('message lists in another order than newest first (listOrder: "oldest_first")', () => {
  let emu: EmulatorHandle;
  let connector: Connector;
  const auth = { authorization: `Bearer ${PROTOCOL_SANDBOX_TOKEN}` };

  beforeAll(async () => {
    emu = await startProtocolEmulator({ port: 0, scale: 2, rateLimitPerMinute: 100_000, listOrder: 'oldest_first' });
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.controls.reset();
    connector = createProtocolConnector(config(emu.url));
    emu.clearRequests();
  });

  /** One conversation's messages as the vendor has them, sorted oldest to newest by brute force. */
  const bruteForce = async (conversationId: string): Promise<string[]> => {
    const res = await fetch(`${emu.url}/v1/messages?conversation_id=${conversationId}&limit=100`, { headers: auth });
    const body = (await res.json()) as { has_more: boolean; data: Array<{ id: string; created_at: number }> };
    expect(body.has_more).toBe(false);
    return [...body.data].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1)).map((m) => m.id);
  };
  const busiest = async (): Promise<{ id: string; messages: string[] }> => {
    const res = await fetch(`${emu.url}/v1/conversations?limit=100`, { headers: auth });
    let best = { id: '', messages: [] as string[] };
    for (const c of ((await res.json()) as { data: Array<{ id: string }> }).data) {
      const messages = await bruteForce(c.id);
      if (messages.length > best.messages.length) best = { id: c.id, messages };
    }
    return best;
  };
  const messageReads = () => emu.requests().filter((r) => r.path === '/v1/messages');

  it('finds the newest message anyway: the two-message page shows the order, a full read gives the answer', async () => {
    const { id, messages } = await busiest();
    expect(messages.length).toBeGreaterThan(3);
    const bare = (await connector.openSession({ requestId: 'c' }).loadConversation(id)) as ConversationModel;
    emu.clearRequests();
    const last = await connector.openSession({ requestId: 'l' }).loadLastMessage({ ...bare, lastMessage: undefined });
    expect(last?.nativeId).toBe(messages[messages.length - 1]);
    expect(messageReads().map((r) => r.query.limit)).toEqual(['2', '100']);
    // From now on the connector knows: a full read at once.
    emu.clearRequests();
    await connector.openSession({ requestId: 'l2' }).loadLastMessage({ ...bare, lastMessage: undefined });
    expect(messageReads().map((r) => r.query.limit)).toEqual(['100']);
  });

  it('pages a thread oldest to newest, backwards and forwards, exactly as a brute-force sort', async () => {
    const { id, messages } = await busiest();
    const newest = await connector.openSession({ requestId: 'a' }).listMessages(id, { last: 3 });
    expect(newest.items.map((i) => i.message.nativeId)).toEqual(messages.slice(-3));
    expect([newest.hasPreviousPage, newest.hasNextPage]).toEqual([true, false]);
    const seen = [...newest.items];
    let page = newest;
    while (page.hasPreviousPage) {
      page = await connector
        .openSession({ requestId: 'b' })
        .listMessages(id, { last: 2, before: page.items[0]?.cursor });
      seen.unshift(...page.items);
    }
    expect(seen.map((i) => i.message.nativeId)).toEqual(messages);
    const forward = await connector
      .openSession({ requestId: 'f' })
      .listMessages(id, { first: 2, after: seen[0]?.cursor });
    expect(forward.items.map((i) => i.message.nativeId)).toEqual(messages.slice(1, 3));
  });

  it('keeps the catalog’s last messages right (they never depended on the order)', async () => {
    const { id, messages } = await busiest();
    const listed = await connector
      .openSession({ requestId: 'l' })
      .listConversations({ offset: 0, limit: 100, filter: {} });
    expect(listed.items.find((c) => c.nativeId === id)?.lastMessage?.nativeId).toBe(messages[messages.length - 1]);
  });
});

describe('un-archiving against a vendor that clears with neither spelling (clearWith: "never")', () => {
  it('fails with SOURCE_REJECTED naming both spellings, after exactly two requests', async () => {
    const emu = await startProtocolEmulator({ port: 0, rateLimitPerMinute: 100_000, clearWith: 'never' });
    try {
      const connector = createProtocolConnector(config(emu.url));
      const s = connector.openSession({ requestId: 'n' });
      const [c] = (await s.listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } })).items;
      await s.updateConversation(c!.nativeId, { archived: true });
      emu.clearRequests();
      const e = await rejection(
        connector.openSession({ requestId: 'm' }).updateConversation(c!.nativeId, { archived: false }),
      );
      expect([e.code, e.extensions.source]).toEqual([ErrorCode.SOURCE_REJECTED, 'protocol']);
      expect(e.message).toMatch(/archived_at=" nor "archived_at=null"/);
      expect(
        emu
          .requests()
          .filter((r) => r.method === 'PUT')
          .map((r) => [r.body, r.status]),
      ).toEqual([
        ['archived_at=', 400],
        ['archived_at=null', 400],
      ]);
    } finally {
      await emu.close();
    }
  });
});

describe.each<[ProtocolEmulatorOptions['attachmentsAs'], Array<[string, string, number]>]>([
  ['ids', [['POST', 'attachments[]', 201]]],
  [
    'objects',
    [
      ['POST', 'attachments[]', 400],
      ['POST', 'attachments[0][id]', 201],
    ],
  ],
  [
    'objects_ignoring_ids',
    [
      ['POST', 'attachments[]', 201],
      ['PUT', 'attachments[0][id]', 200],
    ],
  ],
])('sending a file to a vendor whose messages take attachments as %s', (attachmentsAs, firstSend) => {
  let emu: EmulatorHandle;
  beforeAll(async () => {
    emu = await startProtocolEmulator({ port: 0, rateLimitPerMinute: 100_000, attachmentsAs });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('attaches it, finding the shape once, and sends the shape that worked from then on', async () => {
    const connector = createProtocolConnector(config(emu.url));
    const [c] = (
      await connector
        .openSession({ requestId: 'l' })
        .listConversations({ offset: 0, limit: 1, filter: { status: ['OPEN'] } })
    ).items;
    const send = async (name: string) => {
      emu.clearRequests();
      const m = await connector.openSession({ requestId: name }).sendMessage({
        conversationNativeId: c!.nativeId,
        content: `With ${name}`,
        private: false,
        attachmentIds: [],
        files: [{ filename: `${name}.txt`, contentType: 'text/plain', data: Buffer.from(name) }],
      });
      expect(m.attachments.map((a) => a.filename)).toEqual([`${name}.txt`]);
      return emu
        .requests()
        .filter((r) => r.path.startsWith('/v1/messages') && r.method !== 'GET')
        .map((r) => {
          const key = [...new URLSearchParams(r.body ?? '').keys()].find((k) => k.startsWith('attachments'));
          return [r.method, key, r.status];
        });
    };
    expect(await send('first')).toEqual(firstSend);
    const worked = firstSend[firstSend.length - 1] as [string, string, number];
    expect(await send('second')).toEqual([['POST', worked[1], 201]]);
  });
});
