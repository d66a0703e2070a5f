import { createHmac } from 'node:crypto';
import { ErrorCode } from '../../../../src/errors';
import { CatalogSync, ConversationCatalog, type CatalogReader } from '../../../../src/connectors/catalog';
import { createMemoryCatalogStore } from '../../../../src/connectors/catalog-stores/memory';
import {
  applyProtocolChanges,
  parseProtocolWebhook,
  ProtocolWebhookEchoes,
  signProtocolWebhook,
} from '../../../../src/connectors/protocol/webhook';
import type { ConversationModel, WebhookRequest } from '../../../../src/connectors/types';
import { thrown } from '../../../utils/errors';

const SECRET = 'whsec-protocol-test';

function request(body: string, signature?: string | string[]): WebhookRequest {
  return {
    headers: signature === undefined ? {} : { 'x-protocol-signature': signature },
    rawBody: Buffer.from(body),
    query: {},
  };
}
const signed = (body: string) => request(body, createHmac('sha256', SECRET).update(body).digest('hex'));

// The webhooks page's example payload.
const messageUpdated = JSON.stringify({
  id: 'a056V7R7NmNRjl70',
  type: 'message.updated',
  payload: {
    id: 'SIuAFUNKdSYHZF2w',
    conversation_id: 'xgQQXg3hrtjh7AvZ',
    contact: { id: 'WAz8eIbvDR60rouK', username: 'KevinMcCallister' },
    message: "I'm traveling with my dad. He's at a meeting. I hate meetings.",
    reactions: [],
    attachments: [],
    read_at: 705103200,
    created_at: 692233200,
    updated_at: 692233200,
  },
});

describe('parseProtocolWebhook', () => {
  it('accepts a correctly signed delivery and names the event and the conversation', () => {
    expect(parseProtocolWebhook('protocol', SECRET, signed(messageUpdated))).toEqual([
      {
        sourceId: 'protocol',
        conversationNativeId: 'xgQQXg3hrtjh7AvZ',
        eventId: 'a056V7R7NmNRjl70',
        events: [expect.objectContaining({ kind: 'MessageUpdated' })],
      },
    ]);
  });

  const delivery = (type: string, payload: Record<string, unknown>) =>
    signed(JSON.stringify({ id: `evt-${type}`, type, payload }));
  const message = JSON.parse(messageUpdated).payload as Record<string, unknown>;

  it('attaches the message of message.created / updated / deleted as MessageAdded / MessageUpdated / MessageDeleted, mapped as REST messages are', () => {
    const events = (type: string, self: string | null = null) =>
      parseProtocolWebhook('protocol', SECRET, delivery(type, message), undefined, self)[0]?.events;
    expect(events('message.created')).toEqual([
      {
        kind: 'MessageAdded',
        at: 692_233_200_000,
        message: {
          sourceId: 'protocol',
          nativeId: 'SIuAFUNKdSYHZF2w',
          conversationNativeId: 'xgQQXg3hrtjh7AvZ',
          content: "I'm traveling with my dad. He's at a meeting. I hate meetings.",
          sentAt: new Date(692_233_200_000),
          readAt: new Date(705_103_200_000),
          direction: 'INCOMING',
          private: false,
          sender: expect.objectContaining({ nativeId: 'WAz8eIbvDR60rouK', kind: 'CONTACT' }),
          attachments: [],
        },
      },
    ]);
    // The configured self contact's messages are OUTGOING, as in REST (mapper.ts).
    expect(events('message.created', 'WAz8eIbvDR60rouK')?.[0]).toMatchObject({
      message: { direction: 'OUTGOING', sender: { kind: 'AGENT' } },
    });
    expect(events('message.updated')?.map((e) => e.kind)).toEqual(['MessageUpdated']);
    expect(events('message.deleted')?.map((e) => e.kind)).toEqual(['MessageDeleted']);
  });

  it('attaches ConversationDeleted to conversation.deleted, and nothing to conversation.updated (no changed fields, no participants) or other resources', () => {
    const conversation = { id: 'xgQQXg3hrtjh7AvZ', contact_id: 'WAz8eIbvDR60rouK', is_pinned: true };
    const [deleted] = parseProtocolWebhook('protocol', SECRET, delivery('conversation.deleted', conversation));
    expect(deleted?.events).toEqual([
      { kind: 'ConversationDeleted', conversationNativeId: 'xgQQXg3hrtjh7AvZ', at: expect.any(Number) },
    ]);
    for (const type of ['conversation.updated', 'contact.updated', 'attachment.created']) {
      const [c] = parseProtocolWebhook('protocol', SECRET, delivery(type, conversation));
      expect(c?.events).toBeUndefined();
    }
    // A message payload the mapper cannot read: the change still names the conversation, with no event.
    const [broken] = parseProtocolWebhook(
      'protocol',
      SECRET,
      delivery('message.created', { id: 'm', conversation_id: 'xgQQXg3hrtjh7AvZ', created_at: 'yesterday' }),
    );
    expect(broken).toMatchObject({ conversationNativeId: 'xgQQXg3hrtjh7AvZ' });
    expect(broken?.events).toBeUndefined();
  });

  it('signs as the webhooks page does: hex HMAC-SHA256 of the raw body', () => {
    expect(signProtocolWebhook(messageUpdated, SECRET)).toBe(
      createHmac('sha256', SECRET).update(messageUpdated).digest('hex'),
    );
  });

  it('accepts an upper-case hex signature', () => {
    const sig = signProtocolWebhook(messageUpdated, SECRET).toUpperCase();
    expect(parseProtocolWebhook('protocol', SECRET, request(messageUpdated, sig))).toHaveLength(1);
  });

  it('rejects a delivery without the signature header with FORBIDDEN', () => {
    expect(thrown(() => parseProtocolWebhook('protocol', SECRET, request(messageUpdated))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
  });

  it('rejects a signature made with another secret with FORBIDDEN', () => {
    const forged = createHmac('sha256', 'not-the-secret').update(messageUpdated).digest('hex');
    expect(thrown(() => parseProtocolWebhook('protocol', SECRET, request(messageUpdated, forged))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
  });

  it('rejects a body changed after signing with FORBIDDEN', () => {
    const sig = signProtocolWebhook(messageUpdated, SECRET);
    const tampered = messageUpdated.replace('xgQQXg3hrtjh7AvZ', 'hSIhXBhNe8X1d8Et');
    expect(thrown(() => parseProtocolWebhook('protocol', SECRET, request(tampered, sig))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
  });

  it('rejects signatures of the wrong length or alphabet with FORBIDDEN, without throwing anything else', () => {
    for (const sig of ['', 'abc', 'zz'.repeat(32), signProtocolWebhook(messageUpdated, SECRET).slice(2)]) {
      expect(thrown(() => parseProtocolWebhook('protocol', SECRET, request(messageUpdated, sig))).code).toBe(
        ErrorCode.FORBIDDEN,
      );
    }
  });

  it('rejects every delivery with FORBIDDEN when no secret is configured', () => {
    expect(thrown(() => parseProtocolWebhook('protocol', undefined, signed(messageUpdated))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
  });

  it('answers BAD_USER_INPUT for a signed body that is not JSON', () => {
    expect(thrown(() => parseProtocolWebhook('protocol', SECRET, signed('{"id": "a0'))).code).toBe(
      ErrorCode.BAD_USER_INPUT,
    );
  });

  it('answers BAD_USER_INPUT for signed JSON that is not the event envelope', () => {
    const body = JSON.stringify({ event: 'message_created', id: 5 });
    expect(thrown(() => parseProtocolWebhook('protocol', SECRET, signed(body))).code).toBe(ErrorCode.BAD_USER_INPUT);
  });

  it.each([
    ['conversation.updated', { id: 'xgQQXg3hrtjh7AvZ', contact_id: 'WAz8eIbvDR60rouK' }, 'xgQQXg3hrtjh7AvZ'],
    ['conversation.deleted', { id: 'xgQQXg3hrtjh7AvZ' }, 'xgQQXg3hrtjh7AvZ'],
    ['message.created', { id: 'gWqY86BMFRiH5o11', conversation_id: 'xgQQXg3hrtjh7AvZ' }, 'xgQQXg3hrtjh7AvZ'],
    ['contact.updated', { id: 'WAz8eIbvDR60rouK', conversation_id: 'xgQQXg3hrtjh7AvZ' }, 'xgQQXg3hrtjh7AvZ'],
    ['group.updated', { id: 'l7cGNIBKZiNJ6wqF', conversation_id: 'ZYjVAbCE9g5XRlra' }, 'ZYjVAbCE9g5XRlra'],
    ['attachment.created', { id: 'Nc6yKKMpcxiiFxp6', message_id: 'LoPsJaMcPBuFNjg1' }, null],
    ['contact.created', { id: 'WAz8eIbvDR60rouK', conversation_id: null }, null],
  ])('maps %s to the conversation it touches', (type, payload, expected) => {
    const body = JSON.stringify({ id: 'evt0000000000001', type, payload });
    expect(parseProtocolWebhook('protocol', SECRET, signed(body))[0]?.conversationNativeId).toBe(expected);
  });
});

describe('applyProtocolChanges: the echo of the gateway own send', () => {
  const row = (nativeId: string, last: string | null): ConversationModel => ({
    sourceId: 'protocol',
    nativeId,
    subject: null,
    status: 'OPEN',
    channel: 'protocol',
    createdAt: null,
    updatedAt: null,
    lastMessageAt: new Date(692_233_200_000),
    unreadCount: 0,
    muted: false,
    pinned: false,
    archived: false,
    labels: [],
    participants: [],
    lastMessage: last
      ? {
          sourceId: 'protocol',
          nativeId: last,
          conversationNativeId: nativeId,
          content: 'hi',
          sentAt: new Date(692_233_200_000),
          readAt: null,
          direction: 'OUTGOING',
          private: false,
          sender: null,
          attachments: [],
        }
      : null,
  });
  const event = (type: string, conversation: string, message: string) =>
    signed(
      JSON.stringify({
        id: `ev-${type}-${conversation}-${message}`,
        type,
        payload: { id: message, conversation_id: conversation, created_at: 692_233_200 },
      }),
    );

  it('re-reads every conversation but one whose only events created the message the catalog shows last', async () => {
    const catalog = new ConversationCatalog(createMemoryCatalogStore(), 'protocol', 60_000);
    await catalog.all(async () => [row('c1', 'm1'), row('c2', 'm2'), row('c3', 'old'), row('c4', 'm4')]);
    const reread: string[] = [];
    const reader: CatalogReader<undefined> = {
      readAll: async () => [],
      readOne: async (_scope, id) => (reread.push(id), undefined),
      cache: () => undefined,
    };
    const sync = new CatalogSync(catalog, reader);
    const echoes = new ProtocolWebhookEchoes();
    const parse = (req: WebhookRequest) => parseProtocolWebhook('protocol', SECRET, req, echoes);
    const changes = [
      ...parse(event('message.created', 'c1', 'm1')), // the echo: not re-read
      ...parse(event('message.created', 'c2', 'm2')),
      ...parse(event('conversation.updated', 'c2', 'c2')), // the echo and another event of one batch: re-read
      ...parse(event('message.created', 'c3', 'm3')), // a message the catalog does not show: re-read
      ...parse(event('message.updated', 'c4', 'm4')), // an edit: re-read
    ];
    // The engine keeps one change per conversation (the last one).
    const last = [...new Map(changes.map((c) => [c.conversationNativeId, c])).values()];
    await applyProtocolChanges(sync, echoes, last, { requestId: 't' });
    expect(reread.sort()).toEqual(['c2', 'c3', 'c4']);
  });
});
