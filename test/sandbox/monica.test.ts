import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN, startMonicaEmulator } from '../../src/sandbox/monica';

/** The Monica 4.x emulator over real HTTP (docs/vendors/monica.md). */

const AUTH = { authorization: `Bearer ${MONICA_SANDBOX_TOKEN}`, accept: 'application/json' };
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const MIDNIGHT = /^\d{4}-\d{2}-\d{2}T00:00:00Z$/;

interface Msg {
  id: number;
  object: string;
  content: string;
  written_at: string;
  written_by_me: boolean;
  contact: { id: number };
  conversation: { id: number };
}
interface Conv {
  id: number;
  object: string;
  happened_at: string;
  created_at: string;
  updated_at: string;
  account: { id: number };
  contact: { id: number; information: { avatar: Record<string, unknown> } };
  contact_field_type: { id: number; name: string; object: string };
  messages: Msg[];
}
interface Page<T> {
  data: T[];
  links: { first: string; last: string; prev: string | null; next: string | null };
  meta: {
    current_page: number;
    from: number | null;
    last_page: number;
    path: string;
    per_page: number;
    to: number | null;
    total: number;
  };
}
interface One<T> {
  data: T;
}
interface ErrorBody {
  error: { message: string | string[]; error_code: number };
}
type Deleted = { deleted: boolean; id: number };

interface Res<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = unknown>(
  h: EmulatorHandle,
  path: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<Res<T>> {
  const { json, headers, ...rest } = init;
  const res = await fetch(`${h.url}${path}`, {
    redirect: 'manual',
    ...rest,
    headers: {
      ...AUTH,
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(headers as Record<string, string>),
    },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

let emu: EmulatorHandle;
beforeAll(async () => {
  emu = await startMonicaEmulator({ rateLimitPerMinute: 1_000_000 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.controls.reset();
});

describe('auth', () => {
  it('answers 401 {"message":"Unauthenticated."} to a missing or wrong token when JSON is asked for', async () => {
    for (const authorization of ['', 'Bearer nope']) {
      const r = await call(emu, '/api/conversations', { headers: { authorization } });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ message: 'Unauthenticated.' });
    }
  });

  it('redirects to the login page when the client does not ask for JSON', async () => {
    const r = await call(emu, '/api/conversations', { headers: { authorization: '', accept: '*/*' } });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`${emu.url}/login`);
  });

  it('puts X-RateLimit headers on every authenticated answer; a refused token is answered before the throttle', async () => {
    const ok = await call(emu, '/api/me');
    expect(ok.headers.get('x-ratelimit-limit')).toBe('1000000');
    expect(Number(ok.headers.get('x-ratelimit-remaining'))).toBeLessThan(1_000_000);
    // app/Http/Kernel.php $middlewarePriority: Authenticate before ThrottleRequests.
    const denied = await call(emu, '/api/me', { headers: { authorization: 'Bearer x' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('envelopes and formats', () => {
  it('returns a conversation in {data} with Monica timestamps and every message in DB order', async () => {
    const r = await call<One<Conv>>(emu, '/api/conversations/1');
    expect(r.status).toBe(200);
    const c = r.body.data;
    expect(c).toMatchObject({ id: 1, object: 'conversation', account: { id: 1 } });
    expect(c.happened_at).toMatch(TIMESTAMP);
    expect(c.created_at).toMatch(TIMESTAMP);
    expect(c.updated_at).toMatch(TIMESTAMP);
    expect(c.contact_field_type).toMatchObject({ object: 'contactfieldtype', name: expect.any(String) });
    expect(c.messages.length).toBeGreaterThanOrEqual(1);
    const ids = c.messages.map((m: { id: number }) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const m of c.messages) {
      expect(m).toMatchObject({ object: 'message', conversation: { id: 1 }, contact: { id: c.contact.id } });
      expect(m.written_at).toMatch(TIMESTAMP);
      expect(typeof m.written_by_me).toBe('boolean');
    }
    // docs/vendors/monica.md: the 4.x ContactShort avatar shape.
    expect(Object.keys(c.contact.information.avatar).sort()).toEqual(['default_avatar_color', 'source', 'url']);
    expect(c.contact.information.avatar.default_avatar_color).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('seeds both kinds of conversation Monica holds: web-UI ones at midnight and API ones with times of day', async () => {
    const all = (await call<Page<Conv>>(emu, '/api/conversations?limit=100')).body.data;
    const web = all.filter((c) => MIDNIGHT.test(c.happened_at));
    const api = all.filter((c) => !MIDNIGHT.test(c.happened_at));
    expect(web.length).toBeGreaterThan(0);
    expect(api.length).toBeGreaterThan(0);
    // The web UI writes the conversation's day into every message (Contacts/ConversationsController::updateMessages).
    for (const c of web) for (const m of c.messages) expect(m.written_at).toBe(c.happened_at);
    expect(api.some((c) => c.messages.some((m) => !MIDNIGHT.test(m.written_at)))).toBe(true);
  });

  it('returns the account user from GET /me', async () => {
    const r = await call<One<{ object: string; first_name: string; last_name: string; email: string }>>(emu, '/api/me');
    expect(r.body.data).toMatchObject({
      object: 'user',
      first_name: 'Robin',
      last_name: 'Keller',
      email: 'robin@example.com',
    });
  });

  it('embeds contact fields only with ?with=contactfields', async () => {
    const plain = await call<One<{ contactFields?: unknown }>>(emu, '/api/contacts/1');
    expect(plain.body.data.contactFields).toBeUndefined();
    const full = await call<One<{ contactFields: Array<{ content: string; contact_field_type: { type: string } }> }>>(
      emu,
      '/api/contacts/1?with=contactfields',
    );
    const fields = full.body.data.contactFields as Array<{ content: string; contact_field_type: { type: string } }>;
    expect(fields.find((f) => f.contact_field_type.type === 'email')?.content).toMatch(/@example\.com$/);
  });

  it("lists the account's contact field types", async () => {
    const r = await call<Page<{ id: number; name: string }>>(emu, '/api/contactfieldtypes');
    const names = r.body.data.map((t: { name: string }) => t.name);
    // default_contact_field_types as Monica's migrations seed them (spelled `Whatsapp`).
    expect(names).toEqual(['Email', 'Phone', 'Facebook', 'Twitter', 'Whatsapp', 'Telegram', 'LinkedIn']);
    expect(r.body.data[0]).toMatchObject({ id: 1, name: 'Email', type: 'email', protocol: 'mailto:', delible: false });
  });
});

describe('pagination', () => {
  it('pages 15 at a time by default with Laravel links and meta', async () => {
    const r = await call<Page<Conv>>(emu, '/api/conversations');
    expect(r.body.data).toHaveLength(15);
    expect(r.body.links).toEqual({
      first: `${emu.url}/api/conversations?page=1`,
      last: `${emu.url}/api/conversations?page=2`,
      prev: null,
      next: `${emu.url}/api/conversations?page=2`,
    });
    expect(r.body.meta).toEqual({
      current_page: 1,
      from: 1,
      last_page: 2,
      path: `${emu.url}/api/conversations`,
      per_page: 15,
      to: 15,
      total: 20,
    });
  });

  it('honours limit and page, and ends with links.next null', async () => {
    const all = (await call<Page<Conv>>(emu, '/api/conversations?limit=100')).body.data.map((c) => c.id);
    const r = await call<Page<Conv>>(emu, '/api/conversations?limit=6&page=4');
    expect(r.body.data.map((c) => c.id)).toEqual(all.slice(18, 20));
    expect(r.body.meta).toMatchObject({ current_page: 4, from: 19, to: 20, last_page: 4, per_page: 6 });
    expect(r.body.links).toMatchObject({ prev: `${emu.url}/api/conversations?page=3`, next: null });
    const beyond = await call<Page<Conv>>(emu, '/api/conversations?limit=6&page=9');
    expect(beyond.body.data).toEqual([]);
    expect(beyond.body.meta).toMatchObject({ from: null, to: null });
  });

  it('accepts limit=100 and refuses limit=101 with 400 error_code 30', async () => {
    expect((await call<Page<Conv>>(emu, '/api/conversations?limit=100')).body.data).toHaveLength(20);
    const r = await call<ErrorBody>(emu, '/api/conversations?limit=101');
    expect(r.status).toBe(400);
    // config/api.php error_codes: no final period.
    expect(r.body).toEqual({ error: { message: 'The limit parameter is too big', error_code: 30 } });
  });
});

describe('sort', () => {
  const ids = (r: Res<Page<Conv>>) => r.body.data.map((c) => c.id);
  const times = (r: Res<Page<Conv>>, k: 'created_at' | 'updated_at') => r.body.data.map((c) => Date.parse(c[k]));

  it('sorts by created_at ascending by default, and by -created_at, updated_at and -updated_at', async () => {
    const asc = times(await call<Page<Conv>>(emu, '/api/conversations?limit=100'), 'created_at');
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    const desc = times(await call<Page<Conv>>(emu, '/api/conversations?limit=100&sort=-created_at'), 'created_at');
    expect(desc).toEqual([...desc].sort((a, b) => b - a));
    const upd = times(await call<Page<Conv>>(emu, '/api/conversations?limit=100&sort=-updated_at'), 'updated_at');
    expect(upd).toEqual([...upd].sort((a, b) => b - a));
    expect(ids(await call<Page<Conv>>(emu, '/api/conversations?limit=100&sort=updated_at'))).toHaveLength(20);
  });

  it('refuses any other sort with 400 error_code 39', async () => {
    const r = await call<ErrorBody>(emu, '/api/conversations?sort=happened_at');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { message: 'The sorting criteria is invalid', error_code: 39 } });
  });

  it('checks sort and limit on every API route, as ApiController does', async () => {
    expect((await call<ErrorBody>(emu, '/api/me?sort=name')).body.error.error_code).toBe(39);
    expect((await call<ErrorBody>(emu, '/api/contactfieldtypes?limit=101')).body.error.error_code).toBe(30);
    // A valid sort on a list that does not order by it is accepted (and ignored).
    expect((await call(emu, '/api/contactfieldtypes?sort=-created_at')).status).toBe(200);
  });
});

describe('contact conversations', () => {
  it("lists only one contact's conversations", async () => {
    const all = (await call<Page<Conv>>(emu, '/api/conversations?limit=100')).body.data;
    const contactId = all[0]!.contact.id;
    const r = await call<Page<Conv>>(emu, `/api/contacts/${contactId}/conversations?limit=100`);
    expect(r.body.data.map((c) => c.id)).toEqual(all.filter((c) => c.contact.id === contactId).map((c) => c.id));
    expect(r.body.meta.path).toBe(`${emu.url}/api/contacts/${contactId}/conversations`);
  });

  it('answers 404 error_code 31 for a contact outside the account', async () => {
    const r = await call<ErrorBody>(emu, '/api/contacts/9999/conversations');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { message: 'The resource has not been found', error_code: 31 } });
  });
});

describe('contact list (ApiContactController::index)', () => {
  interface ContactJson {
    id: number;
    object: string;
    is_active: boolean;
    created_at: string;
    contactFields?: Array<{ content: string; contact_field_type: { type: string | null } }>;
  }
  const all = async (query: string) => {
    const out: ContactJson[] = [];
    for (let page = 1; page < 100; page++) {
      const r = await call<Page<ContactJson>>(emu, `/api/contacts?${query}&page=${page}`);
      expect(r.status).toBe(200);
      out.push(...r.body.data);
      if (r.body.links.next === null) return { out, total: r.body.meta.total };
    }
    throw new Error('too many pages');
  };

  it('lists the active contacts oldest first with the paginator, contactFields only with with=contactfields', async () => {
    const { out, total } = await all('limit=2&with=contactfields');
    expect(out.length).toBe(total);
    expect(total).toBeGreaterThan(2);
    expect(new Set(out.map((c) => c.id)).size).toBe(total);
    const times = out.map((c) => Date.parse(c.created_at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(out.every((c) => c.object === 'contact' && Array.isArray(c.contactFields))).toBe(true);
    expect(out.some((c) => c.contactFields!.some((f) => f.contact_field_type.type === 'email'))).toBe(true);
    const plain = await call<Page<ContactJson>>(emu, '/api/contacts?limit=100');
    expect(plain.body.data.map((c) => c.id)).toEqual(out.map((c) => c.id));
    expect(plain.body.data.every((c) => c.contactFields === undefined)).toBe(true);
    expect(plain.body.meta.path).toBe(`${emu.url}/api/contacts`);
  });

  it('leaves archived contacts out, and refuses a limit above 100 with error_code 30', async () => {
    const before = (await all('limit=100')).out;
    const archivedId = before[1]!.id;
    await call(emu, `/__sandbox/contacts/${archivedId}/archive`, { method: 'POST', json: { archived: true } });
    const after = (await all('limit=100')).out;
    expect(after.map((c) => c.id)).toEqual(before.map((c) => c.id).filter((id) => id !== archivedId));
    const r = await call<ErrorBody>(emu, '/api/contacts?limit=101');
    expect(r.status).toBe(400);
    expect(r.body.error.error_code).toBe(30);
  });
});

describe('errors', () => {
  it('answers 404 error_code 31 for an unknown conversation or id on GET, and Laravel 404 for an unknown route', async () => {
    for (const path of ['/api/conversations/9999', '/api/conversations/abc']) {
      const r = await call<ErrorBody>(emu, path);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: { message: 'The resource has not been found', error_code: 31 } });
    }
    const route = await call(emu, '/api/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body).toEqual({ message: 'The route api/nothing-here could not be found.' });
  });

  it('answers 400 error_code 37 only to a body that decodes to null; other bad JSON reads as no input (422)', async () => {
    const nul = await call<ErrorBody>(emu, '/api/conversations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'null',
    });
    expect(nul.status).toBe(400);
    expect(nul.body).toEqual({ error: { message: 'Problems parsing JSON', error_code: 37 } });
    // ApiController: Safe\json_decode throws on a syntax error and the catch lets the request through.
    const broken = await call<ErrorBody>(emu, '/api/conversations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"happened_at":',
    });
    expect(broken.status).toBe(422);
    expect(broken.body.error).toEqual({
      message: [
        'The happened at field is required.',
        'The contact id field is required.',
        'The contact field type id field is required.',
      ],
      error_code: 32,
    });
  });

  it('answers 422 error_code 32 with an array of messages when validation fails', async () => {
    const r = await call<ErrorBody>(emu, '/api/conversations', { method: 'POST', json: { happened_at: 'not a date' } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({
      error: {
        message: [
          'The happened at is not a valid date.',
          'The contact id field is required.',
          'The contact field type id field is required.',
        ],
        error_code: 32,
      },
    });
  });

  it('requires contact_field_type_id on PUT /conversations/{id}, unlike the docs', async () => {
    const r = await call<ErrorBody>(emu, '/api/conversations/1', {
      method: 'PUT',
      json: { happened_at: '2019-10-29' },
    });
    expect(r.status).toBe(422);
    expect(r.body.error).toEqual({ message: ['The contact field type id field is required.'], error_code: 32 });
  });

  it('answers 422 "The selected … id is invalid." when creating for a contact or field type that does not exist', async () => {
    const r = await call<ErrorBody>(emu, '/api/conversations', {
      method: 'POST',
      json: { happened_at: '2020-01-01', contact_id: 9999, contact_field_type_id: 99 },
    });
    expect(r.status).toBe(422);
    expect(r.body.error).toEqual({
      message: ['The selected contact id is invalid.', 'The selected contact field type id is invalid.'],
      error_code: 32,
    });
  });
});

describe('unknown ids on writes (validation with exists: runs before findOrFail)', () => {
  const invalidConversation = { message: ['The selected conversation id is invalid.'], error_code: 32 };

  it('answers PUT and DELETE of an unknown conversation with 422 error_code 32, not 404', async () => {
    const put = await call<ErrorBody>(emu, '/api/conversations/9999', {
      method: 'PUT',
      json: { happened_at: '2020-01-01', contact_field_type_id: 1 },
    });
    expect(put.status).toBe(422);
    expect(put.body.error).toEqual(invalidConversation);
    const del = await call<ErrorBody>(emu, '/api/conversations/9999', { method: 'DELETE' });
    expect(del.status).toBe(422);
    expect(del.body.error).toEqual(invalidConversation);
  });

  it('answers a second DELETE of the same conversation with 422, and lists every failed rule of a PUT', async () => {
    expect((await call<Deleted>(emu, '/api/conversations/4', { method: 'DELETE' })).body).toEqual({
      deleted: true,
      id: 4,
    });
    const again = await call<ErrorBody>(emu, '/api/conversations/4', { method: 'DELETE' });
    expect(again.status).toBe(422);
    expect(again.body.error).toEqual(invalidConversation);
    const put = await call<ErrorBody>(emu, '/api/conversations/4', { method: 'PUT', json: { happened_at: 'no' } });
    expect(put.body.error.message).toEqual([
      'The happened at is not a valid date.',
      'The contact field type id field is required.',
      'The selected conversation id is invalid.',
    ]);
  });

  it('answers 404 for an unknown contact field type on PUT (only `integer` is validated; findOrFail comes last)', async () => {
    const r = await call<ErrorBody>(emu, '/api/conversations/1', {
      method: 'PUT',
      json: { happened_at: '2020-01-01', contact_field_type_id: 99 },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.error_code).toBe(31);
  });

  it('answers message routes with 404 error_code 31: their controller calls findOrFail before the service', async () => {
    const conv = (await call<One<Conv>>(emu, '/api/conversations/2')).body.data;
    const m = conv.messages[0]!.id;
    const body = { written_at: '2020-01-01', written_by_me: true, content: 'x' };
    const cases: Array<[string, string, unknown]> = [
      ['POST', '/api/conversations/9999/messages', body],
      ['PUT', `/api/conversations/9999/messages/${m}`, body],
      ['PUT', '/api/conversations/2/messages/99999', body],
      ['DELETE', '/api/conversations/2/messages/99999', undefined],
      ['DELETE', `/api/conversations/9999/messages/${m}`, undefined],
    ];
    for (const [method, path, json] of cases) {
      const r = await call<ErrorBody>(emu, path, { method, json });
      expect([method, path, r.status, r.body.error?.error_code]).toEqual([method, path, 404, 31]);
    }
  });

  it('answers a non-numeric id on an int-typed route with a 500 (PHP TypeError)', async () => {
    expect((await call(emu, '/api/conversations/abc', { method: 'DELETE' })).status).toBe(500);
    expect((await call(emu, '/api/contacts/abc')).status).toBe(500);
  });

  it("speaks the user's locale, and ?lang= overrides it (CheckLocale)", async () => {
    const fr = await startMonicaEmulator({ locale: 'fr', rateLimitPerMinute: 1000 });
    try {
      const r = await call<ErrorBody>(fr, '/api/conversations/9999', { method: 'DELETE' });
      expect(r.status).toBe(422);
      expect(r.body.error.message).toEqual(['Le champ conversation id sélectionné est invalide.']);
      const en = await call<ErrorBody>(fr, '/api/conversations/9999?lang=en', { method: 'DELETE' });
      expect(en.body.error.message).toEqual(['The selected conversation id is invalid.']);
    } finally {
      await fr.close();
    }
  });
});

describe('times of day (happened_at and written_at are datetime columns)', () => {
  it('keeps the time of day another client writes, to the second, on every write', async () => {
    const created = await call<One<Conv>>(emu, '/api/conversations', {
      method: 'POST',
      json: { happened_at: '2026-11-28T09:10:11Z', contact_id: 1, contact_field_type_id: 1 },
    });
    expect(created.body.data.happened_at).toBe('2026-11-28T09:10:11Z');
    const id = created.body.data.id;
    const added = await call<One<Conv>>(emu, `/api/conversations/${id}/messages`, {
      method: 'POST',
      json: { written_at: '2026-11-28T14:35:07Z', written_by_me: false, content: 'at 14:35:07' },
    });
    const m = added.body.data.messages[0]!;
    expect(m.written_at).toBe('2026-11-28T14:35:07Z');
    const put = await call<One<Conv>>(emu, `/api/conversations/${id}/messages/${m.id}`, {
      method: 'PUT',
      json: { written_at: '2026-11-28 16:00:01', written_by_me: false, content: 'moved' },
    });
    expect(put.body.data.messages[0]!.written_at).toBe('2026-11-28T16:00:01Z');
    const upd = await call<One<Conv>>(emu, `/api/conversations/${id}`, {
      method: 'PUT',
      json: { happened_at: '2026-11-27T23:59:59Z', contact_field_type_id: 1 },
    });
    expect(upd.body.data.happened_at).toBe('2026-11-27T23:59:59Z');
    expect((await call<One<Conv>>(emu, `/api/conversations/${id}`)).body.data).toMatchObject({
      happened_at: '2026-11-27T23:59:59Z',
      messages: [{ written_at: '2026-11-28T16:00:01Z', content: 'moved' }],
    });
  });

  it('reads YYYY-MM-DD as midnight and drops fractions of a second', async () => {
    const r = await call<One<Conv>>(emu, '/api/conversations/2/messages', {
      method: 'POST',
      json: { written_at: '2026-11-28', written_by_me: true, content: 'a day' },
    });
    expect(r.body.data.messages.at(-1)!.written_at).toBe('2026-11-28T00:00:00Z');
    const f = await call<One<Conv>>(emu, '/api/conversations/2/messages', {
      method: 'POST',
      json: { written_at: '2026-11-28T14:35:07.999Z', written_by_me: true, content: 'fractions' },
    });
    expect(f.body.data.messages.at(-1)!.written_at).toBe('2026-11-28T14:35:07Z');
  });

  it('records the raw body of each write in the request log', async () => {
    emu.clearRequests();
    await call(emu, '/api/conversations/2/messages', {
      method: 'POST',
      json: { written_at: '2026-11-28T14:35:07Z', written_by_me: true, content: 'logged' },
    });
    expect(JSON.parse(emu.requests()[0]!.body!)).toEqual({
      written_at: '2026-11-28T14:35:07Z',
      written_by_me: true,
      content: 'logged',
    });
  });
});

describe('archived contacts (Contact::throwInactive)', () => {
  const ARCHIVED = { message: ['Archived contact can’t be edited, please unarchive it first.'], error_code: 32 };
  const archive = (archived?: boolean) =>
    call<{ is_active: boolean }>(emu, '/__sandbox/contacts/' + contactId + '/archive', {
      method: 'POST',
      json: archived === undefined ? {} : { archived },
    });
  let contactId = 0;
  let conv: Conv;
  beforeEach(async () => {
    conv = (await call<One<Conv>>(emu, '/api/conversations/2')).body.data;
    contactId = conv.contact.id;
  });

  it('archives through the control API, shows is_active false, and refuses every write with 422/32', async () => {
    expect((await archive(true)).body).toEqual({ is_active: false });
    const read = await call<One<Conv & { contact: { is_active: boolean } }>>(emu, '/api/conversations/2');
    expect(read.status).toBe(200);
    expect(read.body.data.contact.is_active).toBe(false);
    const m = conv.messages[0]!.id;
    const msg = { written_at: '2026-11-28T14:35:07Z', written_by_me: true, content: 'x' };
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/api/conversations', { happened_at: '2026-11-28', contact_id: contactId, contact_field_type_id: 1 }],
      ['PUT', '/api/conversations/2', { happened_at: '2026-11-28', contact_field_type_id: 1 }],
      ['POST', '/api/conversations/2/messages', msg],
      ['PUT', `/api/conversations/2/messages/${m}`, msg],
      ['DELETE', `/api/conversations/2/messages/${m}`, undefined],
      ['DELETE', '/api/conversations/2', undefined],
    ];
    for (const [method, path, json] of writes) {
      const r = await call<ErrorBody>(emu, path, { method, json });
      expect([method, path, r.status, r.body.error]).toEqual([method, path, 422, ARCHIVED]);
    }
    expect((await call<One<Conv>>(emu, '/api/conversations/2')).body.data.messages).toEqual(
      conv.messages.map(() => expect.anything()),
    );
  });

  it('refuses simulated incoming messages for an archived contact, and never picks one at random', async () => {
    await archive(true);
    expect(emu.controls.simulateIncoming({ conversationId: '2', content: 'x' })).toEqual({
      error: 'Archived contact can’t be edited, please unarchive it first.',
    });
    for (let i = 0; i < 30; i++) {
      const r = emu.controls.simulateIncoming({}) as { data: { contact: { id: number } } };
      expect(r.data.contact.id).not.toBe(contactId);
    }
  });

  it('toggles like the web UI and accepts writes again once unarchived', async () => {
    expect((await archive()).body).toEqual({ is_active: false });
    expect((await archive()).body).toEqual({ is_active: true });
    const r = await call<One<Conv>>(emu, '/api/conversations/2/messages', {
      method: 'POST',
      json: { written_at: '2026-11-28T14:35:07Z', written_by_me: true, content: 'back' },
    });
    expect(r.status).toBe(200);
  });

  it('still answers unknown ids before the archive check', async () => {
    await archive(true);
    const r = await call<ErrorBody>(emu, '/api/conversations/9999', { method: 'DELETE' });
    expect(r.body.error.message).toEqual(['The selected conversation id is invalid.']);
  });
});

describe('dashboard edit (Contacts/ConversationsController::update)', () => {
  const edit = (id: number, json: unknown = {}) =>
    call<One<Conv>>(emu, `/__sandbox/conversations/${id}/dashboard-edit`, { method: 'POST', json });

  it('re-creates every message with a new id, at the midnight of the day, keeping contents and authors', async () => {
    const all = (await call<Page<Conv>>(emu, '/api/conversations?limit=100')).body.data;
    const before = all.find((c) => !MIDNIGHT.test(c.happened_at) && c.messages.length > 1)!;
    const r = await edit(before.id);
    expect(r.status).toBe(200);
    const after = r.body.data;
    const day = before.happened_at.slice(0, 10);
    expect(after.happened_at).toBe(`${day}T00:00:00Z`);
    expect(after.messages.map((m) => [m.content, m.written_by_me])).toEqual(
      before.messages.map((m) => [m.content, m.written_by_me]),
    );
    const oldIds = new Set(before.messages.map((m) => m.id));
    for (const m of after.messages) {
      expect(oldIds.has(m.id)).toBe(false);
      expect(m.written_at).toBe(`${day}T00:00:00Z`);
    }
    expect(Math.min(...after.messages.map((m) => m.id))).toBeGreaterThan(Math.max(...oldIds));
    // happened_at changed (its time of day is gone), so the conversation was saved.
    expect(after.updated_at).not.toBe(before.updated_at);
    expect(await call(emu, `/api/conversations/${before.id}`)).toMatchObject({ body: { data: after } });
    // The old ids are gone: Message::findOrFail answers 404.
    const old = before.messages[0]!.id;
    expect((await call(emu, `/api/conversations/${before.id}/messages/${old}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('takes the form (day, type, messages) and leaves updated_at alone when only messages changed', async () => {
    const r = await edit(3, {
      happenedOn: '2026-11-20',
      contactFieldTypeId: 4,
      messages: [{ content: 'one', writtenByMe: true }],
    });
    expect(r.body.data).toMatchObject({
      happened_at: '2026-11-20T00:00:00Z',
      contact_field_type: { id: 4 },
      messages: [{ content: 'one', written_by_me: true, written_at: '2026-11-20T00:00:00Z' }],
    });
    const again = await edit(3, { messages: [{ content: 'two', writtenByMe: false }] });
    expect(again.body.data.updated_at).toBe(r.body.data.updated_at);
    expect(again.body.data.messages).toMatchObject([{ content: 'two', written_by_me: false }]);
  });

  it('refuses an archived contact, as the edit page does', async () => {
    const conv = (await call<One<Conv>>(emu, '/api/conversations/3')).body.data;
    await call(emu, `/__sandbox/contacts/${conv.contact.id}/archive`, { method: 'POST', json: { archived: true } });
    expect((await edit(3)).status).toBe(422);
    const after = (await call<One<Conv>>(emu, '/api/conversations/3')).body.data;
    expect(after.messages.map((m) => [m.id, m.content, m.written_at])).toEqual(
      conv.messages.map((m) => [m.id, m.content, m.written_at]),
    );
  });
});

describe('writes', () => {
  it('creates a conversation with 201 and no messages', async () => {
    const r = await call<One<Conv>>(emu, '/api/conversations', {
      method: 'POST',
      json: { happened_at: '1981-10-29', contact_id: 1, contact_field_type_id: 1 },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({
      id: 21,
      happened_at: '1981-10-29T00:00:00Z',
      messages: [],
      contact: { id: 1 },
    });
    expect(r.body.data.contact_field_type).toMatchObject({ id: 1, name: 'Email' });
  });

  it('adds a message, answers with the whole conversation, ignores contact_id and leaves updated_at alone', async () => {
    const before = (await call<One<Conv>>(emu, '/api/conversations/2')).body.data;
    const r = await call<One<Conv>>(emu, '/api/conversations/2/messages', {
      method: 'POST',
      json: { contact_id: 999, written_at: '1998-02-02', written_by_me: true, content: 'this is a message' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ id: 2, object: 'conversation', updated_at: before.updated_at });
    const added = r.body.data.messages.at(-1);
    expect(r.body.data.messages).toHaveLength(before.messages.length + 1);
    expect(added).toMatchObject({
      content: 'this is a message',
      written_at: '1998-02-02T00:00:00Z',
      written_by_me: true,
      contact: { id: before.contact.id },
    });
  });

  it('updates and deletes a message under its conversation', async () => {
    const conv = (await call<One<Conv>>(emu, '/api/conversations/2')).body.data;
    const mid = conv.messages[0].id;
    const put = await call<One<Conv>>(emu, `/api/conversations/2/messages/${mid}`, {
      method: 'PUT',
      json: { written_at: '2020-05-05', written_by_me: '0', content: 'changed' },
    });
    expect(put.body.data.messages[0]).toMatchObject({
      id: mid,
      content: 'changed',
      written_at: '2020-05-05T00:00:00Z',
      written_by_me: false,
    });
    expect((await call(emu, `/api/conversations/3/messages/${mid}`, { method: 'DELETE' })).status).toBe(404);
    const del = await call<Deleted>(emu, `/api/conversations/2/messages/${mid}`, { method: 'DELETE' });
    expect(del.body).toEqual({ deleted: true, id: mid });
    expect((await call<One<Conv>>(emu, '/api/conversations/2')).body.data.messages).toHaveLength(
      conv.messages.length - 1,
    );
  });

  it('updates happened_at and the contact field type, and deletes a conversation', async () => {
    const put = await call<One<Conv>>(emu, '/api/conversations/5', {
      method: 'PUT',
      json: { happened_at: '2019-10-29', contact_field_type_id: 4 },
    });
    expect(put.body.data).toMatchObject({
      happened_at: '2019-10-29T00:00:00Z',
      contact_field_type: { id: 4, name: 'Twitter' },
    });
    expect((await call(emu, '/api/conversations/5', { method: 'DELETE' })).body).toEqual({ deleted: true, id: 5 });
    expect((await call(emu, '/api/conversations/5')).status).toBe(404);
  });
});

describe('rate limit', () => {
  it('returns 429 with error_code 34 after 60 requests a minute', async () => {
    const h = await startMonicaEmulator({});
    try {
      for (let i = 1; i <= 60; i++) {
        const r = await call(h, '/api/me');
        expect(r.status).toBe(200);
        expect(r.headers.get('x-ratelimit-limit')).toBe('60');
        expect(r.headers.get('x-ratelimit-remaining')).toBe(String(60 - i));
      }
      const r = await call<ErrorBody>(h, '/api/me');
      expect(r.status).toBe(429);
      expect(r.body).toEqual({ error: { message: 'Too many attempts, please slow down the request', error_code: 34 } });
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The limit is per token: another caller still gets through to authentication.
      expect((await call(h, '/api/me', { headers: { authorization: 'Bearer other' } })).status).toBe(401);
    } finally {
      await h.close();
    }
  });

  it('starts a fresh window on a sandbox reset', async () => {
    const h = await startMonicaEmulator({ rateLimitPerMinute: 2 });
    try {
      await call(h, '/api/me');
      await call(h, '/api/me');
      expect((await call(h, '/api/me')).status).toBe(429);
      h.controls.reset();
      expect((await call(h, '/api/me')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('demo data and controls', () => {
  const strip = (body: unknown, url: string) => JSON.stringify(body).split(url).join('');

  it('generates the same data for the same seed, and other data for another seed', async () => {
    const a = await startMonicaEmulator({ seed: 7, rateLimitPerMinute: 1000 });
    const b = await startMonicaEmulator({ seed: 7, rateLimitPerMinute: 1000 });
    const c = await startMonicaEmulator({ seed: 8, rateLimitPerMinute: 1000 });
    try {
      const get = async (h: EmulatorHandle) => strip((await call(h, '/api/conversations?limit=100')).body, h.url);
      expect(await get(a)).toBe(await get(b));
      expect(await get(a)).not.toBe(await get(c));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('scales to thousands of conversations with 1-8 messages each', async () => {
    const big = await startMonicaEmulator({ scale: 100, rateLimitPerMinute: 1000 });
    try {
      const first = await call<Page<Conv>>(big, '/api/conversations?limit=100');
      expect(first.body.meta).toMatchObject({ total: 2000, last_page: 20 });
      const last = await call<Page<Conv>>(big, '/api/conversations?limit=100&page=20');
      expect(last.body.data).toHaveLength(100);
      for (const c of [...first.body.data, ...last.body.data]) {
        expect(c.messages.length).toBeGreaterThanOrEqual(1);
        expect(c.messages.length).toBeLessThanOrEqual(8);
      }
    } finally {
      await big.close();
    }
  });

  it('simulates an incoming message written now, with its time of day, that leaves updated_at alone', async () => {
    const before = (await call<One<Conv>>(emu, '/api/conversations/3')).body.data;
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const r = await call<One<Msg>>(emu, '/__sandbox/simulate/incoming', {
      method: 'POST',
      json: { conversationId: '3', content: 'Hello!' },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ content: 'Hello!', written_by_me: false, conversation: { id: 3 } });
    // Logged by an API client with the time it arrived (docs/vendors/monica.md "Timestamps").
    expect(r.body.data.written_at).toMatch(TIMESTAMP);
    expect(Date.parse(r.body.data.written_at)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(r.body.data.written_at)).toBeGreaterThanOrEqual(t0);
    const after = (await call<One<Conv>>(emu, '/api/conversations/3')).body.data;
    expect(after.messages).toHaveLength(before.messages.length + 1);
    expect(after.updated_at).toBe(before.updated_at);
    const unknown = await call<{ error: string }>(emu, '/__sandbox/simulate/incoming', {
      method: 'POST',
      json: { conversationId: '999' },
    });
    expect(unknown.body).toEqual({ error: 'Conversation not found' });
  });

  it('has no read state: simulateRead is a no-op and unreadState is null', async () => {
    expect(
      (await call(emu, '/__sandbox/simulate/read', { method: 'POST', json: { conversationId: '1' } })).body,
    ).toBeNull();
    expect((await call(emu, '/__sandbox/unread')).body).toBeNull();
  });

  it('resets to the seeded data', async () => {
    const seeded = strip((await call(emu, '/api/conversations?limit=100')).body, emu.url);
    await call(emu, '/api/conversations/1', { method: 'DELETE' });
    await call(emu, '/__sandbox/simulate/incoming', { method: 'POST', json: {} });
    expect(strip((await call(emu, '/api/conversations?limit=100')).body, emu.url)).not.toBe(seeded);
    expect((await call(emu, '/__sandbox/reset', { method: 'POST' })).status).toBe(204);
    expect(strip((await call(emu, '/api/conversations?limit=100')).body, emu.url)).toBe(seeded);
  });
});
