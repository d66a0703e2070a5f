import type { ProtocolSourceConfig } from '../../../../src/config/schema';
import { createProtocolConnector } from '../../../../src/connectors/protocol';
import { toForm } from '../../../../src/connectors/protocol/form';
import type { Connector, ConversationModel } from '../../../../src/connectors/types';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import {
  PROTOCOL_SANDBOX_SELF_CONTACT_ID,
  PROTOCOL_SANDBOX_TOKEN,
  startProtocolEmulator,
  type ProtocolEmulatorOptions,
} from '../../../../src/sandbox/protocol';

/**
 * Protocol bodies on the wire (docs/vendors/protocol.md "Request bodies" and "Assumptions"): form-encoded with the
 * reference's bracket conventions, and un-archiving, whose null no document spells, with a fallback that a vendor
 * taking the other spelling exercises.
 */
const config = (url: string): ProtocolSourceConfig => ({
  id: 'protocol',
  kind: 'PROTOCOL',
  baseUrl: `${url}/v1`,
  credentials: { token: PROTOCOL_SANDBOX_TOKEN },
  selfContactId: PROTOCOL_SANDBOX_SELF_CONTACT_ID,
  timeoutMs: 5000,
  pollIntervalMs: 2000,
  retries: 0,
});

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
