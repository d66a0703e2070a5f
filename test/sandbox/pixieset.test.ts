import { PIXIESET_SANDBOX_CREDENTIALS, startPixiesetEmulator } from '../../src/sandbox/pixieset';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';

/** The Pixieset emulator against seed 000's documented shapes (docs/vendors/pixieset.md). */
let emu: EmulatorHandle;
const auth = { cookie: PIXIESET_SANDBOX_CREDENTIALS.sessionCookie };
const get = async (path: string, headers: Record<string, string> = auth) => {
  const res = await fetch(`${emu.url}/api/v1${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { data: never; meta: never } };
};
const ISO_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

beforeAll(async () => {
  emu = await startPixiesetEmulator({ scale: 2 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => emu.controls.reset());

describe('Pixieset emulator', () => {
  it('lists conversations with the seed envelope, ids, timestamps and meta pagination', async () => {
    const r = await get('/conversations/?page_size=25&message=true');
    expect(r.status).toBe(200);
    const { data, meta } = r.body as unknown as { data: Array<Record<string, unknown>>; meta: Record<string, number> };
    expect(meta).toEqual({ current_page: 1, per_page: 25, total: 40, last_page: 2 });
    expect(data).toHaveLength(25);
    const c = data[0]!;
    expect(Object.keys(c).sort()).toEqual(
      ['client_id', 'id', 'last_message_at', 'messages', 'participants', 'status', 'subject', 'unread_count'].sort(),
    );
    expect(c.id).toMatch(/^conv_[A-Z0-9]+$/);
    expect(c.client_id).toMatch(/^cl_[A-Z0-9]{32}$/);
    expect(c.last_message_at).toMatch(ISO_MICROS);
    const [m] = c.messages as Array<Record<string, unknown>>;
    expect(m!.id).toMatch(/^msg_/);
    expect(m!.sent_at).toMatch(ISO_MICROS);
    const page2 = await get('/conversations/?page_size=25&page=2');
    expect((page2.body.data as unknown[]).length).toBe(15);
    expect((page2.body.data as Array<Record<string, unknown>>)[0]!.messages).toBeUndefined();
  });

  it('filters by client_id and message_status', async () => {
    const all = (await get('/conversations/?page_size=100')).body.data as Array<{
      client_id: string;
      status: string;
      unread_count: number;
    }>;
    const client = all[0]!.client_id;
    const mine = (await get(`/conversations/?page_size=100&client_id=${client}`)).body.data as Array<{
      client_id: string;
    }>;
    expect(mine.length).toBe(all.filter((c) => c.client_id === client).length);
    expect(mine.every((c) => c.client_id === client)).toBe(true);
    // Seed 000 shows only `inbox`; that it selects the active conversations is an assumption (docs/vendors/pixieset.md).
    const inbox = (await get('/conversations/?page_size=100&message_status=inbox')).body.data as Array<{
      status: string;
    }>;
    expect(inbox.length).toBe(all.filter((c) => c.status === 'active').length);
  });

  it('refuses message_status values the seed does not show with 422 VALIDATION_ERROR', async () => {
    for (const value of ['archived', 'unread', '']) {
      const r = await get(`/conversations/?message_status=${value}`);
      expect([value, r.status, r.body.code]).toEqual([value, 422, 'VALIDATION_ERROR']);
    }
  });

  describe('list order (undocumented)', () => {
    type Row = { id: string; last_message_at: string };
    const ids = async () => ((await get('/conversations/?page_size=100')).body.data as Row[]).map((c) => c.id);
    const setOrder = (order: string) =>
      fetch(`${emu.url}/__sandbox/list-order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order }),
      });
    afterEach(async () => {
      await setOrder('inbox');
    });

    it('serves last_message_at desc by default, ties by id', async () => {
      const rows = (await get('/conversations/?page_size=100')).body.data as Row[];
      const sorted = [...rows].sort(
        (a, b) =>
          Date.parse(b.last_message_at) - Date.parse(a.last_message_at) ||
          new Intl.Collator('en', { numeric: true }).compare(a.id, b.id),
      );
      expect(rows.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
    });

    it('serves created_asc and a fixed shuffle when told to, the same on every request, across pages', async () => {
      const inbox = await ids();
      for (const order of ['created_asc', 'shuffled']) {
        expect((await setOrder(order)).status).toBe(200);
        const once = await ids();
        expect(once).not.toEqual(inbox);
        expect([...once].sort()).toEqual([...inbox].sort());
        expect(await ids()).toEqual(once);
        const paged = [
          ...((await get('/conversations/?page_size=15&page=1')).body.data as Row[]),
          ...((await get('/conversations/?page_size=15&page=2')).body.data as Row[]),
        ].map((r) => r.id);
        expect(paged).toEqual(once.slice(0, 30));
      }
      expect((await setOrder('sideways')).status).toBe(400);
    });

    it('serves another permutation on every request under random, the same sequence after a reset', async () => {
      expect((await setOrder('random')).status).toBe(200);
      const a = await ids();
      const b = await ids();
      expect(b).not.toEqual(a);
      expect([...b].sort()).toEqual([...a].sort());
      emu.controls.reset();
      expect(await ids()).toEqual(a);
    });

    it('takes the order as a start option', async () => {
      const other = await startPixiesetEmulator({ scale: 2, listOrder: 'created_asc' });
      try {
        const res = await fetch(`${other.url}/api/v1/conversations/?page_size=100`, { headers: auth });
        const rows = ((await res.json()) as { data: Row[] }).data;
        const details = await Promise.all(
          rows.slice(0, 5).map(async (r) => {
            const d = await fetch(`${other.url}/api/v1/conversations/${r.id}/`, { headers: auth });
            return Date.parse(((await d.json()) as { data: { created_at: string } }).data.created_at);
          }),
        );
        expect(details).toEqual([...details].sort((a, b) => a - b));
      } finally {
        await other.close();
      }
    });
  });

  it('returns the detail with created_at, participants with avatar_color, and every message', async () => {
    const [first] = (await get('/conversations/?page_size=1')).body.data as Array<{ id: string }>;
    const r = await get(`/conversations/${first!.id}/`);
    const d = r.body.data as Record<string, unknown>;
    expect(d.created_at).toMatch(ISO_MICROS);
    expect(d.updated_at).toMatch(ISO_MICROS);
    const ps = d.participants as Array<Record<string, unknown>>;
    expect(ps.find((p) => p.type === 'client')?.avatar_color).toEqual(expect.any(Number));
    expect(ps.find((p) => p.type === 'photographer')?.id).toBe('photographer_123');
    expect((d.messages as unknown[]).length).toBeGreaterThan(1);
    const bare = await get(`/conversations/${first!.id}/?messages=false`);
    expect((bare.body.data as Record<string, unknown>).messages).toBeUndefined();
  });

  it('counts unread messages across conversations', async () => {
    const r = await get('/conversations/unread/count');
    const u = r.body.data as { unread_count: number; conversations_with_unread: number };
    const all = (await get('/conversations/?page_size=100')).body.data as Array<{ unread_count: number }>;
    expect(u.unread_count).toBe(all.reduce((a, c) => a + c.unread_count, 0));
    expect(u.conversations_with_unread).toBe(all.filter((c) => c.unread_count > 0).length);
  });

  it('answers the documented error bodies: 401, 403 and 404', async () => {
    expect(await get('/conversations/', {})).toEqual({
      status: 401,
      body: { error: 'Unauthorized', message: 'Session expired or invalid' },
    });
    expect(await get('/conversations/conv_NOPE/')).toEqual({
      status: 404,
      body: { error: 'Conversation not found', code: 'CONVERSATION_NOT_FOUND' },
    });
    expect(await get('/conversations/conv_FOREIGN000001/')).toEqual({
      status: 403,
      body: { error: 'Access denied to conversation', code: 'ACCESS_DENIED' },
    });
  });

  it('requires X-CSRF-Token on writes', async () => {
    const res = await fetch(`${emu.url}/api/v1/conversation_messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ conversation_id: 'x', content: 'hi', attachment_ids: [] }),
    });
    expect(res.status).toBe(403);
  });

  it('refuses an upload URL above 10 MB with 413 FILE_TOO_LARGE and max_size', async () => {
    const r = await get(
      '/conversation_message_attachments/upload_url?filename=a.mov&content_type=video/quicktime&file_size=10485761',
    );
    expect(r).toEqual({
      status: 413,
      body: { error: 'File size exceeds maximum allowed', code: 'FILE_TOO_LARGE', max_size: 10485760 },
    });
  });

  it('checks the upload policy signature, the key and the size, then serves the stored file', async () => {
    const r = await get(
      '/conversation_message_attachments/upload_url?filename=photo.jpg&content_type=image/jpeg&file_size=5',
    );
    const d = r.body.data as {
      upload_url: string;
      attachment_id: string;
      method: string;
      upload_fields: Record<string, string>;
    };
    expect(d.method).toBe('POST');
    expect(d.attachment_id).toMatch(/^att_/);
    expect(Object.keys(d.upload_fields).sort()).toEqual(
      ['Content-Type', 'key', 'policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'].sort(),
    );
    const post = (fields: Record<string, string>, data: string) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('file', new Blob([data]), 'photo.jpg');
      return fetch(d.upload_url, { method: 'POST', body: form });
    };
    const forged = await post({ ...d.upload_fields, 'x-amz-signature': 'deadbeef' }, 'abcde');
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('SignatureDoesNotMatch');
    expect((await post({ ...d.upload_fields, key: 'attachments/att_OTHER' }, 'abcde')).status).toBe(403);
    const big = await post(d.upload_fields, 'abcdef');
    expect(big.status).toBe(400);
    expect(await big.text()).toContain('EntityTooLarge');
    expect((await post(d.upload_fields, 'abcde')).status).toBe(204);

    const [conv] = (await get('/conversations/?page_size=1')).body.data as Array<{ id: string }>;
    const sent = await fetch(`${emu.url}/api/v1/conversation_messages`, {
      method: 'POST',
      headers: { ...auth, 'x-csrf-token': PIXIESET_SANDBOX_CREDENTIALS.csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ conversation_id: conv!.id, content: 'photo', attachment_ids: [d.attachment_id] }),
    });
    expect(sent.status).toBe(201);
    const msg = (
      (await sent.json()) as {
        data: { sender_type: string; read_at: null; attachments: Array<{ url: string; file_size: number }> };
      }
    ).data;
    expect(msg.sender_type).toBe('photographer');
    expect(msg.read_at).toBeNull();
    expect(msg.attachments[0]!.file_size).toBe(5);
    const file = await fetch(msg.attachments[0]!.url);
    expect(await file.text()).toBe('abcde');
  });

  it('logs vendor requests and applies fault knobs through the control API', async () => {
    emu.clearRequests();
    await get('/conversations/unread/count');
    expect(emu.requests().map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/api/v1/conversations/unread/count', 200],
    ]);
    await fetch(`${emu.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimitRetryAfter: 3 }),
    });
    const limited = await fetch(`${emu.url}/api/v1/conversations/`, { headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    await fetch(`${emu.url}/__sandbox/reset`, { method: 'POST' });
    expect((await get('/conversations/unread/count')).status).toBe(200);
  });
});
