import { decode } from '../../../../src/connectors/decode';
import {
  cwTime,
  filenameFromUrl,
  mapConversation,
  mapDirection,
  mapMessage,
  mapSender,
  mimeFromExtension,
  parseConversationNativeId,
  parseMessageNativeId,
  parseParticipantNativeId,
} from '../../../../src/connectors/chatwoot/mapper';
import {
  chatwootConversation,
  chatwootConversationList,
  chatwootMessage,
} from '../../../../src/connectors/chatwoot/types';

const ctx = { sourceId: 'cw', accountId: 7 };

/** The response example of seed 002 (List Conversations), verbatim. */
const SEED_LIST_EXAMPLE = {
  data: {
    meta: { mine_count: 0, new_count: 0, assigned_count: 0, unassigned_count: 0, all_count: 0 },
    payload: [
      {
        meta: {
          sender: {
            additional_attributes: {},
            availability_status: 'offline',
            email: 'string',
            id: 0,
            name: 'string',
            phone_number: 'string',
            identifier: 'string',
            thumbnail: 'string',
            custom_attributes: { avatar_img_url: 'string' },
            last_activity_at: 0,
            blocked: false,
            created_at: 0,
          },
          channel: 'string',
          hmac_verified: false,
        },
        id: 0,
        messages: [
          {
            id: 0,
            content: 'string',
            account_id: 0,
            inbox_id: 0,
            conversation_id: 0,
            message_type: 0,
            created_at: 0,
            updated_at: 'string',
            private: false,
            status: 'sent',
            source_id: 'string',
            content_type: 'string',
            content_attributes: {},
            sender_type: 'Contact',
            sender_id: 0,
            external_source_ids: {},
            additional_attributes: {},
            label_list: null,
            created_at_exact: 'string',
            conversation: { assignee_id: 0, unread_count: 0 },
            sender: {
              additional_attributes: {},
              custom_attributes: {},
              email: 'string',
              id: 0,
              identifier: 'string',
              name: 'string',
              phone_number: 'string',
              thumbnail: 'string',
              type: 'contact',
            },
          },
        ],
        account_id: 0,
        additional_attributes: {},
        agent_last_seen_at: 0,
        assignee_last_seen_at: 0,
        can_reply: true,
        contact_last_seen_at: 0,
        custom_attributes: {},
        inbox_id: 0,
        labels: ['string'],
        muted: false,
        snoozed_until: 0,
        status: 'open',
        created_at: 0,
        timestamp: 0,
        first_reply_created_at: 0,
        unread_count: 0,
        last_non_activity_message: {},
      },
    ],
  },
};

/** A conversation as the `_conversation` partial renders it (docs/vendors/chatwoot.md), with an assignee. */
const conversationJson = (over: Record<string, unknown> = {}) => ({
  meta: {
    sender: { id: 12, name: 'Ava Rossi', email: 'ava@example.com', phone_number: null, thumbnail: '', blocked: true },
    channel: 'Channel::Email',
    assignee: { id: 3, name: 'Priya Shah', available_name: 'Priya', email: 'priya@acme.example', thumbnail: '' },
    hmac_verified: false,
  },
  id: 42,
  messages: [],
  account_id: 7,
  additional_attributes: { mail_subject: 'Double charge on invoice #4101' },
  agent_last_seen_at: 1_790_000_100,
  labels: ['billing', 'vip'],
  muted: true,
  snoozed_until: null,
  status: 'snoozed',
  created_at: 1_789_990_000,
  updated_at: 1_790_000_123.456,
  timestamp: 1_790_000_200,
  last_activity_at: 1_790_000_200,
  unread_count: 10,
  last_non_activity_message: {
    id: 900,
    content: 'Is there any update?',
    conversation_id: 42,
    message_type: 0,
    created_at: 1_790_000_200,
    updated_at: '2026-09-21T13:03:20.000Z',
    private: false,
    sender_type: 'Contact',
    sender_id: 12,
    sender: { id: 12, name: 'Ava Rossi', email: 'ava@example.com', type: 'contact', thumbnail: '' },
  },
  ...over,
});

describe('chatwoot mapper', () => {
  it('maps the seed 002 list example (zeros as nulls, `{}` as no last message, messages[0] as the last message)', () => {
    const list = decode(chatwootConversationList, SEED_LIST_EXAMPLE, 'cw', 'list');
    const c = mapConversation(ctx, list.data.payload[0]!);
    expect(c).toMatchObject({
      nativeId: '7:0',
      status: 'OPEN',
      channel: 'string',
      createdAt: null,
      updatedAt: null,
      lastMessageAt: null,
      unreadCount: 0,
      muted: false,
      pinned: false,
      archived: false,
      labels: ['string'],
      subject: null,
    });
    expect(c.participants).toEqual([
      expect.objectContaining({
        nativeId: 'contact:0',
        name: 'string',
        email: 'string',
        phone: 'string',
        kind: 'CONTACT',
        avatarUrl: 'string',
      }),
    ]);
    expect(c.lastMessage).toMatchObject({
      nativeId: '7:0/0',
      conversationNativeId: '7:0',
      content: 'string',
      direction: 'INCOMING',
      sentAt: null,
      private: false,
      attachments: [],
      sender: expect.objectContaining({ nativeId: 'contact:0', kind: 'CONTACT' }),
    });
  });

  it('maps a conversation: epochs, float updated_at, muted = blocked contact, subject from mail_subject, assignee as agent', () => {
    const c = mapConversation(ctx, decode(chatwootConversation, conversationJson(), 'cw', 'conversation'));
    expect(c.nativeId).toBe('7:42');
    expect(c.status).toBe('SNOOZED');
    expect(c.subject).toBe('Double charge on invoice #4101');
    expect(c.createdAt?.toISOString()).toBe(new Date(1_789_990_000_000).toISOString());
    expect(c.updatedAt?.getTime()).toBe(1_790_000_123_456);
    expect(c.lastMessageAt?.getTime()).toBe(1_790_000_200_000);
    expect(c.unreadCount).toBe(10);
    expect(c.muted).toBe(true);
    expect(c.labels).toEqual(['billing', 'vip']);
    expect(c.participants?.map((p) => [p.nativeId, p.kind, p.name])).toEqual([
      ['contact:12', 'CONTACT', 'Ava Rossi'],
      ['user:3', 'AGENT', 'Priya'],
    ]);
    expect(c.participants?.[0]?.avatarUrl).toBeNull();
    // The incoming last message arrived after agent_last_seen_at: unread.
    expect(c.lastMessage?.readAt).toBeNull();
  });

  it('says "no last message" with null and "unknown" with undefined', () => {
    const none = mapConversation(
      ctx,
      decode(chatwootConversation, conversationJson({ last_non_activity_message: null }), 'cw', 'c'),
    );
    expect(none.lastMessage).toBeNull();
    const raw = conversationJson();
    const { last_non_activity_message: _drop, messages: _drop2, ...rest } = raw;
    const unknown = mapConversation(ctx, decode(chatwootConversation, rest, 'cw', 'c'));
    expect(unknown.lastMessage).toBeUndefined();
  });

  it.each([
    ['open', 'OPEN'],
    ['pending', 'PENDING'],
    ['snoozed', 'SNOOZED'],
    ['resolved', 'RESOLVED'],
  ])('maps status %s to %s', (status, expected) => {
    expect(mapConversation(ctx, decode(chatwootConversation, conversationJson({ status }), 'cw', 'c')).status).toBe(
      expected,
    );
  });

  it.each([
    [0, 'INCOMING'],
    ['incoming', 'INCOMING'],
    [1, 'OUTGOING'],
    ['outgoing', 'OUTGOING'],
    [2, 'ACTIVITY'],
    ['activity', 'ACTIVITY'],
    [3, 'OUTGOING'],
    ['template', 'OUTGOING'],
  ])('maps message_type %p to %s (REST ints and webhook strings)', (t, expected) => {
    expect(mapDirection(t)).toBe(expected);
  });

  it('reads 0 as null, integer and float epochs as seconds, and ISO strings', () => {
    expect(cwTime(0)).toBeNull();
    expect(cwTime(null)).toBeNull();
    expect(cwTime(1_700_000_000)?.getTime()).toBe(1_700_000_000_000);
    expect(cwTime(1_700_000_000.25)?.getTime()).toBe(1_700_000_000_250);
    expect(cwTime('2026-11-01T09:00:00.000Z')?.getTime()).toBe(Date.parse('2026-11-01T09:00:00.000Z'));
    expect(cwTime('not a time')).toBeNull();
  });

  it('maps a webhook message: string message_type, ISO created_at, conversation from `conversation.id`, contact sender without type', () => {
    const webhook = {
      event: 'message_created',
      id: 901,
      content: 'Hello from the widget',
      content_type: 'text',
      content_attributes: {},
      message_type: 'incoming',
      created_at: '2026-11-01T09:00:05.000Z',
      private: false,
      source_id: null,
      sender: {
        account: { id: 7, name: 'Acme' },
        id: 12,
        name: 'Ava Rossi',
        email: 'ava@example.com',
        phone_number: '+15550100',
        thumbnail: '',
        blocked: false,
      },
      account: { id: 7, name: 'Acme' },
      conversation: { id: 42, status: 'open' },
    };
    const m = mapMessage(ctx, decode(chatwootMessage, webhook, 'cw', 'message'));
    expect(m).toMatchObject({
      nativeId: '7:42/901',
      conversationNativeId: '7:42',
      direction: 'INCOMING',
      content: 'Hello from the widget',
      attachments: [],
    });
    expect(m.sentAt?.toISOString()).toBe('2026-11-01T09:00:05.000Z');
    expect(m.sender).toMatchObject({ nativeId: 'contact:12', kind: 'CONTACT', phone: '+15550100' });
  });

  it('maps attachments: filename from the data_url path, MIME from extension or the filename, size, url', () => {
    const m = mapMessage(
      ctx,
      decode(
        chatwootMessage,
        {
          id: 5,
          content: null,
          conversation_id: 42,
          message_type: 0,
          created_at: 1_790_000_000,
          private: false,
          attachments: [
            {
              id: 1,
              message_id: 5,
              file_type: 'image',
              extension: 'png',
              data_url: 'https://cw.example/rails/active_storage/blobs/redirect/abc--def/screen%20shot.png',
              thumb_url: 'https://cw.example/thumb',
              file_size: 1234,
            },
            {
              id: 2,
              message_id: 5,
              file_type: 'file',
              extension: null,
              data_url: 'https://cw.example/blobs/x/invoice-7.pdf?disposition=inline',
              file_size: 99,
            },
            {
              id: 3,
              message_id: 5,
              file_type: 'file',
              extension: null,
              data_url: 'https://cw.example/blobs/x/README',
              file_size: null,
            },
          ],
        },
        'cw',
        'message',
      ),
    );
    expect(m.content).toBeNull();
    expect(m.attachments).toEqual([
      {
        sourceId: 'cw',
        nativeId: '1',
        filename: 'screen shot.png',
        contentType: 'image/png',
        size: 1234,
        url: 'https://cw.example/rails/active_storage/blobs/redirect/abc--def/screen%20shot.png',
      },
      {
        sourceId: 'cw',
        nativeId: '2',
        filename: 'invoice-7.pdf',
        contentType: 'application/pdf',
        size: 99,
        url: 'https://cw.example/blobs/x/invoice-7.pdf?disposition=inline',
      },
      {
        sourceId: 'cw',
        nativeId: '3',
        filename: 'README',
        contentType: null,
        size: null,
        url: 'https://cw.example/blobs/x/README',
      },
    ]);
  });

  it('reads an absent attachments key as no attachments', () => {
    const m = mapMessage(
      ctx,
      decode(chatwootMessage, { id: 6, content: 'hi', conversation_id: 1, message_type: 1, created_at: 1 }, 'cw', 'm'),
    );
    expect(m.attachments).toEqual([]);
  });

  it('marks an incoming message read when it is not newer than agent_last_seen_at, and never an outgoing one', () => {
    const seen = new Date(1_790_000_100_000);
    const incoming = (created_at: number) =>
      mapMessage(
        ctx,
        decode(chatwootMessage, { id: 1, content: 'x', conversation_id: 1, message_type: 0, created_at }, 'cw', 'm'),
        {
          agentLastSeenAt: seen,
        },
      );
    expect(incoming(1_790_000_100).readAt).toEqual(seen);
    expect(incoming(1_790_000_101).readAt).toBeNull();
    const outgoing = mapMessage(
      ctx,
      decode(chatwootMessage, { id: 2, content: 'x', conversation_id: 1, message_type: 1, created_at: 1 }, 'cw', 'm'),
      {
        agentLastSeenAt: seen,
      },
    );
    expect(outgoing.readAt).toBeNull();
  });

  it('maps user and agent bot senders with namespaced ids', () => {
    expect(
      mapSender(ctx, { id: 2, name: 'Sam Lee', available_name: 'Sam', avatar_url: 'https://a/x.png', type: 'user' }),
    ).toMatchObject({
      nativeId: 'user:2',
      name: 'Sam',
      kind: 'AGENT',
      avatarUrl: 'https://a/x.png',
    });
    expect(mapSender(ctx, { id: 1, name: 'Captain', type: 'agent_bot' })).toMatchObject({
      nativeId: 'agent_bot:1',
      kind: 'BOT',
    });
  });

  it('maps agent-bot assignees and Captain assistant senders as BOT, never colliding with a user of the same id', () => {
    // REST `_conversation.json.jbuilder`: an agent bot assignee is the agent_bot_slim partial with assignee_type.
    const rest = decode(
      chatwootConversation,
      conversationJson({
        meta: {
          sender: { id: 1, name: 'Ava Rossi', blocked: false },
          channel: 'Channel::WebWidget',
          assignee: { id: 1, name: 'Captain', description: 'Answers first', thumbnail: '', bot_type: 'webhook' },
          assignee_type: 'AgentBot',
        },
      }),
      'cw',
      'c',
    );
    expect(mapConversation(ctx, rest).participants).toEqual([
      expect.objectContaining({ nativeId: 'contact:1', kind: 'CONTACT' }),
      expect.objectContaining({ nativeId: 'agent_bot:1', kind: 'BOT', name: 'Captain' }),
    ]);
    // A human assignee says so too; without assignee_type the webhook's `type` decides.
    const user = { id: 1, name: 'Alex Morgan', available_name: 'Alex', avatar_url: '', type: 'user' };
    const asUser = decode(
      chatwootConversation,
      conversationJson({ meta: { sender: { id: 1 }, assignee: user, assignee_type: 'User' } }),
      'cw',
      'c',
    );
    expect(mapConversation(ctx, asUser).participants?.[1]).toMatchObject({ nativeId: 'user:1', kind: 'AGENT' });
    const pushBot = decode(
      chatwootConversation,
      conversationJson({ meta: { sender: { id: 1 }, assignee: { id: 1, name: 'Captain', type: 'agent_bot' } } }),
      'cw',
      'c',
    );
    expect(mapConversation(ctx, pushBot).participants?.[1]).toMatchObject({ nativeId: 'agent_bot:1', kind: 'BOT' });

    // enterprise/app/models/captain/assistant.rb: push_event_data / webhook_data with type captain_assistant.
    const captain = { id: 1, name: 'Acme Assistant', avatar_url: 'https://a/c.png', type: 'captain_assistant' };
    expect(mapSender(ctx, captain)).toEqual({
      sourceId: 'cw',
      nativeId: 'captain_assistant:1',
      name: 'Acme Assistant',
      email: null,
      phone: null,
      kind: 'BOT',
      avatarUrl: 'https://a/c.png',
      avatarColor: null,
    });
    // An unknown sender type is not mistaken for a contact (whose ids it would collide with).
    expect(mapSender(ctx, { id: 1, name: 'X', type: 'future_bot' })).toMatchObject({
      nativeId: 'future_bot:1',
      kind: 'BOT',
    });
    const fromRef = mapMessage(
      ctx,
      decode(
        chatwootMessage,
        {
          id: 5,
          content: 'From the help center',
          conversation_id: 4,
          message_type: 1,
          created_at: 1,
          sender_type: 'Captain::Assistant',
          sender_id: 1,
        },
        'cw',
        'm',
      ),
    );
    expect(fromRef.senderRef).toBe('captain_assistant:1');
  });

  it('falls back to sender_type/sender_id for the sender reference when no sender object is embedded', () => {
    const m = mapMessage(
      ctx,
      decode(
        chatwootMessage,
        {
          id: 3,
          content: 'note',
          conversation_id: 4,
          message_type: 1,
          created_at: 1,
          private: true,
          sender_type: 'User',
          sender_id: 9,
        },
        'cw',
        'm',
      ),
    );
    expect(m.sender).toBeNull();
    expect(m.senderRef).toBe('user:9');
    expect(m.private).toBe(true);
  });

  it('parses native ids and rejects malformed ones', () => {
    expect(parseConversationNativeId('1:42')).toEqual({ accountId: 1, displayId: 42 });
    expect(parseConversationNativeId('42')).toBeNull();
    expect(parseConversationNativeId('1:42/3')).toBeNull();
    expect(parseMessageNativeId('1:42/3')).toEqual({ accountId: 1, displayId: 42, messageId: 3 });
    expect(parseMessageNativeId('1:42')).toBeNull();
    expect(parseParticipantNativeId('contact:5')).toEqual({ type: 'contact', id: 5 });
    expect(parseParticipantNativeId('agent_bot:1')).toEqual({ type: 'agent_bot', id: 1 });
    expect(parseParticipantNativeId('team:1')).toBeNull();
  });

  it('derives MIME types and file names defensively', () => {
    expect(mimeFromExtension('JPG')).toBe('image/jpeg');
    expect(mimeFromExtension('.csv')).toBe('text/csv');
    expect(mimeFromExtension('exe')).toBeNull();
    expect(filenameFromUrl(null)).toBeNull();
    expect(filenameFromUrl('https://x.example/')).toBeNull();
    expect(filenameFromUrl('/relative/a%2Fb.txt')).toBe('a/b.txt');
  });
});
