import { decode } from '../../../../src/connectors/decode';
import { mapConversation, mapMessage } from '../../../../src/connectors/pixieset/mapper';
import { pixiesetDetailResponse, pixiesetListResponse } from '../../../../src/connectors/pixieset/types';
import { GatewayError } from '../../../../src/errors';

// The seed's documented examples (seeds/000), verbatim.
const LIST_EXAMPLE = {
  data: [
    {
      id: 'conv_ABC123XYZ456',
      client_id: 'cl_ABC123DEF456GHI789JKL012MNO345',
      subject: 'Wedding Photography Session',
      last_message_at: '2025-08-07T10:30:00.000000Z',
      unread_count: 2,
      status: 'active',
      participants: [
        { id: 'cl_ABC123DEF456GHI789JKL012MNO345', name: 'John Doe', email: 'john@example.com', type: 'client' },
      ],
      messages: [
        {
          id: 'msg_DEF789GHI012',
          content: 'Looking forward to our session!',
          sent_at: '2025-08-07T10:30:00.000000Z',
          sender_type: 'client',
          sender_id: 'cl_ABC123DEF456GHI789JKL012MNO345',
          attachments: [],
        },
      ],
    },
  ],
  meta: { current_page: 1, per_page: 25, total: 15, last_page: 1 },
};

const DETAIL_EXAMPLE = {
  data: {
    id: 'conv_ABC123XYZ456',
    client_id: 'cl_ABC123DEF456GHI789JKL012MNO345',
    subject: 'Wedding Photography Session',
    created_at: '2025-08-01T09:00:00.000000Z',
    updated_at: '2025-08-07T10:30:00.000000Z',
    status: 'active',
    unread_count: 2,
    participants: [
      {
        id: 'cl_ABC123DEF456GHI789JKL012MNO345',
        name: 'John Doe',
        email: 'john@example.com',
        type: 'client',
        avatar_color: 8,
      },
      { id: 'photographer_123', name: 'Studio Photographer', email: 'studio@example.com', type: 'photographer' },
    ],
    messages: [
      {
        id: 'msg_DEF789GHI012',
        content: 'Hi! I wanted to discuss the timeline for our wedding shoot.',
        sent_at: '2025-08-07T09:00:00.000000Z',
        sender_type: 'client',
        sender_id: 'cl_ABC123DEF456GHI789JKL012MNO345',
        read_at: null,
        attachments: [],
      },
      {
        id: 'msg_JKL345MNO678',
        content: "Absolutely! I've attached our standard timeline template.",
        sent_at: '2025-08-07T10:30:00.000000Z',
        sender_type: 'photographer',
        sender_id: 'photographer_123',
        read_at: '2025-08-07T10:35:00.000000Z',
        attachments: [
          {
            id: 'att_PQR901STU234',
            filename: 'wedding-timeline-template.pdf',
            file_size: 245760,
            content_type: 'application/pdf',
            url: 'https://storage.pixieset.com/attachments/att_PQR901STU234.pdf',
          },
        ],
      },
    ],
  },
};

describe('Pixieset mapper', () => {
  it('maps the documented list item, whose messages hold the newest one', () => {
    const list = decode(pixiesetListResponse, LIST_EXAMPLE, 'px', 'list');
    const c = mapConversation('px', list.data[0]!);
    expect(c).toMatchObject({
      sourceId: 'px',
      nativeId: 'conv_ABC123XYZ456',
      subject: 'Wedding Photography Session',
      status: 'OPEN',
      unreadCount: 2,
      archived: false,
      labels: [],
      createdAt: null,
      lastMessageAt: new Date('2025-08-07T10:30:00.000Z'),
    });
    expect(c.participants).toEqual([
      expect.objectContaining({
        nativeId: 'cl_ABC123DEF456GHI789JKL012MNO345',
        name: 'John Doe',
        email: 'john@example.com',
        kind: 'CONTACT',
        avatarColor: null,
      }),
    ]);
    expect(c.lastMessage).toMatchObject({
      nativeId: 'conv_ABC123XYZ456/msg_DEF789GHI012',
      direction: 'INCOMING',
      readAt: null,
      sender: expect.objectContaining({ name: 'John Doe' }),
    });
  });

  it('takes the newest embedded message by sent_at, in whatever order the vendor embeds them (undocumented)', () => {
    const detail = decode(pixiesetDetailResponse, DETAIL_EXAMPLE, 'pixieset', 'conversation').data;
    const newest = detail.messages?.[detail.messages.length - 1]?.id;
    for (const messages of [detail.messages ?? [], [...(detail.messages ?? [])].reverse()]) {
      const c = mapConversation('pixieset', { ...detail, messages });
      expect(c.lastMessage?.nativeId).toBe(`conv_ABC123XYZ456/${String(newest)}`);
    }
  });

  it('maps the documented detail: participants, directions, read times and attachments', () => {
    const d = decode(pixiesetDetailResponse, DETAIL_EXAMPLE, 'px', 'detail').data;
    const c = mapConversation('px', d);
    expect(c.createdAt).toEqual(new Date('2025-08-01T09:00:00.000Z'));
    expect(c.updatedAt).toEqual(new Date('2025-08-07T10:30:00.000Z'));
    expect(c.participants?.map((p) => [p.kind, p.avatarColor])).toEqual([
      ['CONTACT', expect.stringMatching(/^#[0-9A-F]{6}$/)],
      ['AGENT', null],
    ]);
    const messages = d.messages!.map((m) => mapMessage('px', m, d.id, c.participants));
    expect(messages.map((m) => m.direction)).toEqual(['INCOMING', 'OUTGOING']);
    expect(messages[1]).toMatchObject({
      readAt: new Date('2025-08-07T10:35:00.000Z'),
      sender: expect.objectContaining({ nativeId: 'photographer_123', kind: 'AGENT' }),
      attachments: [
        {
          sourceId: 'px',
          nativeId: 'att_PQR901STU234',
          filename: 'wedding-timeline-template.pdf',
          size: 245760,
          contentType: 'application/pdf',
          url: 'https://storage.pixieset.com/attachments/att_PQR901STU234.pdf',
        },
      ],
    });
    expect(c.lastMessage?.nativeId).toBe('conv_ABC123XYZ456/msg_JKL345MNO678');
  });

  it('maps an archived conversation and a system message', () => {
    const d = decode(
      pixiesetDetailResponse,
      {
        data: {
          ...DETAIL_EXAMPLE.data,
          status: 'archived',
          messages: [
            { id: 'msg_S', sender_type: 'system', content: 'Session booked', sent_at: '2025-08-01T09:00:00.000000Z' },
          ],
        },
      },
      'px',
      'detail',
    ).data;
    const c = mapConversation('px', d);
    expect(c.status).toBe('ARCHIVED');
    expect(c.archived).toBe(true);
    expect(c.lastMessage?.direction).toBe('ACTIVITY');
  });

  it('rejects a malformed body with SOURCE_BAD_RESPONSE naming the field', () => {
    expect(() =>
      decode(pixiesetListResponse, { data: [{ id: 7, status: 'active' }], meta: {} }, 'px', 'conversation list'),
    ).toThrow(GatewayError);
  });

  // Issue 12 item 14: one malformed row no longer fails the page; it is left out and reported with its id.
  it('leaves a malformed row out of a list and reports it as SOURCE_BAD_RESPONSE naming the row and field', () => {
    const reported: GatewayError[] = [];
    const page = decode(
      pixiesetListResponse,
      {
        data: [
          { id: 'conv_1', status: 'weird' },
          { id: 'conv_2', status: 'active' },
        ],
        meta: { current_page: 1, per_page: 2, total: 2, last_page: 1 },
      },
      'px',
      'conversation list',
      { report: (e) => reported.push(e) },
    );
    expect(page.data.map((c) => c.id)).toEqual(['conv_2']);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.code).toBe('SOURCE_BAD_RESPONSE');
    expect(reported[0]!.extensions).toMatchObject({ source: 'px', rowId: 'conv_1' });
    expect(reported[0]!.message).toMatch(/status/);
  });
});
