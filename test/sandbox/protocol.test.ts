import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toForm, type FormValue } from '../../src/connectors/protocol/form';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { waitFor } from '../utils/wait';
import {
  PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE,
  PROTOCOL_SANDBOX_SELF_CONTACT_ID,
  PROTOCOL_SANDBOX_TOKEN,
  PROTOCOL_SANDBOX_WEBHOOK_SECRET,
  startProtocolEmulator,
} from '../../src/sandbox/protocol';

type Json = Record<string, unknown>;
interface List {
  has_more: boolean;
  data: Json[];
}
interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: { id: string; type: string; payload: Json };
}

const AUTH = { authorization: `Bearer ${PROTOCOL_SANDBOX_TOKEN}` };
const ID = /^[A-Za-z0-9]{16}$/;

/** A local receiver for the emulator's webhook deliveries. */
async function startReceiver(): Promise<{ url: string; deliveries: Delivery[]; close: () => Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ headers: req.headers, raw, body: JSON.parse(raw) as Delivery['body'] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/protocol`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('Protocol emulator', () => {
  let emu: EmulatorHandle;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let webhookSecret: string | undefined;

  const api = async (
    method: string,
    path: string,
    init: {
      json?: unknown;
      form?: string;
      data?: Record<string, FormValue>;
      headers?: Record<string, string>;
      body?: FormData;
    } = {},
    on: EmulatorHandle = emu,
  ) => {
    const headers: Record<string, string> = { ...AUTH, ...init.headers };
    let body: string | FormData | undefined;
    if (init.data !== undefined) {
      // Form-encoded with the reference's bracket conventions, as the connector sends it.
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = toForm(init.data).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = init.form;
    } else if (init.body) body = init.body;
    const res = await fetch(`${on.url}/v1${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Json & List };
  };
  const all = async (path: string) => {
    const out: Json[] = [];
    let after: string | undefined;
    for (;;) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await api('GET', `${path}${sep}limit=100${after ? `&starting_after=${after}` : ''}`);
      out.push(...r.body.data);
      if (!r.body.has_more) return out;
      after = String(r.body.data[r.body.data.length - 1]?.id);
    }
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    emu = await startProtocolEmulator({ port: 0, webhook: () => ({ url: receiver.url, secret: webhookSecret }) });
  });
  afterAll(async () => {
    await emu.close();
    await receiver.close();
  });
  beforeEach(() => {
    emu.controls.reset();
    receiver.deliveries.length = 0;
    webhookSecret = 'receiver-secret-123';
  });

  describe('auth', () => {
    it('answers 401 with an invalid_request body without a Bearer token', async () => {
      const res = await fetch(`${emu.url}/v1/conversations`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        type: 'invalid_request',
        message: expect.stringContaining('token'),
        documentation_url: 'https://protocol.chat/docs/errors/invalid_request',
      });
    });

    it('answers 401 for a wrong token', async () => {
      const res = await fetch(`${emu.url}/v1/conversations`, { headers: { authorization: 'Bearer nope' } });
      expect(res.status).toBe(401);
    });

    it('accepts HTTP Basic with the token as the username', async () => {
      const basic = Buffer.from(`${PROTOCOL_SANDBOX_TOKEN}:`).toString('base64');
      const res = await fetch(`${emu.url}/v1/conversations`, { headers: { authorization: `Basic ${basic}` } });
      expect(res.status).toBe(200);
    });
  });

  describe('lists and pagination', () => {
    it('wraps lists in {has_more, data} and serves 10 by default', async () => {
      const r = await api('GET', '/conversations');
      expect(r.status).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual(['data', 'has_more']);
      expect(r.body.data).toHaveLength(10);
      expect(r.body.has_more).toBe(true);
    });

    it('serves conversations in the contract shape: 16-char base62 ids, epoch-second timestamps', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      expect(Object.keys(c).sort()).toEqual(
        [
          'archived_at',
          'contact_id',
          'created_at',
          'group_id',
          'id',
          'is_muted',
          'is_pinned',
          'last_active_at',
          'last_opened_at',
          'pinned_message_id',
        ].sort(),
      );
      expect(c.id).toMatch(ID);
      expect(Number.isInteger(c.created_at)).toBe(true);
      expect(c.created_at as number).toBeLessThan(2_000_000_000);
    });

    it('orders every list newest first by created_at, then id', async () => {
      const convs = await all('/conversations');
      const keys = convs.map((c) => [c.created_at as number, c.id as string] as const);
      const sorted = [...keys].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1));
      expect(keys).toEqual(sorted);
    });

    it('serves every list oldest first when started with listOrder: "oldest_first" (the order is undocumented)', async () => {
      const other = await startProtocolEmulator({ port: 0, listOrder: 'oldest_first' });
      try {
        const get = async (q: string) => (await api('GET', `/conversations?${q}`, {}, other)).body;
        const p1 = await get('limit=5');
        const keys = p1.data.map((c) => c.created_at as number);
        expect(keys).toEqual([...keys].sort((a, b) => a - b));
        const p2 = await get(`limit=5&starting_after=${String(p1.data[4]?.id)}`);
        expect(p2.data[0]?.created_at as number).toBeGreaterThanOrEqual(keys[4] as number);
        const back = await get(`limit=5&ending_before=${String(p2.data[0]?.id)}`);
        expect(back.data.map((c) => c.id)).toEqual(p1.data.map((c) => c.id));
      } finally {
        await other.close();
      }
    });

    it('pages with starting_after and back with ending_before, has_more in the direction of travel', async () => {
      const everything = await all('/conversations');
      const p1 = await api('GET', '/conversations?limit=5');
      const p2 = await api('GET', `/conversations?limit=5&starting_after=${String(p1.body.data[4]?.id)}`);
      expect(p2.body.data.map((c) => c.id)).toEqual(everything.slice(5, 10).map((c) => c.id));
      const back = await api('GET', `/conversations?limit=5&ending_before=${String(p2.body.data[0]?.id)}`);
      expect(back.body.data.map((c) => c.id)).toEqual(everything.slice(0, 5).map((c) => c.id));
      expect(back.body.has_more).toBe(false);
      const last = everything[everything.length - 1] as Json;
      const end = await api('GET', `/conversations?limit=5&starting_after=${String(last.id)}`);
      expect(end.body).toEqual({ has_more: false, data: [] });
    });

    it('serves up to 100 and answers 400 invalid_request above that', async () => {
      expect((await api('GET', '/contacts?limit=100')).status).toBe(200);
      const r = await api('GET', '/conversations?limit=101');
      expect(r.status).toBe(400);
      expect(r.body.type).toBe('invalid_request');
      expect(r.body.message).toMatch(/limit/);
      expect((await api('GET', '/conversations?limit=0')).status).toBe(400);
    });

    it('answers 400 for a cursor that names no object', async () => {
      const r = await api('GET', '/conversations?starting_after=AAAAAAAAAAAAAAAA');
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/starting_after/);
    });

    it('filters conversations only when muted, archived or pinned is true', async () => {
      const everything = await all('/conversations');
      for (const [param, test] of [
        ['muted', (c: Json) => c.is_muted === true],
        ['archived', (c: Json) => c.archived_at !== null],
        ['pinned', (c: Json) => c.is_pinned === true],
      ] as const) {
        const only = await all(`/conversations?${param}=true`);
        expect(only.length).toBeGreaterThan(0);
        expect(only.map((c) => c.id)).toEqual(everything.filter(test).map((c) => c.id));
        expect((await all(`/conversations?${param}=false`)).length).toBe(everything.length);
      }
    });

    it('filters conversations by group_id', async () => {
      const group = (await api('GET', '/groups?limit=1')).body.data[0] as Json;
      const r = await all(`/conversations?group_id=${String(group.id)}`);
      expect(r.map((c) => c.id)).toEqual([group.conversation_id]);
    });

    it('lists one conversation’s messages with embedded contact and attachments', async () => {
      const withAttachment = (await all('/attachments')).find((a) => a.message_id) as Json;
      const message = (await api('GET', `/messages/${String(withAttachment.message_id)}`)).body;
      const list = await all(`/messages?conversation_id=${String(message.conversation_id)}`);
      expect(list.every((m) => m.conversation_id === message.conversation_id)).toBe(true);
      const listed = list.find((m) => m.id === message.id) as Json;
      expect((listed.contact as Json).username).toEqual(expect.any(String));
      expect((listed.attachments as Json[])[0]).toEqual(
        expect.objectContaining({
          id: withAttachment.id,
          file_type: expect.any(String),
          file_size: expect.any(Number),
        }),
      );
    });

    it('answers 404 for messages of an unknown conversation', async () => {
      const r = await api('GET', '/messages?conversation_id=AAAAAAAAAAAAAAAA');
      expect(r.status).toBe(404);
      expect(r.body.type).toBe('invalid_request');
    });
  });

  describe('demo data', () => {
    it('is deterministic: a reset gives the same conversations', async () => {
      const before = await all('/conversations');
      emu.controls.reset();
      expect(await all('/conversations')).toEqual(before);
    });

    it('has the self contact, groups of 2–5 contacts, pinned, muted, archived and unread conversations', async () => {
      const self = await api('GET', `/contacts/${PROTOCOL_SANDBOX_SELF_CONTACT_ID}`);
      expect(self.status).toBe(200);
      const groups = await all('/groups');
      expect(groups.length).toBeGreaterThan(0);
      for (const g of groups) expect((g.contacts as Json[]).length).toBeGreaterThanOrEqual(2);
      for (const g of groups) expect((g.contacts as Json[]).length).toBeLessThanOrEqual(5);
      const convs = await all('/conversations');
      expect(convs.length).toBe(20);
      expect(convs.some((c) => c.is_pinned)).toBe(true);
      expect(convs.some((c) => c.is_muted)).toBe(true);
      expect(convs.some((c) => c.archived_at !== null)).toBe(true);
      expect(emu.controls.unreadState()?.total).toBeGreaterThan(0);
    });

    it('scales to thousands of conversations', async () => {
      const big = await startProtocolEmulator({ port: 0, scale: 100, rateLimitPerMinute: 100_000 });
      try {
        const res = await fetch(`${big.url}/v1/conversations?limit=100`, { headers: AUTH });
        expect(res.status).toBe(200);
        let n = 0;
        let after: string | undefined;
        for (;;) {
          const r = (await (
            await fetch(`${big.url}/v1/conversations?limit=100${after ? `&starting_after=${after}` : ''}`, {
              headers: AUTH,
            })
          ).json()) as List;
          n += r.data.length;
          if (!r.has_more) break;
          after = String(r.data[r.data.length - 1]?.id);
        }
        expect(n).toBe(2000);
      } finally {
        await big.close();
      }
    });
  });

  describe('writes', () => {
    it('creates a conversation from form-encoded contact_id and returns the existing one the second time', async () => {
      const lonely = (await all('/contacts')).find(
        (c) => c.conversation_id === null && c.id !== PROTOCOL_SANDBOX_SELF_CONTACT_ID,
      ) as Json;
      const r = await api('POST', '/conversations', { form: `contact_id=${String(lonely.id)}` });
      expect(r.status).toBe(201);
      expect(r.body).toEqual(
        expect.objectContaining({ contact_id: lonely.id, group_id: null, last_active_at: null, last_opened_at: null }),
      );
      const again = await api('POST', '/conversations', { data: { contact_id: String(lonely.id) } });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(r.body.id);
      expect((await api('GET', `/contacts/${String(lonely.id)}`)).body.conversation_id).toBe(r.body.id);
    });

    it('answers 400 when neither or both of contact_id and group_id are given, 404 for an unknown contact', async () => {
      expect((await api('POST', '/conversations', { data: {} })).status).toBe(400);
      expect((await api('POST', '/conversations', { data: { contact_id: 'a', group_id: 'b' } })).status).toBe(400);
      expect((await api('POST', '/conversations', { data: { contact_id: 'AAAAAAAAAAAAAAAA' } })).status).toBe(404);
    });

    it('updates pin, mute and archived_at form-encoded, and un-archives with an empty archived_at', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const form = await api('PUT', `/conversations/${String(c.id)}`, {
        form: 'is_muted=true&is_pinned=true&archived_at=705103200',
      });
      expect(form.status).toBe(200);
      expect(form.body).toEqual(expect.objectContaining({ is_muted: true, is_pinned: true, archived_at: 705103200 }));
      // By default the literal "null" is not a timestamp (an assumption either way: docs/vendors/protocol.md).
      const literal = await api('PUT', `/conversations/${String(c.id)}`, { form: 'archived_at=null' });
      expect(literal.status).toBe(400);
      expect(literal.body.message).toMatch(/archived_at/);
      const cleared = await api('PUT', `/conversations/${String(c.id)}`, { form: 'archived_at=&is_muted=false' });
      expect(cleared.body).toEqual(expect.objectContaining({ is_muted: false, is_pinned: true, archived_at: null }));
    });

    it('clears with the literal null, and refuses the empty value, when started with clearWith: "null"', async () => {
      const other = await startProtocolEmulator({ port: 0, clearWith: 'null' });
      try {
        const c = (await api('GET', '/conversations?archived=true&limit=1', {}, other)).body.data[0] as Json;
        expect(c.archived_at).toEqual(expect.any(Number));
        const empty = await api('PUT', `/conversations/${String(c.id)}`, { form: 'archived_at=' }, other);
        expect(empty.status).toBe(400);
        const literal = await api('PUT', `/conversations/${String(c.id)}`, { form: 'archived_at=null' }, other);
        expect(literal.status).toBe(200);
        expect(literal.body.archived_at).toBeNull();
      } finally {
        await other.close();
      }
    });

    it('refuses JSON bodies with 415 invalid_request by default (no document shows one)', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const r = await api('PUT', `/conversations/${String(c.id)}`, { json: { is_muted: true } });
      expect(r.status).toBe(415);
      expect(r.body).toEqual(
        expect.objectContaining({ type: 'invalid_request', message: expect.stringMatching(/form-encoded/) }),
      );
      expect((await api('GET', `/conversations/${String(c.id)}`)).body.is_muted).toBe(c.is_muted);
    });

    it('takes JSON, null included, when started with acceptJson', async () => {
      const other = await startProtocolEmulator({ port: 0, acceptJson: true });
      try {
        const c = (await api('GET', '/conversations?archived=true&limit=1', {}, other)).body.data[0] as Json;
        const r = await api(
          'PUT',
          `/conversations/${String(c.id)}`,
          { json: { archived_at: null, is_muted: true } },
          other,
        );
        expect(r.status).toBe(200);
        expect(r.body).toEqual(expect.objectContaining({ archived_at: null, is_muted: true }));
        const broken = await fetch(`${other.url}/v1/messages`, {
          method: 'POST',
          headers: { ...AUTH, 'content-type': 'application/json' },
          body: '{"conv',
        });
        expect(broken.status).toBe(400);
        expect(((await broken.json()) as Json).type).toBe('invalid_request');
      } finally {
        await other.close();
      }
    });

    it('logs each write with its content type and raw form body', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      emu.clearRequests();
      await api('POST', '/messages', { data: { conversation_id: String(c.id), message: 'a b&c' } });
      const [entry] = emu.requests();
      expect(entry?.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      expect(entry?.body).toBe(`conversation_id=${String(c.id)}&message=a+b%26c`);
    });

    it('answers 400 for an unknown parameter or a malformed value, 404 for an unknown id', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const unknown = await api('PUT', `/conversations/${String(c.id)}`, { data: { pinned: true } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toMatch(/unknown parameter: pinned/);
      expect((await api('PUT', `/conversations/${String(c.id)}`, { form: 'is_muted=maybe' })).status).toBe(400);
      expect((await api('PUT', `/conversations/${String(c.id)}`, { data: { archived_at: 'yesterday' } })).status).toBe(
        400,
      );
      const missing = await api('PUT', '/conversations/AAAAAAAAAAAAAAAA', { data: { is_muted: true } });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({
        type: 'invalid_request',
        message: 'No such conversation: AAAAAAAAAAAAAAAA.',
        documentation_url: 'https://protocol.chat/docs/errors/invalid_request',
      });
    });

    it('sends a message as the self contact, with an uploaded attachment whose bytes are served at file_url', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const form = new FormData();
      form.append('file', new Blob([Buffer.from('hello protocol')], { type: 'text/plain' }), 'hello.txt');
      const up = await api('POST', '/attachments', { body: form });
      expect(up.status).toBe(201);
      expect(up.body).toEqual(
        expect.objectContaining({ message_id: null, filename: 'hello.txt', file_type: 'text/plain', file_size: 14 }),
      );
      const sent = await api('POST', '/messages', {
        data: { conversation_id: String(c.id), message: 'See attached', attachments: [String(up.body.id)] },
      });
      expect(sent.status).toBe(201);
      expect((sent.body.contact as Json).id).toBe(PROTOCOL_SANDBOX_SELF_CONTACT_ID);
      expect(sent.body.read_at).toBeNull();
      const att = (sent.body.attachments as Json[])[0] as Json;
      expect(att.message_id).toBe(sent.body.id);
      const file = await fetch(String(att.file_url));
      expect(await file.text()).toBe('hello protocol');
      expect(file.headers.get('content-type')).toMatch(/^text\/plain/);
      const conv = (await api('GET', `/conversations/${String(c.id)}`)).body;
      expect(conv.last_active_at).toBe(sent.body.created_at);
      // The newest message is first in the conversation's list.
      expect((await api('GET', `/messages?conversation_id=${String(c.id)}&limit=1`)).body.data[0]?.id).toBe(
        sent.body.id,
      );
    });

    it('sends a form-encoded message with attachments[] ids', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const form = new FormData();
      form.append('file', new Blob([Buffer.from('x')]), 'x.bin');
      const up = await api('POST', '/attachments', { body: form });
      const sent = await api('POST', '/messages', {
        form: `conversation_id=${String(c.id)}&message=hi&attachments[]=${String(up.body.id)}`,
      });
      expect(sent.status).toBe(201);
      expect((sent.body.attachments as Json[]).map((a) => a.id)).toEqual([up.body.id]);
    });

    it(`answers 413 invalid_request for a file above ${PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE} bytes`, async () => {
      const form = new FormData();
      form.append('file', new Blob([Buffer.alloc(PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE + 1)]), 'big.bin');
      const r = await api('POST', '/attachments', { body: form });
      expect(r.status).toBe(413);
      expect(r.body.type).toBe('invalid_request');
    });

    it('answers 400 for a message without text or attachments, or without conversation_id', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      expect((await api('POST', '/messages', { data: { conversation_id: String(c.id), message: '  ' } })).status).toBe(
        400,
      );
      expect((await api('POST', '/messages', { data: { message: 'hi' } })).status).toBe(400);
    });

    it('edits and deletes a message permanently', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const sent = await api('POST', '/messages', { data: { conversation_id: String(c.id), message: 'first' } });
      const edited = await api('PUT', `/messages/${String(sent.body.id)}`, { form: 'message=second' });
      expect(edited.body.message).toBe('second');
      expect(edited.body.updated_at).toEqual(expect.any(Number));
      expect((await api('DELETE', `/messages/${String(sent.body.id)}`)).status).toBe(204);
      expect((await api('GET', `/messages/${String(sent.body.id)}`)).status).toBe(404);
    });

    it('deletes a conversation with its messages', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      const before = await all(`/messages?conversation_id=${String(c.id)}`);
      expect((await api('DELETE', `/conversations/${String(c.id)}`)).status).toBe(204);
      expect((await api('GET', `/conversations/${String(c.id)}`)).status).toBe(404);
      for (const m of before) expect((await api('GET', `/messages/${String(m.id)}`)).status).toBe(404);
    });

    it('renames a group with PUT /v1/groups/:id', async () => {
      const g = (await api('GET', '/groups?limit=1')).body.data[0] as Json;
      const r = await api('PUT', `/groups/${String(g.id)}`, { data: { name: 'Renamed' } });
      expect(r.body.name).toBe('Renamed');
    });
  });

  /**
   * Each write example of the reference, sent as curl sends it: every `-d` piece verbatim (after the shell removed
   * its quotes), joined with `&`, as `application/x-www-form-urlencoded` (curl's manual, `-d`); `-G` puts the pieces
   * in the query string instead. Only the ids are the emulator's own, as the reference's do not exist here.
   */
  describe('the reference’s own curl examples', () => {
    const curl = async (method: string, path: string, pieces: string[], get = false) => {
      const data = pieces.join('&');
      const res = await fetch(`${emu.url}/v1${path}${get ? `?${data}` : ''}`, {
        method,
        headers: { ...AUTH, ...(get ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
        body: get ? undefined : data,
      });
      return { status: res.status, body: (await res.json()) as Json & List };
    };

    it('conversations page: create with contact_id, list with -G limit, update is_muted', async () => {
      const lonely = (await all('/contacts')).find(
        (c) => c.conversation_id === null && c.id !== PROTOCOL_SANDBOX_SELF_CONTACT_ID,
      ) as Json;
      // -d 'contact_id'="WAz8eIbvDR60rouK"
      const created = await curl('POST', '/conversations', [`contact_id=${String(lonely.id)}`]);
      expect(created.status).toBe(201);
      expect(created.body.contact_id).toBe(lonely.id);
      // curl -G ... -d limit=10
      const list = await curl('GET', '/conversations', ['limit=10'], true);
      expect(list.body.data).toHaveLength(10);
      // -X PUT ... -d 'is_muted'=true
      const muted = await curl('PUT', `/conversations/${String(created.body.id)}`, ['is_muted=true']);
      expect(muted.body).toEqual(expect.objectContaining({ id: created.body.id, is_muted: true }));
    });

    it('messages page: send with conversation_id and a raw message, react with reactions[red_angry_face][]', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      // -d conversation_id="xgQQXg3hrtjh7AvZ" -d message="You're what the French call 'les incompetents.'"
      const sent = await curl('POST', '/messages', [
        `conversation_id=${String(c.id)}`,
        "message=You're what the French call 'les incompetents.'",
      ]);
      expect(sent.status).toBe(201);
      expect(sent.body.message).toBe("You're what the French call 'les incompetents.'");
      // -X PUT ... -d reactions[red_angry_face][]="KateMcCallister"
      const reacted = await curl('PUT', `/messages/${String(sent.body.id)}`, [
        'reactions[red_angry_face][]=KateMcCallister',
      ]);
      expect(reacted.status).toBe(200);
      // The reference's response: "reactions": [{"red_angry_face": ["KateMcCallister"]}]
      expect(reacted.body.reactions).toEqual([{ red_angry_face: ['KateMcCallister'] }]);
      // curl -G ... -d conversation_id=xgQQXg3hrtjh7AvZ -d limit=10
      const list = await curl('GET', '/messages', [`conversation_id=${String(c.id)}`, 'limit=10'], true);
      expect(list.body.data[0]?.id).toBe(sent.body.id);
    });

    it('contacts and groups pages: create a contact, create and describe a group', async () => {
      // -d username="FrankMcCallister" -d phone_number="1-800-759-3000" -d avatar_url="https://assets.protocol.chat/avatars/frank.jpg"
      const frank = await curl('POST', '/contacts', [
        'username=FrankMcCallister',
        'phone_number=1-800-759-3000',
        'avatar_url=https://assets.protocol.chat/avatars/frank.jpg',
      ]);
      expect(frank.status).toBe(201);
      expect(frank.body).toEqual(
        expect.objectContaining({
          username: 'FrankMcCallister',
          phone_number: '1-800-759-3000',
          avatar_url: 'https://assets.protocol.chat/avatars/frank.jpg',
          display_name: null,
        }),
      );
      // -d name="Plaza Hotel"
      const group = await curl('POST', '/groups', ['name=Plaza Hotel']);
      expect(group.status).toBe(201);
      expect(group.body).toEqual(expect.objectContaining({ name: 'Plaza Hotel', description: null, contacts: [] }));
      // -X PUT ... -d description="The finest in New York."
      const described = await curl('PUT', `/groups/${String(group.body.id)}`, ['description=The finest in New York.']);
      expect(described.body.description).toBe('The finest in New York.');
    });

    it('attachments page: -F file=@… uploads, -F file="path" (a text field, as printed) is refused, rename with filename', async () => {
      // As printed, `-F file="../Invoice_room_service__Plaza_Hotel.pdf"` has no `@`, so curl sends the path as a
      // text field, not the file: the emulator refuses it (an assumption: docs/vendors/protocol.md).
      const text = new FormData();
      text.append('file', '../Invoice_room_service__Plaza_Hotel.pdf');
      const refused = await api('POST', '/attachments', { body: text });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(/file/);
      const upload = new FormData();
      upload.append(
        'file',
        new Blob([Buffer.from('%PDF-1.4')], { type: 'application/pdf' }),
        'Invoice_room_service__Plaza_Hotel.pdf',
      );
      const up = await api('POST', '/attachments', { body: upload });
      expect(up.status).toBe(201);
      expect(up.body).toEqual(
        expect.objectContaining({ filename: 'Invoice_room_service__Plaza_Hotel.pdf', file_type: 'application/pdf' }),
      );
      // -X PUT ... -d filename="Invoice_room_service__Plaza_Hotel_updated.pdf"
      const renamed = await curl('PUT', `/attachments/${String(up.body.id)}`, [
        'filename=Invoice_room_service__Plaza_Hotel_updated.pdf',
      ]);
      expect(renamed.body.filename).toBe('Invoice_room_service__Plaza_Hotel_updated.pdf');
    });
  });

  describe('rate limit', () => {
    it('answers 429 invalid_request with Retry-After after the configured requests a minute', async () => {
      const limited = await startProtocolEmulator({ port: 0, rateLimitPerMinute: 5 });
      try {
        const statuses: number[] = [];
        let last: Response | undefined;
        for (let i = 0; i < 6; i++) {
          last = await fetch(`${limited.url}/v1/contacts?limit=1`, { headers: AUTH });
          statuses.push(last.status);
          if (i < 5) await last.text();
        }
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
        const res = last as Response;
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await res.json()).toEqual(
          expect.objectContaining({ type: 'invalid_request', message: expect.stringMatching(/5 a minute/) }),
        );
        limited.controls.reset();
        expect((await fetch(`${limited.url}/v1/contacts?limit=1`, { headers: AUTH })).status).toBe(200);
      } finally {
        await limited.close();
      }
    });

    it('allows 1200 requests a minute by default', async () => {
      const statuses = new Set<number>();
      for (let i = 0; i < 40; i++) statuses.add((await api('GET', '/contacts?limit=1')).status);
      expect([...statuses]).toEqual([200]);
    });
  });

  describe('webhooks', () => {
    const verify = (d: Delivery, secret: string) =>
      d.headers['x-protocol-signature'] === createHmac('sha256', secret).update(d.raw).digest('hex');

    it('posts a signed conversation.updated with the full object when a conversation changes', async () => {
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      await api('PUT', `/conversations/${String(c.id)}`, { data: { is_muted: true } });
      const d = await waitFor(() => receiver.deliveries.find((x) => x.body.type === 'conversation.updated'));
      expect(verify(d, 'receiver-secret-123')).toBe(true);
      expect(d.body.id).toMatch(ID);
      expect(d.body.payload).toEqual(expect.objectContaining({ id: c.id, is_muted: true }));
    });

    it('signs with the sandbox secret when the receiver names none', async () => {
      webhookSecret = undefined;
      const c = (await api('GET', '/conversations?limit=1')).body.data[0] as Json;
      await api('POST', '/messages', { data: { conversation_id: String(c.id), message: 'hello' } });
      const d = await waitFor(() => receiver.deliveries.find((x) => x.body.type === 'message.created'));
      expect(verify(d, PROTOCOL_SANDBOX_WEBHOOK_SECRET)).toBe(true);
      expect(d.body.payload).toEqual(expect.objectContaining({ conversation_id: c.id, message: 'hello' }));
    });

    it('posts message.created for a simulated incoming message, which then counts as unread', async () => {
      const convs = await all('/conversations');
      const target = convs.find((c) => c.archived_at === null && c.contact_id) as Json;
      emu.controls.simulateRead({ conversationId: String(target.id) });
      const before = emu.controls.unreadState()?.total ?? 0;
      const m = emu.controls.simulateIncoming({ conversationId: String(target.id), content: 'ping' }) as Json;
      expect((m.contact as Json).id).toBe(target.contact_id);
      expect(emu.controls.unreadState()?.total).toBe(before + 1);
      const d = await waitFor(() => receiver.deliveries.find((x) => x.body.type === 'message.created'));
      expect(verify(d, 'receiver-secret-123')).toBe(true);
      expect(d.body.payload).toEqual(
        expect.objectContaining({ id: m.id, conversation_id: target.id, message: 'ping' }),
      );
    });

    it('simulateRead sets last_opened_at and read_at, clears the conversation’s unread and posts conversation.updated', async () => {
      const convs = await all('/conversations');
      const target = convs.find((c) => c.archived_at === null) as Json;
      emu.controls.simulateIncoming({ conversationId: String(target.id) });
      const withUnread = emu.controls.unreadState()?.conversationsWithUnread ?? 0;
      emu.controls.simulateRead({ conversationId: String(target.id) });
      expect(emu.controls.unreadState()?.conversationsWithUnread).toBe(withUnread - 1);
      const conv = (await api('GET', `/conversations/${String(target.id)}`)).body;
      expect(conv.last_opened_at).toEqual(expect.any(Number));
      const newest = (await api('GET', `/messages?conversation_id=${String(target.id)}&limit=1`)).body.data[0] as Json;
      expect(newest.read_at).toEqual(expect.any(Number));
      await waitFor(() =>
        receiver.deliveries.find((x) => x.body.type === 'conversation.updated' && x.body.payload.id === target.id),
      );
    });

    it('posts nothing for reads', async () => {
      await api('GET', '/conversations');
      await new Promise((r) => setTimeout(r, 50));
      expect(receiver.deliveries).toEqual([]);
    });
  });

  it('answers 404 invalid_request for an unknown path', async () => {
    const r = await api('GET', '/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.type).toBe('invalid_request');
  });
});
