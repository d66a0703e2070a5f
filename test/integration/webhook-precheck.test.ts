import { connect, type Socket } from 'node:net';
import { signProtocolWebhook } from '../../src/connectors/protocol/webhook';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 8: a webhook's headers are checked before its body is read. A delivery without what its source
 * requires (Protocol's signature header, Chatwoot's URL token) is refused at once, and so is a body larger than
 * `server.webhookMaxBodyBytes`, by a 413 that names that limit, not the GraphQL body limit.
 */

/** Sends the request line, headers and only `first` bytes of a body announced as `length` bytes; resolves with the answer. */
function partialPost(
  url: string,
  path: string,
  headers: Record<string, string>,
  length: number,
  first = 16,
): Promise<{ status: number; body: string; socket: Socket }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const lines = [
        `POST ${path} HTTP/1.1`,
        `Host: ${hostname}:${port}`,
        'Content-Type: application/json',
        `Content-Length: ${length}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        '',
        '',
      ];
      socket.write(lines.join('\r\n'));
      socket.write('x'.repeat(first)); // the rest never comes: an answer proves the body was not waited for
    });
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(data);
      if (m && m[2] && m[2].trim().endsWith('}')) resolve({ status: Number(m[1]), body: m[2], socket });
    });
    socket.on('error', reject);
  });
}

describe('webhook headers are checked before the body is read', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PROTOCOL', 'CHATWOOT'] });
  });
  afterAll(async () => {
    await t.close();
  });

  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });

  it('refuses an unsigned Protocol delivery of 1.5 MB with 403 before reading its body', async () => {
    const r = await partialPost(t.url, '/webhooks/protocol', {}, 1_500_000);
    sockets.push(r.socket);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body.trim().split('\r\n').pop() as string).error.code).toBe('FORBIDDEN');
  });

  it('refuses a Chatwoot delivery without its URL token with 403 before reading its body', async () => {
    const r = await partialPost(t.url, '/webhooks/chatwoot', {}, 1_500_000);
    sockets.push(r.socket);
    expect(r.status).toBe(403);
  });

  it('answers a signed delivery over server.webhookMaxBodyBytes with a 413 naming that limit, before its body', async () => {
    const r = await partialPost(t.url, '/webhooks/protocol', { 'x-protocol-signature': 'ab'.repeat(32) }, 1_500_000);
    sockets.push(r.socket);
    expect(r.status).toBe(413);
    const error = JSON.parse(r.body.trim().split('\r\n').pop() as string).error;
    expect(error).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'server.webhookMaxBodyBytes', max: 1_048_576 });
    expect(error.message).toContain('server.webhookMaxBodyBytes');
  });

  it('answers a chunked body past the limit with the same 413', async () => {
    const body = Buffer.alloc(1_100_000, 'a');
    const res = await fetch(`${t.url}/webhooks/protocol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-protocol-signature': signProtocolWebhook(body, 'x') },
      // A stream has no Content-Length: the limit is enforced while reading.
      body: new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(body));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { limit: string } }).error.limit).toBe('server.webhookMaxBodyBytes');
  });
});
