import { createHash, randomUUID } from 'node:crypto';
import { ConfigError, parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 7: per-key state (idempotency keys, staged uploads) is scoped by the API key itself (its
 * configured SHA-256), never by its name; and a config naming two keys alike is refused with a named error.
 */
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content } }`;

describe('API keys are told apart by the key, not by the name', () => {
  const source = {
    id: 'studio',
    kind: 'PIXIESET',
    baseUrl: 'http://127.0.0.1:4101/api/v1',
    credentials: { sessionCookie: 'c', csrfToken: 'x' },
  };

  it('refuses a config in which two keys share a name (DUPLICATE_API_KEY_NAME), naming both entries', () => {
    const raw = {
      sources: [source],
      apiKeys: [
        { name: 'app', sha256: sha('one'), sources: ['*'] },
        { name: 'app', sha256: sha('two'), sources: ['studio'] },
      ],
    };
    expect(() => parseConfig(raw, {})).toThrow(ConfigError);
    expect(() => parseConfig(raw, {})).toThrow(/apiKeys\.1\.name: "app" is the name of apiKeys\.0 too/);
    expect(() => parseConfig(raw, {})).toThrow(/DUPLICATE_API_KEY_NAME/);
  });

  it('refuses a config that lists one key twice (DUPLICATE_API_KEY)', () => {
    const raw = {
      sources: [source],
      apiKeys: [
        { name: 'app', sha256: sha('one'), sources: ['*'] },
        { name: 'web', sha256: sha('one'), sources: ['studio'] },
      ],
    };
    expect(() => parseConfig(raw, {})).toThrow(/apiKeys\.1\.sha256: the same key as apiKeys\.0 \(DUPLICATE_API_KEY\)/);
  });

  describe('with two keys of one name (a config built in code, which parseConfig would refuse)', () => {
    let t: TestGateway;
    const OTHER_KEY = 'second-key-with-the-same-name';
    beforeAll(async () => {
      t = await startTestGateway({
        kinds: ['PIXIESET', 'PROTOCOL'],
        configure: (c: Config) => ({
          ...c,
          apiKeys: [...c.apiKeys, { name: c.apiKeys[0]!.name, sha256: sha(OTHER_KEY), sources: ['*'] }],
        }),
      });
    });
    afterAll(async () => {
      await t.close();
    });

    const asOther = { authorization: `Bearer ${OTHER_KEY}` };

    it('one idempotencyKey used by both keys sends two messages (two upstream POSTs), one per key', async () => {
      const conv = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
        `{ conversations(first: 1, filter: { sources: ["pixieset"] }) { edges { node { id } } } }`,
      );
      const conversationId = conv.body.data!.conversations.edges[0]!.node.id;
      const px = t.embedded.sandbox.emulators.get('pixieset')!;
      px.clearRequests();
      const input = { conversationId, content: 'Same words, two tenants', idempotencyKey: `k-${randomUUID()}` };
      const a = await t.gql<{ sendMessage: { id: string } }>(SEND, { input });
      const b = await t.gql<{ sendMessage: { id: string } }>(SEND, { input }, asOther);
      expect(a.body.errors).toBeUndefined();
      expect(b.body.errors).toBeUndefined();
      expect(px.requests().filter((r) => r.method === 'POST' && /messages/.test(r.path))).toHaveLength(2);
      expect(b.body.data!.sendMessage.id).not.toBe(a.body.data!.sendMessage.id);
      // The same key repeating itself still gets its first answer, with no third POST.
      const again = await t.gql<{ sendMessage: { id: string } }>(SEND, { input }, asOther);
      expect(again.body.data!.sendMessage.id).toBe(b.body.data!.sendMessage.id);
      expect(px.requests().filter((r) => r.method === 'POST' && /messages/.test(r.path))).toHaveLength(2);
    });

    it('a staged upload of one key cannot be sent by the other key of the same name (BAD_USER_INPUT)', async () => {
      const conv = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
        `{ conversations(first: 1, filter: { sources: ["protocol"] }) { edges { node { id } } } }`,
      );
      const conversationId = conv.body.data!.conversations.edges[0]!.node.id;
      type Upload = { attachmentId: string; url: string; fields: Array<{ name: string; value: string }> };
      const created = await t.gql<{ createAttachmentUpload: Upload }>(
        `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { attachmentId url fields { name value } } }`,
        { input: { conversationId, filename: 'photo.jpg', contentType: 'image/jpeg', size: 5 } },
      );
      expect(created.body.errors).toBeUndefined();
      const up = created.body.data!.createAttachmentUpload;
      const form = new FormData();
      for (const f of up.fields) form.append(f.name, f.value);
      form.append('file', new Blob([Buffer.alloc(5, 1)], { type: 'image/jpeg' }), 'photo.jpg');
      expect((await fetch(up.url, { method: 'POST', body: form })).status).toBe(204);
      const attachmentId = up.attachmentId;
      const pr = t.embedded.sandbox.emulators.get('protocol')!;
      pr.clearRequests();
      const sent = await t.gql(
        SEND,
        { input: { conversationId, content: 'not yours', attachmentIds: [attachmentId] } },
        asOther,
      );
      expect(sent.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.attachmentIds' });
      expect(pr.requests().filter((r) => r.method === 'POST')).toHaveLength(0);
    });
  });
});
