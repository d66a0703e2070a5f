import type { SourceKind } from '../../src/connectors/types';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 14 for single-object answers (brief D gap 2): a send's answer (or a conversation) with one odd
 * optional nested part is mapped with the fields that can be read; the part is left out and reported like a
 * skipped row (an error entry SOURCE_BAD_RESPONSE with `source`, `rowId`, `what`, `part`; a log line; the
 * metric). A missing id or required field still fails the answer clearly. The emulator spoils one object of one
 * answer (fault `malformedObject`).
 */

type Body = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
};

const INBOX = `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { nodes { id } } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content sender { id } attachments { filename } } }`;

interface Case {
  /** The path of the send's answer, from the emulator's request log. */
  sendPath: RegExp;
  /** Where in the answer the spoiled object is, and what spoils one of its optional nested parts. */
  at?: string;
  part: Record<string, unknown>;
  /** The dotted path of the part in the answer, as reported. */
  reported: string;
  /** A required field spoiled instead. */
  required: Record<string, unknown>;
  requiredAt?: string;
}

const CASES: Array<[SourceKind, Case]> = [
  [
    'CHATWOOT',
    {
      sendPath: /\/conversations\/\d+\/messages$/,
      part: { sender: { name: 'no id' } },
      reported: 'sender',
      required: { id: 'not a number' },
    },
  ],
  [
    'PIXIESET',
    {
      sendPath: /\/conversation_messages\/?$/,
      at: 'data',
      part: { attachments: 'none' },
      reported: 'data.attachments',
      required: { sender_type: 'robot' },
      requiredAt: 'data',
    },
  ],
  [
    'PROTOCOL',
    {
      sendPath: /^\/v1\/messages$/,
      part: { contact: { username: 5 } },
      reported: 'contact',
      required: { conversation_id: 42 },
    },
  ],
  [
    'MONICA',
    {
      sendPath: /\/conversations\/\d+\/messages$/,
      at: 'data.contact',
      part: { information: 'none' },
      reported: 'data.contact.information',
      required: { happened_at: 5 },
      requiredAt: 'data',
    },
  ],
];

describe.each(CASES)('%s: one odd nested part of a single-object answer', (kind, c) => {
  let t: TestGateway;
  let source: string;
  let conversationId: string;
  let sendPath: string;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: [kind] });
    source = t.embedded.config.sources[0]!.id;
    const inbox = await t.gql<{ conversations: { nodes: Array<{ id: string }> } }>(INBOX, { s: [source] });
    conversationId = inbox.body.data!.conversations.nodes[0]!.id;
    emu().clearRequests();
    const ok = (await t.gql(SEND, { input: { conversationId, content: 'a healthy send' } })).body as Body;
    expect(ok.errors ?? []).toEqual([]);
    sendPath = emu()
      .requests()
      .find((r) => r.method === 'POST' && c.sendPath.test(r.path))!.path;
  });
  afterAll(async () => {
    await t.close();
  });
  const emu = () => t.embedded.sandbox.emulators.get(source) as EmulatorHandle;

  it('is left out and reported; the rest of the answer is mapped', async () => {
    emu().setFaults({ malformedObject: { path: sendPath, method: 'POST', at: c.at, set: c.part } });
    const from = t.logs.length;
    try {
      const r = (await t.gql(SEND, { input: { conversationId, content: 'an odd send' } })).body as Body;
      expect(r.data?.sendMessage).toMatchObject({ id: expect.any(String), content: 'an odd send' });
      expect(r.errors?.map((e) => e.extensions)).toEqual([
        {
          code: 'SOURCE_BAD_RESPONSE',
          source,
          rowId: expect.any(String),
          what: expect.any(String),
          part: c.reported,
        },
      ]);
    } finally {
      emu().setFaults({});
    }
    const lines = t.logs.slice(from).filter((l) => l.includes('vendor row skipped'));
    expect(lines).toHaveLength(1);
  });

  it('a required field still fails the answer with SOURCE_BAD_RESPONSE', async () => {
    emu().setFaults({ malformedObject: { path: sendPath, method: 'POST', at: c.requiredAt, set: c.required } });
    try {
      const r = (await t.gql(SEND, { input: { conversationId, content: 'a broken send' } })).body as Body;
      expect(r.data ?? null).toBeNull();
      expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['SOURCE_BAD_RESPONSE']);
      expect(r.errors?.[0]?.extensions?.source).toBe(source);
    } finally {
      emu().setFaults({});
    }
  });
});

describe('CHATWOOT: a conversation answer with a malformed sender and last message', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('maps the conversation without them and reports each', async () => {
    const emu = t.embedded.sandbox.emulators.get('chatwoot') as EmulatorHandle;
    const inbox = await t.gql<{ conversations: { nodes: Array<{ id: string }> } }>(INBOX, { s: ['chatwoot'] });
    const id = inbox.body.data!.conversations.nodes[0]!.id;
    emu.clearRequests();
    const READ = `mutation($id: ID!) { markConversationRead(id: $id) { id unreadCount } }`;
    expect(((await t.gql(READ, { id })).body as Body).errors ?? []).toEqual([]);
    const path = emu.requests().find((r) => r.method === 'POST' && r.path.endsWith('/update_last_seen'))!.path;
    emu.setFaults({
      malformedObject: { path, at: 'meta', set: { sender: { name: 'no id' } } },
    });
    try {
      const r = (await t.gql(READ, { id })).body as Body;
      expect(r.data?.markConversationRead).toMatchObject({ id });
      expect(r.errors?.map((e) => e.extensions?.part)).toEqual(['meta.sender']);
      emu.setFaults({
        malformedObject: { path, set: { last_non_activity_message: { id: 5, content: 'no type, no time' } } },
      });
      const r2 = (await t.gql(READ, { id })).body as Body;
      expect(r2.data?.markConversationRead).toMatchObject({ id });
      expect(r2.errors?.map((e) => e.extensions)).toEqual([
        expect.objectContaining({ code: 'SOURCE_BAD_RESPONSE', source: 'chatwoot', part: 'last_non_activity_message' }),
      ]);
    } finally {
      emu.setFaults({});
    }
  });
});
