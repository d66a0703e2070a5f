import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import type { UploadStaging } from '../../src/server/staging';
import { SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';

/**
 * Staged uploads (INLINE sources: Protocol here) are bounded and kept on disk (issue 12 item 1), and their
 * input is checked (item 12): files go to a directory of their own, never stay in memory, count against a
 * per-key quota and a total cap refused before the body is read, and are removed on send, on expiry (a fake
 * clock, no sleeping) and at start-up. Nothing here measures time.
 */

const LIMITS = { maxBytesPerKey: 1000, maxBytesTotal: 1500, maxUploadsPerKey: 5, ttlMs: 60_000 };

type GqlBody<T> = { data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
type Upload = { url: string; fields: Array<{ name: string; value: string }>; attachmentId: string };

let embedded: Embedded;
let dir: string;

beforeAll(async () => {
  embedded = await startEmbedded({ kinds: ['PROTOCOL'], port: 0, rateLimitPerMinute: 1_000_000 });
  dir = mkdtempSync(join(tmpdir(), 'sb-uploads-test-'));
});
afterAll(async () => {
  await embedded.sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A gateway in front of the shared emulators, with its staging in `stagingDir` and a clock the test moves. */
async function start(stagingDir = join(dir, randomUUID()), limits: Record<string, unknown> = LIMITS) {
  let now = 1_700_000_000_000;
  const config: Config = {
    ...embedded.config,
    server: { ...embedded.config.server, port: 0, uploads: { dir: stagingDir, ...limits } },
  };
  const logs: string[] = [];
  const gateway: Gateway = await createGateway({
    config,
    clock: () => now,
    logger: createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _e, cb) {
          logs.push(chunk.toString());
          cb();
        },
      }),
    }),
  });
  const staging = gateway.services.staging as UploadStaging;
  const gql = async <T>(query: string, variables: Record<string, unknown>, key = SANDBOX_API_KEY) => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GqlBody<T>;
  };
  const conv = await gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
    `{ conversations(first: 1, filter: { sources: ["protocol"] }) { edges { node { id } } } }`,
    {},
  );
  const conversationId = conv.data!.conversations.edges[0]!.node.id;
  const create = (size: number, key = SANDBOX_API_KEY, filename = 'notes.txt', contentType = 'text/plain') =>
    gql<{ createAttachmentUpload: Upload }>(
      `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url attachmentId fields { name value } } }`,
      { input: { conversationId, filename, contentType, size } },
      key,
    );
  const upload = async (u: Upload, data: Buffer, field = 'file') => {
    const form = new FormData();
    for (const f of u.fields) form.append(f.name, f.value);
    form.append(field, new Blob([new Uint8Array(data)], { type: 'text/plain' }), 'notes.txt');
    const res = await fetch(u.url, { method: 'POST', body: form });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  /** create + upload of `size` bytes, expected to succeed. */
  const stage = async (size: number, key = SANDBOX_API_KEY) => {
    const c = await create(size, key);
    expect(c.errors).toBeUndefined();
    const u = c.data!.createAttachmentUpload;
    expect((await upload(u, Buffer.alloc(size, 0x61))).status).toBe(204);
    return u;
  };
  const send = (attachmentId: string, key = SANDBOX_API_KEY) =>
    gql<{ sendMessage: { attachments: Array<{ filename: string }> } }>(
      `mutation($input: SendMessageInput!) { sendMessage(input: $input) { attachments { filename } } }`,
      { input: { conversationId, content: 'see attached', attachmentIds: [attachmentId] } },
      key,
    );
  /** Staged files on disk with their sizes. */
  const onDisk = () =>
    existsSync(staging.instanceDir)
      ? readdirSync(staging.instanceDir).map((f) => statSync(join(staging.instanceDir, f)).size)
      : [];
  return {
    gateway,
    staging,
    logs,
    create,
    upload,
    stage,
    send,
    onDisk,
    advance: (ms: number) => (now += ms),
    close: () => gateway.close(),
  };
}
type G = Awaited<ReturnType<typeof start>>;

/**
 * A POST whose headers announce a body that is never sent (or only its first bytes): the answer must come
 * anyway, so it was decided without reading the body. `length` null sends it chunked (no Content-Length).
 */
function postUnread(url: string, length: number | null) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'multipart/form-data; boundary=b',
            ...(length === null ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }),
          },
        },
        (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => {
            req.destroy();
            resolve({ status: r.statusCode ?? 0, headers: r.headers, body: JSON.parse(body) });
          });
        },
      );
      req.on('error', reject);
      req.write('--b\r\n');
    },
  );
}

describe('staged uploads are kept on disk and bounded per API key and in total', () => {
  let g: G;
  beforeEach(async () => {
    g = await start();
  });
  afterEach(async () => {
    await g.close();
  });

  it('writes the file to its own directory (not memory) and removes it once sent', async () => {
    const pr = embedded.sandbox.emulators.get('protocol')!;
    const u = await g.stage(600);
    expect(g.onDisk()).toEqual([600]);
    expect(g.staging.bytesStaged()).toBe(600);
    const scrape = async () => (await fetch(`${g.gateway.url}/metrics`)).text();
    expect(await scrape()).toContain('switchboard_memory_store_entries{store="staged_uploads"} 1');
    pr.clearRequests();
    const sent = await g.send(u.attachmentId);
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendMessage.attachments).toEqual([{ filename: 'notes.txt' }]);
    // The file went upstream once: the attachment, then the message (the reads after it are the live refresh).
    const writes = pr.requests().filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/attachments', 'POST /v1/messages']);
    expect(g.onDisk()).toEqual([]);
    expect(g.staging.bytesStaged()).toBe(0);
    expect(await scrape()).toContain('switchboard_memory_store_entries{store="staged_uploads"} 0');
    // Sent means gone: a second send of the same attachment is refused, nothing goes upstream.
    pr.clearRequests();
    expect((await g.send(u.attachmentId)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(pr.requests().filter((r) => r.method !== 'GET')).toEqual([]); // live refreshes may read
  });

  it('keeps the file when the send fails, so the send can be retried, and sends it once when two sends race', async () => {
    const pr = embedded.sandbox.emulators.get('protocol')!;
    const u = await g.stage(20);
    pr.setFaults({ statusByPath: { '/v1/attachments': 422 } });
    try {
      const failed = await g.send(u.attachmentId);
      expect(failed.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'protocol' });
    } finally {
      pr.setFaults({});
    }
    expect(g.onDisk()).toEqual([20]);
    expect(g.staging.bytesStaged()).toBe(20);
    pr.clearRequests();
    const [a, b] = await Promise.all([g.send(u.attachmentId), g.send(u.attachmentId)]);
    const outcomes = [a, b].map((r) => (r.errors ? r.errors[0]!.extensions!.code : 'sent')).sort();
    expect(outcomes).toEqual(['BAD_USER_INPUT', 'sent']);
    const writes = pr.requests().filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/attachments', 'POST /v1/messages']);
    expect(g.onDisk()).toEqual([]);
    expect(g.staging.bytesStaged()).toBe(0);
  });

  it("refuses an upload past the key's quota before reading its body, with and without Content-Length", async () => {
    await g.stage(600);
    const fits = (await g.create(300)).data!.createAttachmentUpload; // 900 of 1000 once uploaded
    const over = (await g.create(300)).data!.createAttachmentUpload; // created while nothing else is in flight
    expect((await g.upload(fits, Buffer.alloc(300, 1))).status).toBe(204);
    expect(g.staging.bytesStaged()).toBe(900);

    for (const length of [1000, null]) {
      const r = await postUnread(over.url, length);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('60');
      expect(r.body).toEqual({
        error: {
          code: 'LIMIT_EXCEEDED',
          message: expect.stringContaining('above its quota of 1000'),
          limit: 'server.uploads.maxBytesPerKey',
          max: 1000,
          retryAfter: 60,
        },
      });
    }
    expect(g.onDisk().sort()).toEqual([300, 600]);
    expect(g.staging.bytesStaged()).toBe(900);

    // createAttachmentUpload already refuses a declared size that cannot fit.
    const refused = await g.create(101);
    expect(refused.errors?.[0]?.extensions).toEqual({
      code: 'LIMIT_EXCEEDED',
      limit: 'server.uploads.maxBytesPerKey',
      max: 1000,
      retryAfter: 60,
    });
    // Another key (scoped by its hash) has its own quota, within the total cap of 1500 ...
    await g.stage(500, SANDBOX_LIMITED_KEY);
    expect(g.staging.bytesStaged()).toBe(1400);
    // ... which refuses anybody once full: 503, nothing read.
    const more = (await g.create(200, SANDBOX_LIMITED_KEY)).data;
    expect(more).toBeNull();
    const small = (await g.create(100, SANDBOX_LIMITED_KEY)).data!.createAttachmentUpload;
    await g.stage(50, SANDBOX_LIMITED_KEY); // 1450
    const r = await postUnread(small.url, null);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({
      error: { code: 'LIMIT_EXCEEDED', limit: 'server.uploads.maxBytesTotal', max: 1500, retryAfter: 60 },
    });
    expect(g.staging.bytesStaged()).toBe(1450);
  });

  it('cuts off a file that grows past its declared size while streaming, keeping nothing, and the upload can be retried', async () => {
    const u = (await g.create(100)).data!.createAttachmentUpload;
    // A ReadableStream body goes chunked: no Content-Length to refuse it by.
    const form = new FormData();
    for (const f of u.fields) form.append(f.name, f.value);
    form.append('file', new Blob([Buffer.alloc(5000, 1)]), 'notes.txt');
    const encoded = new Response(form);
    const contentType = encoded.headers.get('content-type')!;
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const chunked = await fetch(u.url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new ReadableStream({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: { code: 'FILE_TOO_LARGE' } });
    expect(g.onDisk()).toEqual([]);
    expect(g.staging.bytesStaged()).toBe(0);
    // The refusal kept nothing, so the same upload can still be sent properly.
    expect((await g.upload(u, Buffer.alloc(100, 2))).status).toBe(204);
    expect(g.onDisk()).toEqual([100]);
  });

  it('bounds the number of unsent uploads per key', async () => {
    for (let i = 0; i < LIMITS.maxUploadsPerKey; i++) expect((await g.create(1)).errors).toBeUndefined();
    const r = await g.create(1);
    expect(r.errors?.[0]?.extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'server.uploads.maxUploadsPerKey',
      max: LIMITS.maxUploadsPerKey,
    });
    expect((await g.create(1, SANDBOX_LIMITED_KEY)).errors).toBeUndefined();
  });

  it('removes an expired upload and its file (fake clock), freeing the quota', async () => {
    const pr = embedded.sandbox.emulators.get('protocol')!;
    const u = await g.stage(900);
    expect(g.onDisk()).toEqual([900]);
    g.advance(LIMITS.ttlMs - 1);
    g.staging.sweep();
    expect(g.onDisk()).toEqual([900]); // not yet expired
    g.advance(2);
    g.staging.sweep(); // what the background timer does
    expect(g.onDisk()).toEqual([]);
    expect(g.staging.bytesStaged()).toBe(0);
    pr.clearRequests();
    const sent = await g.send(u.attachmentId);
    expect(sent.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.attachmentIds' });
    expect(pr.requests().filter((r) => r.method !== 'GET')).toEqual([]); // live refreshes may read
    await g.stage(1000); // the whole quota is free again
  });

  it('expires on the next use too, without the timer', async () => {
    const u = await g.stage(10);
    g.advance(LIMITS.ttlMs + 1);
    expect((await g.send(u.attachmentId)).errors?.[0]?.message).toMatch(/unknown or expired/);
    expect(g.onDisk()).toEqual([]);
  });

  it('removes its files and directory on close', async () => {
    await g.stage(10);
    const d = g.staging.instanceDir;
    expect(existsSync(d)).toBe(true);
    await g.close();
    expect(existsSync(d)).toBe(false);
  });
});

describe('start-up removes the leftovers of stopped gateways, and only those', () => {
  it('removes staged files of dead processes and of this pid when not open, leaving anything else', async () => {
    const root = join(dir, randomUUID());
    mkdirSync(root);
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    const hex = () => randomBytes(8).toString('hex');
    const staged = () => `${randomUUID()}.upload`;
    const dead = join(root, `instance-${deadPid}-${hex()}`);
    const samePid = join(root, `instance-${process.pid}-${hex()}`);
    const mixed = join(root, `instance-${deadPid}-${hex()}`);
    // A gateway that stays open through the second one's start-up (its own start-up sweeps nothing yet).
    const live = await start(root);
    await live.stage(10);
    const liveFile = readdirSync(live.staging.instanceDir);
    for (const d of [dead, samePid, mixed]) mkdirSync(d);
    writeFileSync(join(dead, staged()), Buffer.alloc(40));
    writeFileSync(join(dead, `${randomUUID()}.part`), Buffer.alloc(40));
    writeFileSync(join(samePid, staged()), Buffer.alloc(40));
    const mixedFile = staged();
    writeFileSync(join(mixed, mixedFile), Buffer.alloc(40));
    writeFileSync(join(mixed, 'keep.txt'), 'not ours');
    writeFileSync(join(root, 'unrelated.upload'), 'not ours');
    mkdirSync(join(root, 'instance-other'));

    const g = await start(root);
    try {
      expect(g.staging.leftoversRemoved).toBe(4);
      expect(g.logs.join('')).toContain('removed staged uploads left by a stopped gateway');
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(samePid)).toBe(false);
      expect(readdirSync(mixed)).toEqual(['keep.txt']);
      expect(existsSync(join(root, 'unrelated.upload'))).toBe(true);
      expect(existsSync(join(root, 'instance-other'))).toBe(true);
      expect(readdirSync(live.staging.instanceDir)).toEqual(liveFile);
      expect(liveFile).toHaveLength(1);
    } finally {
      await g.close();
      await live.close();
    }
    expect(readdirSync(root).sort()).toEqual([basename(mixed), 'instance-other', 'unrelated.upload'].sort());
  });
});

describe('upload input is bounded and validated (issue 12 item 12)', () => {
  let g: G;
  beforeAll(async () => {
    g = await start();
  });
  afterAll(async () => {
    await g.close();
  });

  it.each([
    ['..', 'input.filename'],
    ['.', 'input.filename'],
    ['invoice\u202Efdp.exe', 'input.filename'],
    ['a\u2066b\u2069.txt', 'input.filename'],
    ['a\u200Fb.txt', 'input.filename'],
    ['zero\u200Bwidth.txt', 'input.filename'],
    ['c1\u0085.txt', 'input.filename'],
    ['../etc/passwd', 'input.filename'],
    ['é'.repeat(128), 'input.filename'], // 256 bytes in UTF-8
  ])('refuses the filename %j with BAD_USER_INPUT before any upstream call', async (filename, field) => {
    const pr = embedded.sandbox.emulators.get('protocol')!;
    pr.clearRequests();
    const r = await g.create(10, SANDBOX_API_KEY, filename);
    expect(r.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
    expect(pr.requests()).toHaveLength(0);
    expect(g.staging.uploadsStaged()).toBe(0);
  });

  it.each([
    '../..',
    'text/html',
    'TEXT/HTML',
    'image/svg+xml',
    'application/xhtml+xml',
    'application/javascript',
    'text/plain; charset=utf-8',
    'multipart/form-data',
    'message/rfc822',
    'image/',
    '/jpeg',
    'image/.jpeg',
    'x-foo/bar',
  ])('refuses the content type %j with BAD_USER_INPUT before any upstream call', async (contentType) => {
    const pr = embedded.sandbox.emulators.get('protocol')!;
    pr.clearRequests();
    const r = await g.create(10, SANDBOX_API_KEY, 'notes.txt', contentType);
    expect(r.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.contentType' });
    expect(pr.requests()).toHaveLength(0);
    expect(g.staging.uploadsStaged()).toBe(0);
  });

  it('accepts ordinary names and types, keeping non-Latin names and lower-casing the type', async () => {
    for (const [filename, contentType] of [
      ['résumé 2024.pdf', 'application/pdf'],
      ['фото.JPG', 'Image/JPEG'],
      ['.profile', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
      ['a'.repeat(255), 'application/octet-stream'],
    ]) {
      const r = await g.create(10, SANDBOX_API_KEY, filename, contentType);
      expect(r.errors).toBeUndefined();
      const id = r.data!.createAttachmentUpload.url.split('/').pop()!;
      expect(g.staging.get(id)).toMatchObject({ filename, contentType: contentType.toLowerCase() });
    }
  });

  it('refuses a file under another multipart field than "file" with BAD_USER_INPUT, storing nothing', async () => {
    const u = (await g.create(5)).data!.createAttachmentUpload;
    const r = await g.upload(u, Buffer.from('hello'), 'attachment');
    expect(r).toEqual({
      status: 400,
      body: {
        error: {
          code: 'BAD_USER_INPUT',
          message: 'The file must be sent in the multipart field "file", not "attachment".',
          field: 'file',
        },
      },
    });
    expect(g.onDisk()).toEqual([]);
    expect(g.staging.bytesStaged()).toBe(0);
    expect((await g.upload(u, Buffer.from('hello'))).status).toBe(204);
  });
});
