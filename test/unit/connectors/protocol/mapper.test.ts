import { ErrorCode, GatewayError } from '../../../../src/errors';
import { decode } from '../../../../src/connectors/decode';
import {
  countUnread,
  fromEpoch,
  mapAttachment,
  mapContact,
  mapConversation,
  mapMessage,
} from '../../../../src/connectors/protocol/mapper';
import {
  protocolContact,
  protocolConversation,
  protocolGroup,
  protocolList,
  protocolMessage,
  type ProtocolConversationDto,
  type ProtocolMessageDto,
} from '../../../../src/connectors/protocol/types';

const SRC = 'protocol';
const SELF = 'inEIRvzjC6YLMX3o';

// Seed 001 (GET /v1/conversations), verbatim apart from the elided second item.
const seedList = {
  has_more: false,
  data: [
    {
      id: 'xgQQXg3hrtjh7AvZ',
      contact_id: 'WAz8eIbvDR60rouK',
      group_id: null,
      pinned_message_id: null,
      is_pinned: false,
      is_muted: false,
      last_active_at: 705103200,
      last_opened_at: 705103200,
      created_at: 692233200,
      archived_at: null,
    },
  ],
};
// Seed 001 (POST /v1/conversations response): a new conversation has no activity yet.
const seedCreated = {
  id: 'xgQQXg3hrtjh7AvZ',
  contact_id: 'WAz8eIbvDR60rouK',
  group_id: null,
  pinned_message_id: null,
  is_pinned: false,
  is_muted: false,
  last_active_at: null,
  last_opened_at: null,
  created_at: 692233200,
  archived_at: null,
};
// Contacts page example.
const frank = {
  id: 'WAz8eIbvDR60rouK',
  username: 'FrankMcCallister',
  phone_number: '1-800-759-3000',
  avatar_url: 'https://assets.protocol.chat/avatars/frank.jpg',
  display_name: null,
  conversation_id: 'xgQQXg3hrtjh7AvZ',
  last_active_at: 705103200,
  created_at: 692233200,
};
// Messages page example (the embedded contact has no display_name or conversation_id).
const kevinMessage = {
  id: 'SIuAFUNKdSYHZF2w',
  conversation_id: 'xgQQXg3hrtjh7AvZ',
  contact: {
    id: 'WAz8eIbvDR60rouK',
    username: 'KevinMcCallister',
    phone_number: '1-800-759-3000',
    avatar_url: 'https://assets.protocol.chat/avatars/kevin.jpg',
    last_active_at: 705103200,
    created_at: 692233200,
  },
  message: "I'm traveling with my dad. He's at a meeting. I hate meetings.",
  reactions: [{ red_angry_face: ['KateMcCallister'] }],
  attachments: [
    {
      id: 'Nc6yKKMpcxiiFxp6',
      message_id: 'SIuAFUNKdSYHZF2w',
      filename: 'Invoice_room_service__Plaza_Hotel.pdf',
      file_url: 'https://assets.protocol.chat/attachments/Invoice_room_service__Plaza_Hotel.pdf',
      file_type: 'application/pdf',
      file_size: 21352,
      created_at: 692233200,
    },
  ],
  read_at: 705103200,
  created_at: 692233200,
  updated_at: 692233200,
};
// Messages page, send response: sent by Linnie, unread so far.
const linnieMessage = {
  id: 'gWqY86BMFRiH5o11',
  conversation_id: 'xgQQXg3hrtjh7AvZ',
  contact: {
    id: SELF,
    username: 'LinnieMcCallister',
    phone_number: '1-800-759-3000',
    avatar_url: 'https://assets.protocol.chat/avatars/linnie.jpg',
    last_active_at: 705103200,
    created_at: 692233200,
  },
  message: "You're what the French call 'les incompetents.'",
  reactions: [],
  attachments: [],
  read_at: null,
  created_at: 692233200,
  updated_at: null,
};
// Groups page example (members abbreviated to what the page shows plus ids).
const plaza = {
  id: 'l7cGNIBKZiNJ6wqF',
  name: 'Plaza Hotel',
  description: 'World-renowned.',
  avatar_url: 'https://assets.protocol.chat/avatars/plazahotel.jpg',
  conversation_id: 'ZYjVAbCE9g5XRlra',
  contacts: [
    { id: 'HectorHectorHect', username: 'Hector' },
    { id: 'CedricCedricCedr', username: 'Cedric', display_name: 'Cedric the concierge' },
  ],
  created_at: 692233200,
  archived_at: null,
};

const conv = (over: Partial<ProtocolConversationDto> = {}) =>
  decode(protocolConversation, { ...seedCreated, ...over }, SRC, 'conversation');
const msg = (over: Partial<ProtocolMessageDto> = {}) =>
  decode(protocolMessage, { ...kevinMessage, ...over }, SRC, 'message');

describe('Protocol wire decoding', () => {
  it('accepts the seed list envelope and the create response', () => {
    const list = decode(protocolList(protocolConversation), seedList, SRC, 'conversation list');
    expect(list.has_more).toBe(false);
    expect(list.data[0]?.id).toBe('xgQQXg3hrtjh7AvZ');
    expect(decode(protocolConversation, seedCreated, SRC, 'conversation').last_active_at).toBeNull();
  });

  it('accepts the message example whose embedded contact lacks display_name', () => {
    expect(decode(protocolMessage, kevinMessage, SRC, 'message').contact?.display_name).toBeUndefined();
  });

  it('turns a body that breaks the contract into SOURCE_BAD_RESPONSE naming the source and the field', () => {
    let caught: unknown;
    try {
      decode(protocolConversation, { ...seedCreated, last_active_at: '2024-01-01' }, SRC, 'conversation');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).code).toBe(ErrorCode.SOURCE_BAD_RESPONSE);
    expect((caught as GatewayError).message).toMatch(/"protocol".*last_active_at/);
  });
});

describe('mapConversation', () => {
  const contact = decode(protocolContact, frank, SRC, 'contact');

  it('maps the seed conversation: epoch seconds, OPEN, no updatedAt, constant channel, contact name as subject', () => {
    const dto = decode(protocolList(protocolConversation), seedList, SRC, 'list').data[0] as ProtocolConversationDto;
    const c = mapConversation(SRC, dto, { contact, selfContactId: SELF });
    expect(c).toEqual({
      sourceId: SRC,
      nativeId: 'xgQQXg3hrtjh7AvZ',
      // docs/vendors/README.md: display_name ?? username
      subject: 'FrankMcCallister',
      status: 'OPEN',
      channel: 'protocol',
      createdAt: new Date(692233200 * 1000),
      updatedAt: null,
      lastMessageAt: new Date(705103200 * 1000),
      unreadCount: undefined,
      muted: false,
      pinned: false,
      archived: false,
      labels: [],
      participants: [
        {
          sourceId: SRC,
          nativeId: 'WAz8eIbvDR60rouK',
          name: 'FrankMcCallister',
          email: null,
          phone: '1-800-759-3000',
          kind: 'CONTACT',
          avatarUrl: 'https://assets.protocol.chat/avatars/frank.jpg',
          avatarColor: null,
        },
      ],
    });
  });

  it('leaves lastMessageAt null for a conversation that was just created', () => {
    expect(mapConversation(SRC, conv(), { contact, selfContactId: SELF }).lastMessageAt).toBeNull();
  });

  it('is ARCHIVED and archived when archived_at is set, and carries pin and mute', () => {
    const c = mapConversation(SRC, conv({ archived_at: 705103300, is_pinned: true, is_muted: true }), {
      contact,
      selfContactId: SELF,
    });
    expect([c.status, c.archived, c.pinned, c.muted]).toEqual(['ARCHIVED', true, true, true]);
  });

  it('prefers display_name over username for the subject', () => {
    const c = mapConversation(SRC, conv(), {
      contact: { ...contact, display_name: 'Uncle Frank' },
      selfContactId: SELF,
    });
    expect(c.subject).toBe('Uncle Frank');
  });

  it("uses the group's name and members for a group conversation, and adds the self contact as the AGENT", () => {
    const group = decode(protocolGroup, plaza, SRC, 'group');
    const self = decode(protocolContact, { ...linnieMessage.contact, display_name: 'Linnie' }, SRC, 'contact');
    const c = mapConversation(SRC, conv({ contact_id: null, group_id: plaza.id }), {
      group,
      self,
      selfContactId: SELF,
    });
    expect(c.subject).toBe('Plaza Hotel');
    expect(c.participants?.map((p) => [p.nativeId, p.name, p.kind])).toEqual([
      ['HectorHectorHect', 'Hector', 'CONTACT'],
      ['CedricCedricCedr', 'Cedric the concierge', 'CONTACT'],
      [SELF, 'Linnie', 'AGENT'],
    ]);
  });

  it('has a null subject and no other participants when the contact or group is gone', () => {
    const c = mapConversation(SRC, conv({ contact_id: null, group_id: 'GoneGoneGoneGone' }), {
      group: null,
      selfContactId: SELF,
    });
    expect(c.subject).toBeNull();
    expect(c.participants).toEqual([]);
  });

  it('passes a precomputed unread count through', () => {
    expect(mapConversation(SRC, conv(), { contact, selfContactId: SELF, unreadCount: 3 }).unreadCount).toBe(3);
  });
});

describe('mapMessage', () => {
  it('maps the messages-page example: text, epoch times, sender, attachments (MIME file_type)', () => {
    const m = mapMessage(SRC, msg(), SELF);
    expect(m).toEqual({
      sourceId: SRC,
      nativeId: 'SIuAFUNKdSYHZF2w',
      conversationNativeId: 'xgQQXg3hrtjh7AvZ',
      content: "I'm traveling with my dad. He's at a meeting. I hate meetings.",
      sentAt: new Date(692233200 * 1000),
      readAt: new Date(705103200 * 1000),
      direction: 'INCOMING',
      private: false,
      sender: {
        sourceId: SRC,
        nativeId: 'WAz8eIbvDR60rouK',
        name: 'KevinMcCallister',
        email: null,
        phone: '1-800-759-3000',
        kind: 'CONTACT',
        avatarUrl: 'https://assets.protocol.chat/avatars/kevin.jpg',
        avatarColor: null,
      },
      attachments: [
        {
          sourceId: SRC,
          nativeId: 'Nc6yKKMpcxiiFxp6',
          filename: 'Invoice_room_service__Plaza_Hotel.pdf',
          contentType: 'application/pdf',
          size: 21352,
          url: 'https://assets.protocol.chat/attachments/Invoice_room_service__Plaza_Hotel.pdf',
        },
      ],
    });
  });

  it('is OUTGOING, from the AGENT, when the self contact sent it', () => {
    const m = mapMessage(SRC, decode(protocolMessage, linnieMessage, SRC, 'message'), SELF);
    expect(m.direction).toBe('OUTGOING');
    expect(m.sender?.kind).toBe('AGENT');
    expect(m.readAt).toBeNull();
  });

  it('is INCOMING for everybody when no self contact is configured', () => {
    expect(mapMessage(SRC, decode(protocolMessage, linnieMessage, SRC, 'message'), null).direction).toBe('INCOMING');
  });

  it('maps a contact without display_name to its username, and has no email', () => {
    const p = mapContact(SRC, decode(protocolContact, frank, SRC, 'contact'), SELF);
    expect([p.name, p.email, p.kind]).toEqual(['FrankMcCallister', null, 'CONTACT']);
  });

  it('maps an attachment with missing optional fields to nulls', () => {
    expect(mapAttachment(SRC, { id: 'Nc6yKKMpcxiiFxp6' })).toEqual({
      sourceId: SRC,
      nativeId: 'Nc6yKKMpcxiiFxp6',
      filename: null,
      contentType: null,
      size: null,
      url: null,
    });
  });

  it('reads epoch seconds, not milliseconds', () => {
    expect(fromEpoch(705103200)?.toISOString()).toBe('1992-05-05T22:00:00.000Z');
    expect(fromEpoch(null)).toBeNull();
  });
});

describe('countUnread (docs/vendors/protocol.md, derived)', () => {
  const base = { read_at: null, created_at: 1000 };
  const incoming = (id: string, over: Partial<ProtocolMessageDto> = {}) => msg({ id, ...base, ...over });
  const own = (id: string, over: Partial<ProtocolMessageDto> = {}) =>
    msg({ id, ...base, contact: { ...kevinMessage.contact, id: SELF }, ...over });

  it('counts incoming messages with read_at null created after last_opened_at', () => {
    const messages = [
      incoming('a', { created_at: 900 }),
      incoming('b', { created_at: 1100 }),
      incoming('c', { created_at: 1200 }),
    ];
    expect(countUnread(messages, { last_opened_at: 1000 }, SELF)).toBe(2);
  });

  it('does not count a message created in the second the conversation was opened', () => {
    expect(countUnread([incoming('a', { created_at: 1000 })], { last_opened_at: 1000 }, SELF)).toBe(0);
  });

  it('does not count messages that have a read_at', () => {
    expect(countUnread([incoming('a', { created_at: 1100, read_at: 1150 })], { last_opened_at: 1000 }, SELF)).toBe(0);
  });

  it("never counts the self contact's own messages", () => {
    expect(countUnread([own('a', { created_at: 1100 })], { last_opened_at: null }, SELF)).toBe(0);
  });

  it('counts every unread incoming message when the conversation was never opened', () => {
    const messages = [
      incoming('a', { created_at: 1 }),
      incoming('b', { created_at: 2 }),
      incoming('c', { read_at: 5 }),
    ];
    expect(countUnread(messages, { last_opened_at: null }, SELF)).toBe(2);
  });
});
