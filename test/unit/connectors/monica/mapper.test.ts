import { ErrorCode, type GatewayError } from '../../../../src/errors';
import { classifyValidation, mapMonicaError } from '../../../../src/connectors/monica/client';
import {
  ME_ID,
  datePart,
  mapContact,
  mapConversation,
  mapMe,
  mapMessage,
  mapMessages,
  messageNativeId,
  parseId,
  parseMessageId,
  subjectOf,
  toMonicaDate,
  toMonicaTimestamp,
} from '../../../../src/connectors/monica/mapper';
import {
  monicaContactEnvelope,
  monicaConversationEnvelope,
  monicaConversationPage,
  monicaUserEnvelope,
  type MonicaConversationDto,
} from '../../../../src/connectors/monica/types';

const S = 'monica';

// ---- The documented examples of seed 003 (values copied from the seed) ----

const soledad = {
  id: 1,
  object: 'contact',
  hash_id: 'h:Y5LOkAdWNDqgVomKPv',
  first_name: 'Soledad',
  last_name: null,
  nickname: null,
  complete_name: 'Soledad',
  initials: 'S',
  gender: 'Rather not say',
  is_partial: false,
  is_dead: false,
  information: {
    birthdate: { is_age_based: null, is_year_unknown: null, date: null },
    deceased_date: { is_age_based: null, is_year_unknown: null, date: null },
    avatar: {
      has_avatar: true,
      avatar_url: 'https://randomuser.me/api/portraits/women/37.jpg',
      default_avatar_color: '#ff9807',
    },
  },
  account: { id: 1 },
};
const seedMessage = (id: number, content: string, writtenAt: string, byMe: boolean) => ({
  id,
  object: 'message',
  content,
  written_at: writtenAt,
  written_by_me: byMe,
  account: { id: 1 },
  contact: soledad,
  conversation: { id: 1 },
  created_at: '2018-10-11T01:31:40Z',
  updated_at: '2018-10-11T01:31:40Z',
});
const M1 =
  "The other side of the conversation. Alice replied, so eagerly that the Mouse to tell me who YOU are, first.' 'Why?' said the Hatter. He came in with the Queen merely remarking that a moment's pause.";
const M2 =
  "I should think it would like the largest telescope that ever was! Good-bye, feet!' (for when she caught it, and very soon finished it off. * * * * * * * * * * * * * * * * * * * * * * * * * * * * * *.";
const M3 =
  "I used to come yet, please your Majesty,' said the Mouse was bristling all over, and both creatures hid their faces in their paws. 'And how many hours a day did you call him Tortoise--' 'Why did you.";
const M4 =
  "I can't take more.' 'You mean you can't think! And oh, I wish you could keep it to the little creature down, and was delighted to find that she was coming to, but it had gone. 'Well! I've often seen.";
const M5 =
  "I can kick a little!' She drew her foot as far down the little door into that beautiful garden--how IS that to be a queer thing, to be two people! Why, there's hardly enough of it altogether; but.";

/** `GET /conversations`, first item (seed 003 "List all the conversations in the account"). */
const seedListPage = {
  data: [
    {
      id: 1,
      object: 'conversation',
      happened_at: '1977-06-09T02:00:51Z',
      messages: [
        seedMessage(1, M1, '1953-04-02T14:28:10Z', true),
        seedMessage(2, M2, '1944-07-10T23:50:30Z', true),
        seedMessage(3, M3, '1943-12-31T14:17:43Z', false),
        seedMessage(4, M4, '1961-04-09T17:17:50Z', true),
        seedMessage(5, M5, '1949-11-29T10:56:18Z', true),
      ],
      contact_field_type: {
        id: 4,
        object: 'contactfieldtype',
        name: 'Twitter',
        fontawesome_icon: 'fa fa-twitter-square',
        protocol: null,
        delible: true,
        type: null,
        account: { id: 1 },
        created_at: '2018-10-11T01:31:37Z',
        updated_at: '2018-10-11T01:31:37Z',
      },
      account: { id: 1 },
      contact: soledad,
      created_at: '2018-10-11T01:31:40Z',
      updated_at: '2018-10-11T01:31:40Z',
    },
  ],
  links: {
    first: 'https://app.monicahq.com/api/conversations?page=1',
    last: 'https://app.monicahq.com/api/conversations?page=22',
    prev: null,
    next: 'https://app.monicahq.com/api/conversations?page=2',
  },
  meta: {
    current_page: 1,
    from: 1,
    last_page: 22,
    path: 'https://app.monicahq.com/api/conversations',
    per_page: 15,
    to: 15,
    total: 317,
  },
};

const johnDoe = {
  id: 1,
  object: 'contact',
  hash_id: 'h:Y5LOkAdWNDqgVomKPv',
  first_name: 'John',
  last_name: 'Doe',
  nickname: null,
  complete_name: 'John Doe',
  initials: 'JD',
  gender: 'Man',
  is_partial: false,
  is_dead: false,
  information: {
    birthdate: { is_age_based: null, is_year_unknown: null, date: null },
    deceased_date: { is_age_based: null, is_year_unknown: null, date: null },
    avatar: { has_avatar: false, avatar_url: null, default_avatar_color: '#93521e' },
  },
  account: { id: 1 },
};
const emailType = {
  id: 1,
  object: 'contactfieldtype',
  name: 'Email',
  fontawesome_icon: 'fa fa-envelope-open-o',
  protocol: 'mailto:',
  delible: false,
  type: 'email',
  account: { id: 1 },
  created_at: '2018-08-18T19:07:58Z',
  updated_at: '2018-08-18T19:07:58Z',
};
/** `GET /conversations/:id` (seed 003 "Get a specific conversation"). */
const seedDetail = {
  data: {
    id: 3,
    object: 'conversation',
    happened_at: '1981-10-29T00:00:00Z',
    messages: [
      {
        id: 4,
        object: 'message',
        content: 'lorem ipsum',
        written_at: '1998-02-02T00:00:00Z',
        written_by_me: true,
        account: { id: 1 },
        contact: johnDoe,
        conversation: { id: 3 },
        created_at: '2018-08-19T19:29:09Z',
        updated_at: '2018-08-19T19:29:09Z',
      },
    ],
    contact_field_type: emailType,
    account: { id: 1 },
    contact: johnDoe,
    created_at: '2018-08-19T19:15:03Z',
    updated_at: '2018-08-19T19:15:03Z',
  },
};
/** `POST /conversations/` response (seed 003 "Create a conversation"): no messages yet. */
const seedCreated = { data: { ...seedDetail.data, messages: [] } };

const listed = (): MonicaConversationDto => monicaConversationPage.parse(seedListPage).data[0] as MonicaConversationDto;
const detail = (): MonicaConversationDto => monicaConversationEnvelope.parse(seedDetail).data;
const d = (iso: string) => new Date(iso);

describe('Monica wire schemas', () => {
  it('decode the seed documented list page, detail and create responses', () => {
    const page = monicaConversationPage.parse(seedListPage);
    expect(page.meta).toMatchObject({ current_page: 1, last_page: 22, total: 317, per_page: 15 });
    expect(page.links?.next).toBe('https://app.monicahq.com/api/conversations?page=2');
    expect(detail().messages).toHaveLength(1);
    expect(monicaConversationEnvelope.parse(seedCreated).data.messages).toEqual([]);
  });

  it('rejects a conversation without its contact field type', () => {
    const { contact_field_type: _omit, ...rest } = seedDetail.data;
    expect(monicaConversationEnvelope.safeParse({ data: rest }).success).toBe(false);
  });
});

describe('mapConversation', () => {
  it('maps the seed list example field by field', () => {
    const c = mapConversation(S, listed());
    expect(c).toMatchObject({
      sourceId: S,
      nativeId: '1',
      subject: 'Twitter · 1977-06-09',
      status: 'OPEN',
      channel: 'Twitter',
      createdAt: d('2018-10-11T01:31:40Z'),
      updatedAt: d('2018-10-11T01:31:40Z'),
      // max(written_at): message 4, 1961-04-09T17:17:50Z, although it is fourth in the embedded list.
      lastMessageAt: d('1961-04-09T17:17:50Z'),
      unreadCount: null,
      muted: false,
      pinned: false,
      archived: false,
      labels: [],
      participants: null,
    });
    expect(c.lastMessage).toMatchObject({ nativeId: '1/4', content: M4, direction: 'OUTGOING' });
  });

  it('maps the seed detail example field by field', () => {
    const c = mapConversation(S, detail());
    expect(c).toMatchObject({
      nativeId: '3',
      subject: 'Email · 1981-10-29',
      status: 'OPEN',
      channel: 'Email',
      createdAt: d('2018-08-19T19:15:03Z'),
      updatedAt: d('2018-08-19T19:15:03Z'),
      lastMessageAt: d('1998-02-02T00:00:00Z'),
      unreadCount: null,
    });
    expect(c.lastMessage).toMatchObject({ nativeId: '3/4', content: 'lorem ipsum', direction: 'OUTGOING' });
  });

  it('falls back to happened_at for lastMessageAt when there are no messages (seed create response)', () => {
    const c = mapConversation(S, monicaConversationEnvelope.parse(seedCreated).data);
    expect(c.lastMessageAt).toEqual(d('1981-10-29T00:00:00Z'));
    expect(c.lastMessage).toBeNull();
  });

  it('maps the seed per-contact example, whose happened_at and written_at are midnight dates', () => {
    // seed 003 "List all the conversations of a contact": the same conversation with `…T00:00:00Z` dates.
    const conv = listed();
    conv.happened_at = '1977-06-09T00:00:00Z';
    const days = ['1953-04-02', '1944-07-10', '1943-12-31', '1961-04-09', '1949-11-29'];
    conv.messages = conv.messages.map((m, i) => ({ ...m, written_at: `${days[i]}T00:00:00Z` }));
    const c = mapConversation(S, conv);
    expect(c.subject).toBe('Twitter · 1977-06-09');
    expect(c.lastMessageAt).toEqual(d('1961-04-09T00:00:00Z'));
    expect(mapMessages(S, conv).map((m) => m.nativeId)).toEqual(['1/3', '1/2', '1/5', '1/1', '1/4']);
  });

  it('builds the subject from the medium and the date part of happened_at', () => {
    expect(subjectOf(listed())).toBe('Twitter · 1977-06-09');
  });
});

describe('mapMessage', () => {
  it('maps an incoming seed message with its embedded contact as sender', () => {
    const conv = listed();
    const m = mapMessage(S, conv, conv.messages[2]!);
    expect(m).toEqual({
      sourceId: S,
      nativeId: '1/3',
      conversationNativeId: '1',
      content: M3,
      sentAt: d('1943-12-31T14:17:43Z'),
      readAt: null,
      direction: 'INCOMING',
      private: false,
      sender: {
        sourceId: S,
        nativeId: '1',
        name: 'Soledad',
        email: null,
        phone: null,
        kind: 'CONTACT',
        avatarUrl: 'https://randomuser.me/api/portraits/women/37.jpg',
        avatarColor: '#ff9807',
      },
      senderRef: null,
      attachments: [],
    });
  });

  it('maps a message written by me as OUTGOING from the account user, resolved later', () => {
    const conv = listed();
    const m = mapMessage(S, conv, conv.messages[0]!);
    expect(m).toMatchObject({ nativeId: '1/1', content: M1, direction: 'OUTGOING', sender: null, senderRef: ME_ID });
    expect(m.sentAt).toEqual(d('1953-04-02T14:28:10Z'));
  });

  it('sorts the embedded DB-ordered messages by written_at', () => {
    expect(mapMessages(S, listed()).map((m) => m.nativeId)).toEqual(['1/3', '1/2', '1/5', '1/1', '1/4']);
  });

  it('breaks written_at ties by message id', () => {
    const conv = detail();
    const day = '2020-01-01T00:00:00Z';
    const base = conv.messages[0]!;
    conv.messages = [9, 7, 8].map((id) => ({ ...base, id, written_at: day }));
    expect(mapMessages(S, conv).map((m) => m.nativeId)).toEqual(['3/7', '3/8', '3/9']);
  });
});

describe('mapContact', () => {
  it('maps the seed contact without an avatar (has_avatar false) to its colour only', () => {
    expect(mapContact(S, detail().contact)).toEqual({
      sourceId: S,
      nativeId: '1',
      name: 'John Doe',
      email: null,
      phone: null,
      kind: 'CONTACT',
      avatarUrl: null,
      avatarColor: '#93521e',
    });
  });

  it('reads the 4.x avatar shape (information.avatar.url)', () => {
    const c = {
      ...johnDoe,
      information: { avatar: { url: 'https://x.test/a.jpg', source: 'photo', default_avatar_color: '#fdb660' } },
    };
    expect(mapContact(S, monicaContactEnvelope.parse({ data: c }).data)).toMatchObject({
      avatarUrl: 'https://x.test/a.jpg',
      avatarColor: '#fdb660',
    });
  });

  it('takes email and phone from contactFields by type, ignoring social fields', () => {
    const field = (id: number, content: string, type: string | null, name: string) => ({
      id,
      content,
      contact_field_type: { ...emailType, id: id + 10, name, type },
    });
    const c = {
      ...johnDoe,
      complete_name: null,
      contactFields: [
        field(1, '@jdoe', null, 'Twitter'),
        field(2, 'john@doe.test', 'email', 'Email'),
        field(3, '+1 555 0100', 'phone', 'Phone'),
      ],
    };
    expect(mapContact(S, monicaContactEnvelope.parse({ data: c }).data)).toMatchObject({
      name: 'John Doe',
      email: 'john@doe.test',
      phone: '+1 555 0100',
    });
  });
});

describe('mapMe', () => {
  it('maps GET /me to the AGENT participant "me"', () => {
    const u = monicaUserEnvelope.parse({
      data: {
        id: 1,
        object: 'user',
        first_name: 'Robin',
        last_name: 'Keller',
        email: 'robin@example.com',
        me_contact: null,
      },
    }).data;
    expect(mapMe(S, u)).toEqual({
      sourceId: S,
      nativeId: 'me',
      name: 'Robin Keller',
      email: 'robin@example.com',
      phone: null,
      kind: 'AGENT',
      avatarUrl: null,
      avatarColor: null,
    });
  });

  it('uses the avatar of the user own contact when there is one', () => {
    const u = monicaUserEnvelope.parse({ data: { id: 1, name: 'R K', email: null, me_contact: soledad } }).data;
    expect(mapMe(S, u)).toMatchObject({ name: 'R K', avatarUrl: 'https://randomuser.me/api/portraits/women/37.jpg' });
  });
});

describe('native ids and dates', () => {
  it('round-trips message ids and rejects what Monica cannot hold', () => {
    expect(messageNativeId(3, 4)).toBe('3/4');
    expect(parseMessageId('3/4')).toEqual({ conversationId: 3, messageId: 4 });
    expect(parseMessageId('3')).toBeNull();
    expect(parseMessageId('a/4')).toBeNull();
    expect(parseId('12')).toBe(12);
    expect(parseId('0')).toBeNull();
    expect(parseId('12abc')).toBeNull();
    expect(parseId('me')).toBeNull();
  });

  it('formats dates as Monica takes them and reads the date part of its timestamps', () => {
    expect(toMonicaDate(d('2024-02-29T23:59:59Z'))).toBe('2024-02-29');
    expect(datePart('1977-06-09T02:00:51Z')).toBe('1977-06-09');
  });

  it('writes date-times in Monica\'s own format, UTC to the second (docs/vendors/monica.md "Timestamps")', () => {
    expect(toMonicaTimestamp(d('2026-11-28T14:35:07.999Z'))).toBe('2026-11-28T14:35:07Z');
    expect(toMonicaTimestamp(new Date('2026-11-28T16:35:07+02:00'))).toBe('2026-11-28T14:35:07Z');
  });

  it('keeps the time of day of written_at and happened_at', () => {
    const empty = { ...detail(), happened_at: '2026-11-28T09:10:11Z', messages: [] };
    expect(mapConversation(S, empty).lastMessageAt).toEqual(d('2026-11-28T09:10:11Z'));
    const one = { ...detail(), messages: [{ ...detail().messages[0]!, written_at: '2026-11-28T14:35:07Z' }] };
    expect(mapMessages(S, one)[0]!.sentAt).toEqual(d('2026-11-28T14:35:07Z'));
    expect(mapConversation(S, one).lastMessageAt).toEqual(d('2026-11-28T14:35:07Z'));
  });
});

describe('mapMonicaError', () => {
  const res = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    body,
    headers: new Headers(headers),
    method: 'GET',
    path: '/conversations/9',
  });
  const err = (e: GatewayError | undefined) => ({ code: e?.code, ext: e?.extensions, message: e?.message });

  it('maps error_code 31 to NOT_FOUND naming the source', () => {
    const e = mapMonicaError(S, res(404, { error: { message: 'The resource has not been found.', error_code: 31 } }));
    expect(err(e)).toMatchObject({ code: ErrorCode.NOT_FOUND, ext: { source: S } });
  });

  it('maps a 422 validation error to SOURCE_REJECTED with the messages joined', () => {
    const e = mapMonicaError(
      S,
      res(422, {
        error: { message: ['The content field is required.', 'The written at is not a valid date.'], error_code: 32 },
      }),
    );
    expect(e?.code).toBe(ErrorCode.SOURCE_REJECTED);
    expect(e?.extensions.source).toBe(S);
    expect(e?.message).toContain('The content field is required.; The written at is not a valid date.');
  });

  it('maps 429 error_code 34 to SOURCE_RATE_LIMITED with Retry-After', () => {
    const e = mapMonicaError(
      S,
      res(
        429,
        { error: { message: 'Too many attempts, please slow down the request', error_code: 34 } },
        { 'retry-after': '17' },
      ),
    );
    expect(err(e)).toMatchObject({ code: ErrorCode.SOURCE_RATE_LIMITED, ext: { source: S, retryAfter: 17 } });
  });

  it('maps a bad sort (400, error_code 39) to SOURCE_REJECTED with the vendor message', () => {
    const e = mapMonicaError(S, res(400, { error: { message: 'The sorting criteria is invalid.', error_code: 39 } }));
    expect(e?.code).toBe(ErrorCode.SOURCE_REJECTED);
    expect(e?.message).toContain('The sorting criteria is invalid.');
  });

  it("leaves Laravel's 401 to the generic mapping", () => {
    expect(mapMonicaError(S, res(401, { message: 'Unauthenticated.' }))).toBeUndefined();
  });

  // docs/vendors/monica.md "Errors": DestroyConversation/UpdateConversation validate `exists:conversations,id` first.
  it('maps 422/32 "The selected conversation id is invalid." to NOT_FOUND, not SOURCE_REJECTED', () => {
    const e = mapMonicaError(S, {
      ...res(422, { error: { message: ['The selected conversation id is invalid.'], error_code: 32 } }),
      method: 'DELETE',
    });
    expect(err(e)).toMatchObject({ code: ErrorCode.NOT_FOUND, ext: { source: S } });
    expect(e?.message).toContain('no such conversation (DELETE /conversations/9)');
    const withOthers = mapMonicaError(
      S,
      res(422, {
        error: {
          message: ['The happened at is not a valid date.', 'The selected conversation id is invalid.'],
          error_code: 32,
        },
      }),
    );
    expect(withOthers?.code).toBe(ErrorCode.NOT_FOUND);
    expect(
      mapMonicaError(S, res(422, { error: { message: ['The selected contact id is invalid.'], error_code: 32 } }))
        ?.message,
    ).toContain('no such contact');
  });

  it('keeps other 422s SOURCE_REJECTED with the vendor messages', () => {
    const e = mapMonicaError(S, res(422, { error: { message: ['The selected foo is invalid.'], error_code: 32 } }));
    expect(err(e)).toMatchObject({
      code: ErrorCode.SOURCE_REJECTED,
      ext: { source: S, status: 422, vendorCode: 32, vendorMessages: ['The selected foo is invalid.'] },
    });
    expect(e?.extensions.reason).toBeUndefined();
  });

  it('maps the archived-contact refusal to SOURCE_REJECTED with reason CONTACT_ARCHIVED', () => {
    for (const text of [
      'Archived contact can’t be edited, please unarchive it first.',
      "Archived contact can't be edited, please unarchive it first.",
    ]) {
      const e = mapMonicaError(S, res(422, { error: { message: [text], error_code: 32 } }));
      expect(err(e)).toMatchObject({
        code: ErrorCode.SOURCE_REJECTED,
        ext: { source: S, status: 422, vendorCode: 32, reason: 'CONTACT_ARCHIVED' },
      });
      expect(e?.message).toMatch(/archived/);
      expect(e?.message).toMatch(/unarchive/);
    }
  });

  it('recognises only English texts (other locales are explained by the session)', () => {
    expect(classifyValidation(['Le champ conversation id sélectionné est invalide.'])).toBeNull();
    expect(classifyValidation(['The selected message id is invalid.'])).toEqual({
      reason: 'UNKNOWN_ID',
      what: 'message',
    });
  });
});
