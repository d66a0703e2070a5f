import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import Ajv from 'ajv';
import {
  CHATWOOT_SANDBOX_ACCOUNT_ID,
  CHATWOOT_SANDBOX_AGENT_TOKEN,
  CHATWOOT_SANDBOX_INBOX_ID,
  CHATWOOT_SANDBOX_TOKEN,
  startChatwootEmulator,
} from '../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { waitFor } from '../utils/wait';

/** The Chatwoot emulator over real HTTP (docs/vendors/chatwoot.md), and its responses against Chatwoot's own OpenAPI spec. */

const A = `/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}`;

// ----- wire shapes the tests read ------------------------------------------------------------------------------
interface AttachmentJson {
  id: number;
  file_type: string;
  extension: string | null;
  data_url: string;
  file_size: number;
}
interface MessageJson {
  id: number;
  content: string | null;
  conversation_id: number;
  message_type: number;
  created_at: number;
  private: boolean;
  content_attributes: Record<string, unknown>;
  sender?: { id: number; type: string };
  attachments?: AttachmentJson[];
}
interface ConversationJson {
  id: number;
  meta: {
    sender: { id: number; name: string; blocked: boolean };
    channel: string;
    assignee?: { id: number };
    assignee_type?: string;
  };
  messages: Array<MessageJson & { updated_at: string }>;
  inbox_id: number;
  labels: string[];
  muted: boolean;
  status: string;
  snoozed_until: string | null;
  created_at: number;
  updated_at: number;
  timestamp: number;
  last_activity_at: number;
  agent_last_seen_at: number;
  unread_count: number;
  last_non_activity_message: MessageJson | null;
}
interface ListJson {
  data: {
    meta: { mine_count: number; assigned_count: number; unassigned_count: number; all_count: number };
    payload: ConversationJson[];
  };
}
interface MessagesJson {
  meta: { agent_last_seen_at: string | null; contact: { id: number } };
  payload: MessageJson[];
}
interface Res<T> {
  status: number;
  body: T;
  text: string;
  type: string;
}

async function call<T = unknown>(
  h: EmulatorHandle,
  method: string,
  path: string,
  opts: { json?: unknown; form?: FormData; token?: string | null } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? CHATWOOT_SANDBOX_TOKEN : opts.token;
  if (token !== null) headers.api_access_token = token;
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) body = opts.form;
  const res = await fetch(h.url + path, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, text, type, body: (type.includes('json') && text ? JSON.parse(text) : text) as T };
}
const get = <T>(h: EmulatorHandle, path: string, token?: string | null) => call<T>(h, 'GET', path, { token });
const post = <T>(h: EmulatorHandle, path: string, json: unknown = {}, token?: string) =>
  call<T>(h, 'POST', path, { json, token });

/**
 * `n` GETs of `path` with the admin token, pipelined on one keep-alive connection (HTTP/1.1 pipelining, which
 * Node's server answers in order): the statuses in the order sent. A test that makes thousands of requests pays
 * for the server's work only, not a client's per request (under `jest --detectOpenHandles` every async resource
 * a request makes costs a stack trace).
 */
function pipelined(h: EmulatorHandle, path: string, n: number): Promise<number[]> {
  const { hostname, port } = new URL(h.url);
  const head = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\napi_access_token: ${CHATWOOT_SANDBOX_TOKEN}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const statuses: number[] = [];
    let buf = Buffer.alloc(0);
    const socket = connect(Number(port), hostname, () => socket.end(head.repeat(n)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers = buf.subarray(0, end).toString('latin1');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(headers);
        const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
        if (!status || !length) {
          socket.destroy();
          reject(new Error(`not a response with a content-length: ${headers}`));
          return;
        }
        const size = end + 4 + Number(length[1]);
        if (buf.length < size) return;
        statuses.push(Number(status[1]));
        buf = buf.subarray(size);
        if (statuses.length === n) {
          socket.destroy();
          resolve(statuses);
          return;
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`the connection closed after ${statuses.length} of ${n} responses`)));
  });
}

async function allConversations(h: EmulatorHandle, query = 'status=all'): Promise<ConversationJson[]> {
  const out: ConversationJson[] = [];
  for (let page = 1; ; page++) {
    const r = await get<ListJson>(h, `${A}/conversations?${query}&page=${page}`);
    out.push(...r.body.data.payload);
    if (r.body.data.payload.length < 25) return out;
  }
}

/** Collects the webhooks the emulator posts. */
class WebhookSink {
  received: Array<{ headers: IncomingHttpHeaders; url: string; body: Record<string, unknown> }> = [];
  private server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({
        headers: req.headers,
        url: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.end('ok');
    });
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks/chatwoot?token=secret-token-123`;
  }
  async waitFor(pred: (b: Record<string, unknown>) => boolean, ms = 3000) {
    return waitFor(() => this.received.find((r) => pred(r.body)), { timeoutMs: ms, what: 'a matching webhook' }).catch(
      (e: Error) => {
        const events = this.received.map((r) => String(r.body.event)).join(', ');
        throw new Error(`${e.message}; received: ${events}`, { cause: e });
      },
    );
  }
  close() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('chatwoot emulator', () => {
  let h: EmulatorHandle;
  const sink = new WebhookSink();
  beforeAll(async () => {
    await sink.start();
    h = await startChatwootEmulator({ port: 0, webhook: () => ({ url: sink.url }) });
  });
  afterAll(async () => {
    await h.close();
    await sink.close();
  });
  beforeEach(() => {
    h.controls.reset();
    sink.received = [];
  });

  describe('auth and errors', () => {
    it('answers 401 "Invalid Access Token" without or with a wrong api_access_token', async () => {
      for (const token of [null, 'nope']) {
        const r = await get(h, `${A}/conversations`, token);
        expect(r.status).toBe(401);
        expect(r.body).toEqual({ error: 'Invalid Access Token' });
      }
    });

    it('answers 401 for an account the user is not in and 404 for an account that does not exist', async () => {
      expect((await get(h, '/api/v1/accounts/2/conversations')).body).toEqual({
        error: 'You are not authorized to access this account',
      });
      expect((await get(h, '/api/v1/accounts/2/conversations')).status).toBe(401);
      const missing = await get(h, '/api/v1/accounts/999/conversations');
      expect([missing.status, missing.body]).toEqual([404, { error: 'Resource could not be found' }]);
    });

    it('answers 404 {"error":"Resource could not be found"} for an unknown conversation', async () => {
      const r = await get(h, `${A}/conversations/99999`);
      expect([r.status, r.body]).toEqual([404, { error: 'Resource could not be found' }]);
    });

    it('answers a Pundit failure with 401 "You are not authorized to do this action" (not 403)', async () => {
      const all = await allConversations(h);
      const foreign = all.find((c) => c.inbox_id !== 1) as ConversationJson;
      const own = all.find((c) => c.inbox_id === 1) as ConversationJson;
      const r = await get(h, `${A}/conversations/${foreign.id}`, CHATWOOT_SANDBOX_AGENT_TOKEN);
      expect([r.status, r.body]).toEqual([401, { error: 'You are not authorized to do this action' }]);
      expect((await get(h, `${A}/conversations/${own.id}`, CHATWOOT_SANDBOX_AGENT_TOKEN)).status).toBe(200);
      // Deleting is for administrators.
      const del = await call(h, 'DELETE', `${A}/conversations/${own.id}`, { token: CHATWOOT_SANDBOX_AGENT_TOKEN });
      expect([del.status, del.body]).toEqual([401, { error: 'You are not authorized to do this action' }]);
      // The agent's list holds only the inboxes they are a member of.
      const agentList = await get<ListJson>(h, `${A}/conversations?status=all`, CHATWOOT_SANDBOX_AGENT_TOKEN);
      expect(agentList.body.data.payload.every((c) => c.inbox_id === 1)).toBe(true);
    });

    it('answers validation failures with 422 {message, attributes}', async () => {
      const r = await post(h, `${A}/conversations/1/messages`, { content: 'x'.repeat(150_001) });
      expect(r.status).toBe(422);
      expect(r.body).toEqual({
        message: 'Content is too long (maximum is 150000 characters)',
        attributes: ['content'],
      });
      const widget = (await allConversations(h)).find(
        (c) => c.inbox_id !== CHATWOOT_SANDBOX_INBOX_ID,
      ) as ConversationJson;
      const incoming = await post(h, `${A}/conversations/${widget.id}/messages`, {
        content: 'hi',
        message_type: 'incoming',
      });
      expect(incoming.status).toBe(422);
      expect(incoming.body).toMatchObject({ attributes: ['message_type'] });
    });
  });

  describe('conversation list', () => {
    it('wraps the list as {data:{meta:{counts}, payload}} with 25 a page and no next-page flag', async () => {
      const r = await get<ListJson>(h, `${A}/conversations?status=all`);
      expect(r.status).toBe(200);
      expect(Object.keys(r.body.data.meta).sort()).toEqual([
        'all_count',
        'assigned_count',
        'mine_count',
        'unassigned_count',
      ]);
      expect(r.body.data.meta.all_count).toBe(20);
      expect(r.body.data.meta.assigned_count + r.body.data.meta.unassigned_count).toBe(20);
      expect(r.body.data.payload).toHaveLength(20);
      expect(Object.keys(r.body.data)).toEqual(['meta', 'payload']);
    });

    it('pages by 25 at scale and counts all matches in all_count', async () => {
      const big = await startChatwootEmulator({ port: 0, scale: 3 });
      try {
        const p1 = await get<ListJson>(big, `${A}/conversations?status=all`);
        const p3 = await get<ListJson>(big, `${A}/conversations?status=all&page=3`);
        expect(p1.body.data.payload).toHaveLength(25);
        expect(p1.body.data.meta.all_count).toBe(60);
        expect(p3.body.data.payload).toHaveLength(10);
        const all = await allConversations(big);
        expect(new Set(all.map((c) => c.id)).size).toBe(60);
      } finally {
        await big.close();
      }
    });

    it('defaults to status=open and filters by one status or all', async () => {
      const all = await allConversations(h);
      const open = (await get<ListJson>(h, `${A}/conversations`)).body.data;
      expect(open.payload.every((c) => c.status === 'open')).toBe(true);
      expect(open.meta.all_count).toBe(all.filter((c) => c.status === 'open').length);
      for (const status of ['pending', 'snoozed', 'resolved']) {
        const r = (await get<ListJson>(h, `${A}/conversations?status=${status}`)).body.data;
        expect(r.payload.length).toBeGreaterThan(0);
        expect(r.payload.every((c) => c.status === status)).toBe(true);
      }
    });

    it.each([1, 10])('orders by last_activity_at desc, ties by display id asc (scale %i)', async (scale) => {
      const big = await startChatwootEmulator({ port: 0, scale });
      try {
        const all = await allConversations(big);
        for (let i = 1; i < all.length; i++) {
          const a = all[i - 1] as ConversationJson;
          const b = all[i] as ConversationJson;
          expect(
            a.last_activity_at > b.last_activity_at || (a.last_activity_at === b.last_activity_at && a.id < b.id),
          ).toBe(true);
        }
        // The demo data has ties on purpose (minute precision), so the tie-break is exercised.
        expect(all.some((c, i) => i > 0 && c.last_activity_at === all[i - 1]?.last_activity_at)).toBe(true);
      } finally {
        await big.close();
      }
    });

    it('filters labels[] by any match, and q by message content while skipping the status filter', async () => {
      const all = await allConversations(h);
      const r = (await get<ListJson>(h, `${A}/conversations?status=all&labels[]=billing&labels[]=vip`)).body.data;
      const expected = all.filter((c) => c.labels.includes('billing') || c.labels.includes('vip')).map((c) => c.id);
      expect(r.payload.map((c) => c.id)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(0);
      const q = (await get<ListJson>(h, `${A}/conversations?status=resolved&q=${encodeURIComponent('charged twice')}`))
        .body.data;
      expect(q.payload.length).toBeGreaterThan(0);
      expect(q.payload.some((c) => c.status !== 'resolved')).toBe(true);
    });

    it('filters by assignee_type and counts mine/assigned/unassigned before that filter', async () => {
      const all = (await get<ListJson>(h, `${A}/conversations?status=all`)).body.data;
      const unassigned = (await get<ListJson>(h, `${A}/conversations?status=all&assignee_type=unassigned`)).body.data;
      // A bot-assigned conversation has no assignee_id, so it counts as unassigned (docs/vendors/chatwoot.md "Bots").
      expect(
        unassigned.payload.every((c) => c.meta.assignee === undefined || c.meta.assignee_type === 'AgentBot'),
      ).toBe(true);
      expect(unassigned.payload).toHaveLength(all.meta.unassigned_count);
      expect(unassigned.meta).toEqual(all.meta);
      const mine = (await get<ListJson>(h, `${A}/conversations?status=all&assignee_type=me`)).body.data;
      expect(mine.payload.every((c) => c.meta.assignee?.id === 1)).toBe(true);
    });
  });

  describe('conversation payload', () => {
    it('uses epoch seconds (0 = never), a float updated_at, a raw snoozed_until and the last message only', async () => {
      const all = await allConversations(h);
      const c = all[0] as ConversationJson;
      expect(Number.isInteger(c.created_at)).toBe(true);
      expect(Number.isInteger(c.last_activity_at)).toBe(true);
      expect(c.timestamp).toBe(c.last_activity_at);
      expect(Number.isInteger(c.updated_at)).toBe(false);
      expect(all.some((x) => x.agent_last_seen_at === 0)).toBe(true);
      expect(all.every((x) => x.messages.length <= 1)).toBe(true);
      const snoozed = all.filter((x) => x.status === 'snoozed');
      expect(
        snoozed.some((x) => typeof x.snoozed_until === 'string' && !Number.isNaN(Date.parse(x.snoozed_until))),
      ).toBe(true);
      // push_event_data messages carry a raw updated_at and the int message_type.
      const withMsg = all.find((x) => x.messages.length === 1) as ConversationJson;
      expect(typeof withMsg.messages[0]?.updated_at).toBe('string');
      expect(typeof withMsg.messages[0]?.message_type).toBe('number');
    });

    it('caps unread_count at 10 and reads muted from the blocked contact', async () => {
      const all = await allConversations(h);
      expect(Math.max(...all.map((c) => c.unread_count))).toBe(10);
      const muted = all.filter((c) => c.muted);
      expect(muted.length).toBeGreaterThan(0);
      expect(muted.every((c) => c.meta.sender.blocked)).toBe(true);
      expect(all.filter((c) => !c.muted).every((c) => !c.meta.sender.blocked)).toBe(true);
    });

    it('holds every status, all three channels, private notes, activity messages and attachments', async () => {
      const all = await allConversations(h);
      expect(new Set(all.map((c) => c.status))).toEqual(new Set(['open', 'pending', 'snoozed', 'resolved']));
      expect(new Set(all.map((c) => c.meta.channel))).toEqual(
        new Set(['Channel::WebWidget', 'Channel::Email', 'Channel::Api']),
      );
      const messages: MessageJson[] = [];
      for (const c of all)
        messages.push(...(await get<MessagesJson>(h, `${A}/conversations/${c.id}/messages`)).body.payload);
      expect(messages.some((m) => m.private)).toBe(true);
      expect(messages.some((m) => m.message_type === 2)).toBe(true);
      expect(messages.some((m) => (m.attachments?.length ?? 0) > 0)).toBe(true);
      expect(messages.some((m) => m.sender?.type === 'agent_bot')).toBe(true);
    });

    it('is deterministic for a seed and differs between seeds', async () => {
      const again = await startChatwootEmulator({ port: 0 });
      const other = await startChatwootEmulator({ port: 0, seed: 2 });
      try {
        const strip = (list: ConversationJson[]) =>
          list.map((c) => [c.id, c.status, c.labels, c.last_activity_at, c.meta.sender.name]);
        expect(strip(await allConversations(again))).toEqual(strip(await allConversations(h)));
        expect(strip(await allConversations(other))).not.toEqual(strip(await allConversations(h)));
      } finally {
        await again.close();
        await other.close();
      }
    });

    it('scales to thousands of conversations', async () => {
      const big = await startChatwootEmulator({ port: 0, scale: 100 });
      try {
        const r = await get<ListJson>(big, `${A}/conversations?status=all&page=80`);
        expect(r.body.data.meta.all_count).toBe(2000);
        expect(r.body.data.payload).toHaveLength(25);
      } finally {
        await big.close();
      }
    });
  });

  describe('messages', () => {
    /** The conversation that has more than 20 messages after a few sends. */
    async function longConversation(n: number) {
      for (let i = 0; i < n; i++) await post(h, `${A}/conversations/1/messages`, { content: `reply ${i}` });
      return (await get<ConversationJson>(h, `${A}/conversations/1`)).body;
    }

    it('returns the latest 20 ascending, 20 older with before, up to 100 newer with after, and between ids inclusive of after', async () => {
      await longConversation(30);
      const latest = (await get<MessagesJson>(h, `${A}/conversations/1/messages`)).body.payload;
      expect(latest).toHaveLength(20);
      expect(latest.map((m) => m.id)).toEqual([...latest.map((m) => m.id)].sort((a, b) => a - b));
      const older = (await get<MessagesJson>(h, `${A}/conversations/1/messages?before=${latest[0]?.id}`)).body.payload;
      expect(older.length).toBeGreaterThan(0);
      expect(older.length).toBeLessThanOrEqual(20);
      expect(older.every((m) => m.id < (latest[0]?.id ?? 0))).toBe(true);
      const first = older[0] as MessageJson;
      const after = (await get<MessagesJson>(h, `${A}/conversations/1/messages?after=${first.id}`)).body.payload;
      expect(after[0]?.id).toBeGreaterThan(first.id);
      expect(after.length).toBe(older.length - 1 + latest.length);
      const between = (
        await get<MessagesJson>(h, `${A}/conversations/1/messages?after=${first.id}&before=${first.id + 1}`)
      ).body.payload;
      expect(between.map((m) => m.id)).toEqual([first.id]);
    });

    it('omits the attachments key on messages without attachments', async () => {
      const r = await get<MessagesJson>(h, `${A}/conversations/1/messages`);
      const plain = r.body.payload.find((m) => !('attachments' in m));
      expect(plain).toBeDefined();
      expect(r.body.payload.every((m) => !('attachments' in m) || (m.attachments?.length ?? 0) > 0)).toBe(true);
    });

    it('sends a message as JSON (outgoing by default) and a private note', async () => {
      const r = await post<MessageJson>(h, `${A}/conversations/1/messages`, { content: 'Hello from the API' });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        content: 'Hello from the API',
        message_type: 1,
        private: false,
        conversation_id: 1,
        sender: { id: 1, type: 'user' },
      });
      expect(Number.isInteger(r.body.created_at)).toBe(true);
      const note = await post<MessageJson>(h, `${A}/conversations/1/messages`, { content: 'internal', private: true });
      expect(note.body.private).toBe(true);
    });

    it('takes multipart attachments[] and serves their bytes at data_url', async () => {
      const form = new FormData();
      form.append('content', 'see attached');
      form.append('attachments[]', new Blob([Buffer.from('hello file')], { type: 'text/plain' }), 'notes.txt');
      form.append('attachments[]', new Blob([Buffer.from([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }), 'pic.png');
      const r = await call<MessageJson>(h, 'POST', `${A}/conversations/1/messages`, { form });
      expect(r.status).toBe(200);
      const atts = r.body.attachments ?? [];
      expect(atts.map((a) => [a.file_type, a.extension, a.file_size])).toEqual([
        ['file', null, 10],
        ['image', 'png', 4],
      ]);
      expect(atts[0]?.data_url.endsWith('/notes.txt')).toBe(true);
      const bytes = await fetch(atts[0]?.data_url ?? '');
      expect(bytes.headers.get('content-type')).toContain('text/plain');
      expect(await bytes.text()).toBe('hello file');
    });

    it('refuses more than 15 attachments and types outside the allow-list with 422', async () => {
      const form = new FormData();
      for (let i = 0; i < 16; i++) form.append('attachments[]', new Blob(['x'], { type: 'text/plain' }), `f${i}.txt`);
      const many = await call(h, 'POST', `${A}/conversations/1/messages`, { form });
      expect([many.status, many.body]).toEqual([
        422,
        { message: 'Attachments exceeded maximum allowed', attributes: ['attachments'] },
      ]);
      const exe = new FormData();
      exe.append('attachments[]', new Blob(['MZ'], { type: 'application/x-msdownload' }), 'setup.exe');
      expect((await call(h, 'POST', `${A}/conversations/1/messages`, { form: exe })).status).toBe(422);
    });

    it('soft-deletes a message: the content becomes the deleted text and content_attributes.deleted is true', async () => {
      const m = (await post<MessageJson>(h, `${A}/conversations/1/messages`, { content: 'oops' })).body;
      const r = await call<MessageJson>(h, 'DELETE', `${A}/conversations/1/messages/${m.id}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        id: m.id,
        content: 'This message was deleted',
        content_attributes: { deleted: true },
      });
      const list = (await get<MessagesJson>(h, `${A}/conversations/1/messages`)).body.payload;
      expect(list.find((x) => x.id === m.id)?.content).toBe('This message was deleted');
      expect((await call(h, 'DELETE', `${A}/conversations/1/messages/999999`)).status).toBe(404);
    });

    it('accepts incoming messages in the API inbox only', async () => {
      const api = (await allConversations(h)).find((c) => c.inbox_id === CHATWOOT_SANDBOX_INBOX_ID) as ConversationJson;
      const r = await post<MessageJson>(h, `${A}/conversations/${api.id}/messages`, {
        content: 'from the app',
        message_type: 'incoming',
      });
      expect(r.status).toBe(200);
      expect(r.body.message_type).toBe(0);
    });
  });

  describe('conversation writes', () => {
    it('creates a conversation from inbox_id + contact_id (building the contact_inbox) with a first message', async () => {
      const r = await post<ConversationJson>(h, `${A}/conversations`, {
        inbox_id: CHATWOOT_SANDBOX_INBOX_ID,
        contact_id: 2,
        message: { content: 'Welcome aboard' },
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        id: 21,
        inbox_id: CHATWOOT_SANDBOX_INBOX_ID,
        status: 'open',
        meta: { sender: { id: 2 } },
      });
      expect(r.body.last_non_activity_message?.content).toBe('Welcome aboard');
      expect((await post(h, `${A}/conversations`, { inbox_id: 999, contact_id: 2 })).status).toBe(404);
      expect((await post(h, `${A}/conversations`, { source_id: 'no-such-source' })).status).toBe(404);
    });

    it('sets any status with toggle_status (snoozed with snoozed_until) and toggles open/resolved without one', async () => {
      const until = Math.floor(Date.now() / 1000) + 3600;
      const r = await post<{ meta: object; payload: Record<string, unknown> }>(
        h,
        `${A}/conversations/1/toggle_status`,
        {
          status: 'snoozed',
          snoozed_until: until,
        },
      );
      expect(r.body).toEqual({
        meta: {},
        payload: {
          success: true,
          conversation_id: 1,
          current_status: 'snoozed',
          snoozed_until: new Date(until * 1000).toISOString(),
        },
      });
      const c = (await get<ConversationJson>(h, `${A}/conversations/1`)).body;
      expect(c.status).toBe('snoozed');
      // Leaving snoozed clears snoozed_until.
      await post(h, `${A}/conversations/1/toggle_status`, { status: 'open' });
      expect((await get<ConversationJson>(h, `${A}/conversations/1`)).body.snoozed_until).toBeNull();
      const toggled = await post<{ payload: { current_status: string } }>(h, `${A}/conversations/1/toggle_status`, {});
      expect(toggled.body.payload.current_status).toBe('resolved');
    });

    it('replaces the label list on POST labels', async () => {
      const r = await post<{ payload: string[] }>(h, `${A}/conversations/1/labels`, { labels: ['bug', 'vip'] });
      expect(r.body).toEqual({ payload: ['bug', 'vip'] });
      await post(h, `${A}/conversations/1/labels`, { labels: ['feedback'] });
      expect((await get<{ payload: string[] }>(h, `${A}/conversations/1/labels`)).body).toEqual({
        payload: ['feedback'],
      });
    });

    it('mutes by resolving the conversation and blocking the contact; unmute unblocks', async () => {
      const open = (await get<ListJson>(h, `${A}/conversations?status=open`)).body.data.payload.find(
        (c) => !c.muted,
      ) as ConversationJson;
      const r = await call(h, 'POST', `${A}/conversations/${open.id}/mute`);
      expect([r.status, r.text]).toEqual([200, '']);
      const muted = (await get<ConversationJson>(h, `${A}/conversations/${open.id}`)).body;
      expect(muted).toMatchObject({ status: 'resolved', muted: true, meta: { sender: { blocked: true } } });
      await call(h, 'POST', `${A}/conversations/${open.id}/unmute`);
      expect((await get<ConversationJson>(h, `${A}/conversations/${open.id}`)).body.muted).toBe(false);
    });

    it('marks read (update_last_seen) and unread (1 s before the last incoming message)', async () => {
      const unread = (await allConversations(h)).find((c) => c.unread_count > 0) as ConversationJson;
      const read = await post<ConversationJson>(h, `${A}/conversations/${unread.id}/update_last_seen`);
      expect(read.body.unread_count).toBe(0);
      expect(read.body.agent_last_seen_at).toBeGreaterThan(0);
      const again = await post<ConversationJson>(h, `${A}/conversations/${unread.id}/unread`);
      expect(again.body.unread_count).toBe(1);
    });

    it('deletes a conversation (administrators only)', async () => {
      expect((await call(h, 'DELETE', `${A}/conversations/3`)).status).toBe(200);
      expect((await get(h, `${A}/conversations/3`)).status).toBe(404);
    });
  });

  describe('contacts, agents and bots', () => {
    it('shows a contact as {payload} with its contact_inboxes, lists agents and shows an agent bot', async () => {
      const c = await get<{ payload: { id: number; contact_inboxes: unknown[] } }>(h, `${A}/contacts/1`);
      expect(c.body.payload.id).toBe(1);
      expect(Array.isArray(c.body.payload.contact_inboxes)).toBe(true);
      expect((await get(h, `${A}/contacts/9999`)).status).toBe(404);
      const agents = await get<Array<{ id: number; available_name: string; role: string }>>(h, `${A}/agents`);
      expect(agents.body.map((a) => a.id)).toEqual([1, 2, 3, 4]);
      const bot = await get<{ id: number; name: string }>(h, `${A}/agent_bots/1`);
      expect(bot.body).toMatchObject({ id: 1, name: 'Captain' });
    });
  });

  describe('contact list (contacts_controller.rb index)', () => {
    interface ContactRow {
      id: number;
      email: string | null;
      phone_number: string | null;
      identifier: string | null;
      created_at: number;
      contact_inboxes?: unknown[];
    }
    type ContactList = { meta: { count: number; current_page: number | string }; payload: ContactRow[] };
    // Scale 3: more contacts than a page.
    let h: EmulatorHandle;
    beforeAll(async () => {
      h = await startChatwootEmulator({ port: 0, scale: 3 });
    });
    afterAll(() => h.close());
    const allRows = async (query: string) => {
      const out: ContactRow[] = [];
      for (let page = 1; page < 50; page++) {
        const r = await get<ContactList>(h, `${A}/contacts?${query}&page=${page}`);
        expect(r.status).toBe(200);
        expect(r.body.payload.length).toBeLessThanOrEqual(15);
        if (r.body.payload.length === 0) return { out, count: r.body.meta.count };
        out.push(...r.body.payload);
      }
      throw new Error('too many pages');
    };

    it('lists the resolved contacts only (an email, a phone or an identifier), 15 a page, meta.count the total', async () => {
      const first = await get<ContactList>(h, `${A}/contacts`);
      expect(first.body.meta.current_page).toBe(1);
      expect(first.body.meta.count).toBeGreaterThan(30);
      expect(first.body.payload).toHaveLength(15);
      // With contact_inboxes unless include_contact_inboxes is not "true".
      expect(first.body.payload.every((c) => Array.isArray(c.contact_inboxes))).toBe(true);
      const { out, count } = await allRows('include_contact_inboxes=false');
      expect(out.every((c) => c.contact_inboxes === undefined)).toBe(true);
      expect(out).toHaveLength(count);
      expect(new Set(out.map((c) => c.id)).size).toBe(count);
      expect(out.every((c) => !!c.email || !!c.phone_number || !!c.identifier)).toBe(true);
      // The seed has anonymous visitors (neither email, phone nor identifier): they exist, and are not listed.
      const listed = new Set(out.map((c) => c.id));
      const conversations = await allConversations(h);
      const hidden = conversations.map((c) => c.meta.sender.id).filter((id) => !listed.has(id));
      expect(hidden.length).toBeGreaterThan(0);
      for (const id of hidden) {
        const c = (await get<{ payload: ContactRow }>(h, `${A}/contacts/${id}`)).body.payload;
        expect([c.email, c.phone_number, c.identifier]).toEqual([null, null, null]);
      }
    });

    it('sorts by created_at (oldest first, "-" for newest first), and echoes the page parameter as sent', async () => {
      const asc = (await allRows('sort=created_at')).out;
      const times = asc.map((c) => c.created_at);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      const desc = (await allRows('sort=-created_at')).out;
      expect(desc.map((c) => c.created_at)).toEqual([...times].reverse());
      expect(asc.length).toBeGreaterThan(30);
      const p2 = await get<ContactList>(h, `${A}/contacts?page=2&sort=created_at`);
      expect(p2.body.meta.current_page).toBe('2');
      expect(p2.body.payload.map((c) => c.id)).toEqual(asc.slice(15, 30).map((c) => c.id));
    });
  });

  describe('webhooks (unsigned, docs/vendors/chatwoot.md)', () => {
    it('posts message_created with a string message_type, an ISO created_at and the conversation embedded, without a signature', async () => {
      await post(h, `${A}/conversations/1/messages`, { content: 'ping' });
      const hit = await sink.waitFor((b) => b.event === 'message_created');
      expect(hit.url).toBe('/webhooks/chatwoot?token=secret-token-123');
      expect(Object.keys(hit.headers).some((k) => /signature|hmac/i.test(k))).toBe(false);
      expect(hit.body).toMatchObject({
        event: 'message_created',
        content: 'ping',
        message_type: 'outgoing',
        account: { id: 1 },
        conversation: { id: 1 },
      });
      expect(typeof hit.body.created_at).toBe('string');
      expect(Number.isNaN(Date.parse(String(hit.body.created_at)))).toBe(false);
      expect((hit.body.sender as { type: string }).type).toBe('user');
    });

    it('posts conversation_status_changed with changed_attributes, and conversation_updated for labels', async () => {
      await post(h, `${A}/conversations/1/toggle_status`, { status: 'pending' });
      const status = await sink.waitFor((b) => b.event === 'conversation_status_changed');
      expect(status.body).toMatchObject({
        id: 1,
        status: 'pending',
        changed_attributes: [{ status: { current_value: 'pending' } }],
      });
      await post(h, `${A}/conversations/1/labels`, { labels: ['vip'] });
      // The status change posted a conversation_updated too (docs/vendors/chatwoot.md "Webhooks"): find the labels one.
      const labels = await sink.waitFor(
        (b) => b.event === 'conversation_updated' && JSON.stringify(b.changed_attributes).includes('label_list'),
      );
      expect(labels.body).toMatchObject({
        id: 1,
        labels: ['vip'],
        changed_attributes: [{ label_list: { current_value: ['vip'] } }],
      });
    });

    it('posts conversation_created on create and message_updated on a soft delete', async () => {
      const c = (
        await post<ConversationJson>(h, `${A}/conversations`, { inbox_id: CHATWOOT_SANDBOX_INBOX_ID, contact_id: 1 })
      ).body;
      await sink.waitFor((b) => b.event === 'conversation_created' && b.id === c.id);
      const m = (await post<MessageJson>(h, `${A}/conversations/${c.id}/messages`, { content: 'to delete' })).body;
      await call(h, 'DELETE', `${A}/conversations/${c.id}/messages/${m.id}`);
      const upd = await sink.waitFor((b) => b.event === 'message_updated');
      expect(upd.body).toMatchObject({
        id: m.id,
        content: 'This message was deleted',
        content_attributes: { deleted: true },
      });
    });

    it('simulateIncoming posts message_created (incoming) and reopens a resolved conversation; a read posts nothing', async () => {
      const resolved = (await get<ListJson>(h, `${A}/conversations?status=resolved`)).body.data.payload.find(
        (c) => !c.muted,
      ) as ConversationJson;
      const before = h.controls.unreadState();
      h.controls.simulateIncoming({ conversationId: `1:${resolved.id}`, content: 'Are you there?' });
      const msg = await sink.waitFor((b) => b.event === 'message_created');
      expect(msg.body).toMatchObject({
        message_type: 'incoming',
        content: 'Are you there?',
        conversation: { id: resolved.id },
      });
      await sink.waitFor((b) => b.event === 'conversation_status_changed' && b.id === resolved.id);
      expect((await get<ConversationJson>(h, `${A}/conversations/${resolved.id}`)).body.status).toBe('open');
      expect(h.controls.unreadState()?.total).toBe((before?.total ?? 0) + 1);
      // docs/vendors/chatwoot.md "Unread semantics": update_last_seen and unread write with update_column, which
      // dispatches no event (conversations_controller.rb); updated_at does not move either.
      const updatedAt = (await get<ConversationJson>(h, `${A}/conversations/${resolved.id}`)).body.updated_at;
      h.controls.simulateRead({ conversationId: String(resolved.id) });
      await post(h, `${A}/conversations/${resolved.id}/unread`);
      await post(h, `${A}/conversations/${resolved.id}/update_last_seen`);
      // A delivery posted for the reads would arrive before this one, which is posted last.
      await post(h, `${A}/conversations/${resolved.id}/labels`, { labels: ['after-the-reads'] });
      await sink.waitFor((b) => b.id === resolved.id && JSON.stringify(b.changed_attributes).includes('label_list'));
      const updates = sink.received
        .filter((r) => r.body.event === 'conversation_updated' && r.body.id === resolved.id)
        .map((r) => (r.body.changed_attributes as Array<Record<string, unknown>>).flatMap((a) => Object.keys(a)));
      // The reopen's status save and the label save; nothing for the three reads.
      expect(updates).toEqual([['status'], ['label_list']]);
      const after = (await get<ConversationJson>(h, `${A}/conversations/${resolved.id}`)).body;
      expect(after.unread_count).toBe(0);
      expect(after.updated_at).toBeGreaterThan(updatedAt); // the label save only
      expect(h.controls.unreadState()?.total).toBe(before?.total ?? 0);
    });
  });

  describe('controls', () => {
    it('reports the capped unread state the API shows, and reset brings back the seeded data', async () => {
      const all = await allConversations(h);
      const total = all.reduce((n, c) => n + c.unread_count, 0);
      expect(h.controls.unreadState()).toEqual({
        total,
        conversationsWithUnread: all.filter((c) => c.unread_count > 0).length,
      });
      await post(h, `${A}/conversations/1/labels`, { labels: ['changed'] });
      h.controls.reset();
      expect((await get<ConversationJson>(h, `${A}/conversations/1`)).body.labels).toEqual(
        all.find((c) => c.id === 1)?.labels,
      );
    });
  });
});

describe('chatwoot emulator: page size, search counts, filter and unread_counts (docs/vendors/chatwoot.md)', () => {
  interface FilterJson {
    meta: { mine_count: number; unassigned_count: number; all_count: number };
    payload: ConversationJson[];
  }
  const pages = async (h: EmulatorHandle, query: string) => {
    const out: ListJson['data'][] = [];
    for (let page = 1; page < 100; page++) {
      const r = (await get<ListJson>(h, `${A}/conversations?${query}&page=${page}`)).body.data;
      out.push(r);
      if (r.payload.length === 0) return out;
    }
    throw new Error('no end');
  };

  it.each([25, 10])('pages by CONVERSATION_RESULTS_PER_PAGE (%i) with counts of every match', async (pageSize) => {
    const h = await startChatwootEmulator({ port: 0, scale: 2, pageSize });
    try {
      const read = await pages(h, 'status=all');
      expect(read.map((p) => p.payload.length)).toEqual(pageSize === 25 ? [25, 15, 0] : [10, 10, 10, 10, 0]);
      expect(read.every((p) => p.meta.all_count === 40)).toBe(true);
      expect(new Set(read.flatMap((p) => p.payload.map((c) => c.id))).size).toBe(40);
    } finally {
      await h.close();
    }
  });

  it('counts a q search on the asked page only (conversation_finder.rb pages before it counts)', async () => {
    const h = await startChatwootEmulator({ port: 0, scale: 2, pageSize: 10 });
    try {
      const read = await pages(h, 'q=thanks');
      expect(read.map((p) => p.payload.length)).toEqual([10, 7, 0]);
      // all_count, and the others, are the rows of that page: never more than one page.
      expect(read.map((p) => p.meta.all_count)).toEqual([10, 7, 0]);
      expect(read.map((p) => p.meta.assigned_count + p.meta.unassigned_count)).toEqual([10, 7, 0]);
      // Without q the counts are of every match.
      expect((await get<ListJson>(h, `${A}/conversations?status=all&page=2`)).body.data.meta.all_count).toBe(40);
    } finally {
      await h.close();
    }
  });

  it('filters by display_id over every status, newest activity first, as {meta, payload} without data', async () => {
    const h = await startChatwootEmulator({ port: 0, scale: 2 });
    try {
      const all = await allConversations(h);
      const ids = [40, 8, 3, 424242];
      const r = await post<FilterJson>(h, `${A}/conversations/filter?page=1`, {
        payload: [{ attribute_key: 'display_id', filter_operator: 'equal_to', values: ids, query_operator: null }],
      });
      expect(r.status).toBe(200);
      expect(Object.keys(r.body)).toEqual(['meta', 'payload']);
      const want = all.filter((c) => ids.includes(c.id));
      expect(r.body.payload.map((c) => c.id)).toEqual(want.map((c) => c.id));
      expect(new Set(want.map((c) => c.status)).size).toBeGreaterThan(1);
      expect(r.body.meta.all_count).toBe(3);
      expect(r.body.payload.map((c) => c.unread_count)).toEqual(want.map((c) => c.unread_count));
      // Kaminari's default 25 a page, whatever the instance's list page size.
      const small = await startChatwootEmulator({ port: 0, scale: 2, pageSize: 10 });
      try {
        const every = all.map((c) => c.id);
        const p1 = await post<FilterJson>(small, `${A}/conversations/filter?page=1`, {
          payload: [{ attribute_key: 'display_id', filter_operator: 'equal_to', values: every }],
        });
        const p2 = await post<FilterJson>(small, `${A}/conversations/filter?page=2`, {
          payload: [{ attribute_key: 'display_id', filter_operator: 'equal_to', values: every }],
        });
        expect([p1.body.payload.length, p2.body.payload.length, p1.body.meta.all_count]).toEqual([25, 15, 40]);
      } finally {
        await small.close();
      }
      // AND binds tighter than OR.
      const mixed = await post<FilterJson>(h, `${A}/conversations/filter`, {
        payload: [
          { attribute_key: 'status', filter_operator: 'equal_to', values: ['pending'], query_operator: 'AND' },
          { attribute_key: 'display_id', filter_operator: 'equal_to', values: [40], query_operator: 'OR' },
          { attribute_key: 'display_id', filter_operator: 'equal_to', values: [37] },
        ],
      });
      expect(mixed.body.payload.map((c) => c.id).sort()).toEqual(
        all
          .filter((c) => (c.status === 'pending' && c.id === 40) || c.id === 37)
          .map((c) => c.id)
          .sort(),
      );
    } finally {
      await h.close();
    }
  });

  it('refuses an unknown filter attribute, a wrong operator or no values with 422 {error}', async () => {
    const h = await startChatwootEmulator({ port: 0 });
    try {
      const f = (cond: Record<string, unknown>) =>
        post<{ error: string }>(h, `${A}/conversations/filter`, { payload: [cond] });
      const unknown = await f({ attribute_key: 'phone_number', filter_operator: 'equal_to', values: ['1'] });
      expect(unknown.status).toBe(422);
      expect(unknown.body.error).toContain('Invalid attribute key - [phone_number]');
      const operator = await f({ attribute_key: 'status', filter_operator: 'eq', values: ['open'] });
      expect(operator.body.error).toBe(
        'Invalid operator. The allowed operators for status are [equal_to,not_equal_to].',
      );
      const empty = await f({ attribute_key: 'display_id', filter_operator: 'equal_to', values: [] });
      expect([empty.status, empty.body.error]).toEqual([
        422,
        'Invalid value. The values provided for display_id are invalid',
      ]);
    } finally {
      await h.close();
    }
  });

  it('answers unread_counts with open unread conversations per inbox, 403 with the feature off, 404 without the route', async () => {
    const on = await startChatwootEmulator({ port: 0, scale: 2, unreadCounts: 'enabled' });
    const off = await startChatwootEmulator({ port: 0, unreadCounts: 'disabled' });
    const old = await startChatwootEmulator({ port: 0, unreadCounts: 'absent' });
    try {
      const all = await allConversations(on);
      const want: Record<string, number> = {};
      for (const c of all.filter((x) => x.status === 'open' && x.unread_count > 0))
        want[String(c.inbox_id)] = (want[String(c.inbox_id)] ?? 0) + 1;
      const r = await get<{ payload: Record<string, unknown> }>(on, `${A}/conversations/unread_counts`);
      expect(r.body).toEqual({ payload: { inboxes: want, labels: {}, teams: {} } });
      // A pending conversation with unread messages is left out (Refresher#unread?: open only).
      expect(all.some((c) => c.status !== 'open' && c.unread_count > 0)).toBe(true);
      // A read moves them, without any webhook.
      const target = all.find((c) => c.status === 'open' && c.unread_count > 0) as ConversationJson;
      on.controls.simulateRead({ conversationId: String(target.id) });
      const after = await get<{ payload: { inboxes: Record<string, number> } }>(on, `${A}/conversations/unread_counts`);
      const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
      expect(sum(after.body.payload.inboxes)).toBe(sum(want) - 1);
      const agent = await get<{ payload: { inboxes: Record<string, number> } }>(
        on,
        `${A}/conversations/unread_counts`,
        CHATWOOT_SANDBOX_AGENT_TOKEN,
      );
      expect(Object.keys(agent.body.payload.inboxes).every((id) => id === '1')).toBe(true);

      expect(await get(off, `${A}/conversations/unread_counts`)).toMatchObject({
        status: 403,
        body: { error: 'Conversation unread counts feature not enabled for this account' },
      });
      expect(await get(old, `${A}/conversations/unread_counts`)).toMatchObject({
        status: 404,
        body: { error: 'Resource could not be found' },
      });
    } finally {
      await Promise.all([on.close(), off.close(), old.close()]);
    }
  });
});

describe('chatwoot emulator rate limit (Rack::Attack)', () => {
  it('answers 429 with a plain-text "Retry later" once an IP passes the per-minute limit', async () => {
    const h = await startChatwootEmulator({ port: 0, rateLimitPerMinute: 5 });
    try {
      for (let i = 0; i < 5; i++) expect((await get(h, `${A}/conversations`)).status).toBe(200);
      const r = await get(h, `${A}/conversations`);
      expect(r.status).toBe(429);
      expect(r.type).toContain('text/plain');
      expect(r.text).toBe('Retry later\n');
    } finally {
      await h.close();
    }
  });

  it('allows 3000 requests a minute by default, throttles the 3001st, and allows again the next minute', async () => {
    // Rack::Attack counts per fixed minute (docs/vendors/chatwoot.md "Rate limits"): the limiter's clock is held
    // inside one minute, so no run straddles two, then moved on to the next.
    let now = Date.UTC(2026, 0, 1, 12, 0, 30);
    const h = await startChatwootEmulator({ port: 0, rateLimitClock: () => now });
    try {
      const statuses = await pipelined(h, `${A}/agents`, 3000);
      expect(statuses).toHaveLength(3000);
      expect(statuses.filter((st) => st !== 200)).toEqual([]);
      const extra = await get(h, `${A}/agents`);
      expect(extra.status).toBe(429);
      expect(extra.text).toBe('Retry later\n');
      now += 29_999; // still 12:00
      expect((await get(h, `${A}/agents`)).status).toBe(429);
      now += 1; // 12:01: a new window
      expect((await get(h, `${A}/agents`)).status).toBe(200);
      // Every request reached the emulator (none was refused before it counted).
      expect(h.requests().filter((r) => r.path === `${A}/agents`)).toHaveLength(3003);
    } finally {
      await h.close();
    }
    // 3,003 requests: a generous bound for a shared 2-core machine under --detectOpenHandles (a bound, not a speed test).
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Contract check: the emulator's answers against chatwoot-swagger.json, with the code's known departures.

type Schema = Record<string, unknown>;
const SWAGGER_PATH = join(__dirname, '..', '..', 'docs', 'vendors', 'chatwoot-swagger.json');
const P = (path: string) => `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}`;
const OK_JSON = '/responses/200/content/application~1json/schema';
const CONV = '/api/v1/accounts/{account_id}/conversations';
const ONE = `${CONV}/{conversation_id}`;

/** The endpoints the connector uses that the swagger documents, by response schema (JSON pointer). */
const DOCUMENTED = {
  list: `${P(CONV)}/get${OK_JSON}`,
  meta: `${P(`${CONV}/meta`)}/get${OK_JSON}`,
  create: `${P(CONV)}/post${OK_JSON}`,
  show: `${P(ONE)}/get${OK_JSON}`,
  toggleStatus: `${P(`${ONE}/toggle_status`)}/post${OK_JSON}`,
  labelsGet: `${P(`${ONE}/labels`)}/get${OK_JSON}`,
  labelsPost: `${P(`${ONE}/labels`)}/post${OK_JSON}`,
  messages: `${P(`${ONE}/messages`)}/get${OK_JSON}`,
  send: `${P(`${ONE}/messages`)}/post${OK_JSON}`,
  contact: `${P('/api/v1/accounts/{account_id}/contacts/{id}')}/get${OK_JSON}`,
  contacts: `${P('/api/v1/accounts/{account_id}/contacts')}/get${OK_JSON}`,
  agents: `${P('/api/v1/accounts/{account_id}/agents')}/get${OK_JSON}`,
  agentBot: `${P('/api/v1/accounts/{account_id}/agent_bots/{id}')}/get${OK_JSON}`,
  // The swagger says conversation_list ({data: {meta, payload}}); filter.json.jbuilder renders {meta, payload}
  // without `data`, so the body is checked against what the swagger puts inside `data`.
  filter: '/components/schemas/conversation_list/properties/data',
} as const;
/** Used by the connector, not in the swagger at all (docs/vendors/chatwoot.md lists them from the code): nothing to check. */
const UNDOCUMENTED = [
  'POST update_last_seen',
  'POST unread',
  'POST mute',
  'POST unmute',
  'DELETE conversation',
  'GET unread_counts',
];

interface Departure {
  why: string;
  /** JSON pointers into the swagger document. */
  at: string[];
  /** Merged into the schema at each pointer. */
  patch: Schema;
}
const SCHEMAS = '/components/schemas';
const SENDER = (root: string) =>
  ['identifier', 'phone_number', 'email'].map((f) => `${root}/properties/meta/properties/sender/properties/${f}`);

/**
 * Where the swagger disagrees with Chatwoot's code (docs/vendors/chatwoot.md), the emulator follows the code. Each
 * departure is recorded here and a test proves it is still needed.
 */
const DEPARTURES: Record<string, Departure> = {
  'status enum lacks snoozed': {
    why: 'docs/vendors/chatwoot.md "Objects": the status enum is 0..3 and the swagger omits snoozed',
    at: [`${SCHEMAS}/conversation/properties/status`],
    patch: { enum: ['open', 'resolved', 'pending', 'snoozed'] },
  },
  'timestamp is an epoch integer': {
    why: 'docs/vendors/chatwoot.md: `timestamp` is last_activity_at.to_i, not a string',
    at: [`${SCHEMAS}/conversation/properties/timestamp`],
    patch: { type: 'integer' },
  },
  'snoozed_until is a raw time': {
    why: 'docs/vendors/chatwoot.md "Timestamps": snoozed_until is emitted raw (ISO-8601 string or null), not a number',
    at: [`${SCHEMAS}/conversation/properties/snoozed_until`],
    patch: { type: 'string', format: 'date-time', nullable: true },
  },
  'priority and sla_policy_id may be null': {
    why: 'docs/vendors/chatwoot.md "Objects": priority is low|medium|high|urgent|null; sla_policy_id is null without SLA',
    at: [`${SCHEMAS}/conversation/properties/priority`, `${SCHEMAS}/conversation/properties/sla_policy_id`],
    patch: { nullable: true },
  },
  'last_non_activity_message may be null': {
    why: '_conversation.json.jbuilder: `.non_activity_messages.first.try(:push_event_data)` is nil without messages',
    at: [`${SCHEMAS}/conversation/properties/last_non_activity_message`],
    // `nullable` needs a `type`; a $ref has none, so spell it as "message or null".
    patch: { $ref: undefined, anyOf: [{ $ref: '#/components/schemas/message' }, { type: 'null' }] },
  },
  'embedded message updated_at is a raw time': {
    why: 'docs/vendors/chatwoot.md: conversation messages use push_event_data, every DB column, so updated_at is a Rails time string',
    at: [`${SCHEMAS}/message/properties/updated_at`],
    patch: { type: 'string', format: 'date-time' },
  },
  'sender_type is the Rails class name': {
    why: 'push_event_data carries the polymorphic sender_type (Contact|User|AgentBot) and sender_id, both null for activity messages',
    at: [`${SCHEMAS}/message/properties/sender_type`, `${SCHEMAS}/message/properties/sender_id`],
    patch: { enum: undefined, nullable: true },
  },
  'message content and source_id may be null': {
    why: 'docs/vendors/chatwoot.md "Message": attachment-only messages have no content; source_id is only set for channel messages',
    at: [
      `${SCHEMAS}/message/properties/content`,
      `${SCHEMAS}/message/properties/processed_message_content`,
      `${SCHEMAS}/message/properties/source_id`,
    ],
    patch: { nullable: true },
  },
  'contact email, phone and identifier may be null': {
    why: 'the contact partial emits nil for a contact without them (list and show meta.sender)',
    at: [
      ...SENDER(`${SCHEMAS}/conversation_list/properties/data/properties/payload/items/allOf/2`),
      ...SENDER(`${SCHEMAS}/conversation_show/allOf/1`),
    ],
    patch: { nullable: true },
  },
  'messages index last-seen times may be null': {
    why: 'docs/vendors/chatwoot.md messages index: agent_last_seen_at/assignee_last_seen_at are raw times, nil until first seen',
    at: [
      `${DOCUMENTED.messages}/properties/meta/properties/agent_last_seen_at`,
      `${DOCUMENTED.messages}/properties/meta/properties/assignee_last_seen_at`,
    ],
    patch: { nullable: true },
  },
  'contact list current_page is 1 without page': {
    why: 'contacts_controller.rb set_current_page: `params[:page] || 1`, so current_page is the page parameter as sent (a string) or the integer 1',
    at: [`${SCHEMAS}/contact_meta/properties/current_page`],
    patch: { type: ['string', 'integer'] },
  },
  'agent custom_role_id may be null': {
    why: 'the agent partial emits custom_role_id nil for agents without a custom role',
    at: [`${SCHEMAS}/agent/properties/custom_role_id`],
    patch: { nullable: true },
  },
};

/** Status codes the code answers where the swagger documents others (docs/vendors/chatwoot.md "Errors"). */
const STATUS_DEPARTURES = {
  '401 for authorization failures':
    'docs/vendors/chatwoot.md: Pundit failures and bad tokens are 401 {error}; the swagger documents 403 on these operations',
  '422 for validation':
    'docs/vendors/chatwoot.md: validation errors are 422 {message, attributes}; the swagger does not document 422 on these operations',
} as const;

function pointer(doc: Schema, ptr: string): Schema {
  let node: unknown = doc;
  for (const raw of ptr.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = (node as Record<string, unknown>)[key];
    if (node === undefined) throw new Error(`swagger has nothing at ${ptr}`);
  }
  return node as Schema;
}

function validatorFor(skip?: string) {
  const doc = JSON.parse(readFileSync(SWAGGER_PATH, 'utf8')) as Schema;
  for (const [name, d] of Object.entries(DEPARTURES)) {
    if (name === skip) continue;
    for (const at of d.at) {
      const node = pointer(doc, at);
      for (const [k, v] of Object.entries(d.patch)) {
        if (v === undefined) delete node[k];
        else node[k] = v;
      }
      // An OpenAPI 3.0 `nullable` enum must list null to accept it.
      if (d.patch.nullable && Array.isArray(node.enum) && !node.enum.includes(null))
        node.enum = [...(node.enum as unknown[]), null];
    }
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat('uri', { validate: (s: string) => URL.canParse(s) });
  ajv.addSchema(doc, 'swagger.json');
  return (op: keyof typeof DOCUMENTED, body: unknown) => {
    const v = ajv.getSchema(`swagger.json#${DOCUMENTED[op]}`);
    if (!v) throw new Error(`no schema for ${op}`);
    return v(body) ? [] : (v.errors ?? []).map((e) => `${op} ${e.instancePath} ${e.message ?? ''}`);
  };
}

describe('chatwoot emulator against chatwoot-swagger.json', () => {
  let h: EmulatorHandle;
  const samples: Array<[keyof typeof DOCUMENTED, unknown]> = [];
  const errors: Array<{ method: string; path: string; status: number; body: unknown }> = [];
  const swagger = JSON.parse(readFileSync(SWAGGER_PATH, 'utf8')) as Schema;

  beforeAll(async () => {
    h = await startChatwootEmulator({ port: 0 });
    const add = async (op: keyof typeof DOCUMENTED, p: Promise<Res<unknown>>) => {
      const r = await p;
      if (r.status !== 200) throw new Error(`${op} answered ${r.status}`);
      samples.push([op, r.body]);
    };
    await add('list', get(h, `${A}/conversations?status=all`));
    await add('list', get(h, `${A}/conversations`));
    await add('meta', get(h, `${A}/conversations/meta?status=all`));
    for (let id = 1; id <= 20; id++) {
      await add('show', get(h, `${A}/conversations/${id}`));
      await add('messages', get(h, `${A}/conversations/${id}/messages`));
      await add('labelsGet', get(h, `${A}/conversations/${id}/labels`));
    }
    await add('toggleStatus', post(h, `${A}/conversations/1/toggle_status`, { status: 'snoozed' }));
    await add('toggleStatus', post(h, `${A}/conversations/1/toggle_status`, { status: 'open' }));
    await add('labelsPost', post(h, `${A}/conversations/1/labels`, { labels: ['bug'] }));
    await add('send', post(h, `${A}/conversations/1/messages`, { content: 'contract check' }));
    const form = new FormData();
    form.append('content', 'with a file');
    form.append('attachments[]', new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'data.csv');
    await add('send', call(h, 'POST', `${A}/conversations/1/messages`, { form }));
    await add(
      'create',
      post(h, `${A}/conversations`, { inbox_id: CHATWOOT_SANDBOX_INBOX_ID, contact_id: 3, message: { content: 'hi' } }),
    );
    for (const id of [1, 2, 3, 4, 5, 6]) await add('contact', get(h, `${A}/contacts/${id}`));
    for (const q of ['', '?page=2&sort=created_at', '?include_contact_inboxes=false&sort=-name'])
      await add('contacts', get(h, `${A}/contacts${q}`));
    await add('agents', get(h, `${A}/agents`));
    await add('agentBot', get(h, `${A}/agent_bots/1`));
    await add(
      'filter',
      post(h, `${A}/conversations/filter?page=1`, {
        payload: [{ attribute_key: 'display_id', filter_operator: 'equal_to', values: [1, 2, 3, 4, 5] }],
      }),
    );

    const err = async (method: string, path: string, p: Promise<Res<unknown>>) => {
      const r = await p;
      errors.push({ method, path, status: r.status, body: r.body });
    };
    await err('get', ONE, get(h, `${A}/conversations/424242`));
    await err('get', ONE, get(h, `${A}/conversations/1`, 'bad-token'));
    const foreign = (await get<ListJson>(h, `${A}/conversations?status=all`)).body.data.payload.find(
      (c) => c.inbox_id !== 1,
    );
    await err('get', ONE, get(h, `${A}/conversations/${foreign?.id}`, CHATWOOT_SANDBOX_AGENT_TOKEN));
    await err('post', `${ONE}/messages`, post(h, `${A}/conversations/1/messages`, { content: 'x'.repeat(150_001) }));
    await err('post', `${ONE}/toggle_status`, post(h, `${A}/conversations/424242/toggle_status`, { status: 'open' }));
  });
  afterAll(() => h.close());

  it('answers every documented endpoint the connector uses with bodies the swagger accepts (departures recorded)', () => {
    const validate = validatorFor();
    const ops = new Set(samples.map(([op]) => op));
    expect([...ops].sort()).toEqual(Object.keys(DOCUMENTED).sort());
    const problems = samples.flatMap(([op, body]) => validate(op, body));
    expect(problems).toEqual([]);
  });

  it.each(Object.keys(DEPARTURES))('still needs the recorded departure "%s"', (name) => {
    const validate = validatorFor(name);
    const problems = samples.flatMap(([op, body]) => validate(op, body));
    expect(problems.length).toBeGreaterThan(0);
  });

  it('lists the connector endpoints the swagger leaves out', () => {
    const paths = Object.keys(swagger.paths as Schema);
    for (const suffix of ['update_last_seen', 'unread', 'mute', 'unmute']) {
      expect(paths.includes(`${ONE}/${suffix}`)).toBe(false);
    }
    expect(Object.keys(pointer(swagger, P(ONE)))).not.toContain('delete');
    expect(UNDOCUMENTED).toHaveLength(6);
    expect(Object.keys(swagger.paths as Schema).some((p) => p.endsWith('/unread_counts'))).toBe(false);
    // DELETE message is documented as "200 Success" with no body schema, so there is nothing to validate.
    expect(pointer(swagger, `${P(`${ONE}/messages/{message_id}`)}/delete/responses/200`).content).toBeUndefined();
  });

  it('answers errors with {error} (not the swagger bad_request_error) and records where its status differs from the swagger', () => {
    const documented = (method: string, path: string) =>
      Object.keys((pointer(swagger, `${P(path)}/${method}`).responses ?? {}) as Schema);
    const departures: string[] = [];
    for (const e of errors) {
      const body = e.body as Record<string, unknown>;
      // bad_request_error is {description, errors:[…]} in the swagger; the code answers {error} or {message, attributes}.
      expect('errors' in body || 'description' in body).toBe(false);
      expect(typeof body.error === 'string' || typeof body.message === 'string').toBe(true);
      if (!documented(e.method, e.path).includes(String(e.status))) {
        departures.push(
          e.status === 401
            ? '401 for authorization failures'
            : e.status === 422
              ? '422 for validation'
              : `undocumented ${e.status}`,
        );
      }
    }
    expect(errors.map((e) => e.status)).toEqual([404, 401, 401, 422, 404]);
    expect([...new Set(departures)].sort()).toEqual(Object.keys(STATUS_DEPARTURES).sort());
  });
});
