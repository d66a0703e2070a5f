import type { SourceKind } from '../../src/connectors/types';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 17: a vendor's validation answer reaches the client in `extensions.vendorMessages` (the same
 * string list Monica's errors carried already), with the source's credentials redacted, so app developers can fix
 * their input. Each vendor's own error shape is answered by the emulator (fault `responseByPath`).
 */
const SEND = `mutation($id: ID!, $content: String!) {
  sendMessage(input: { conversationId: $id, content: $content }) { id }
}`;

/** The vendor's 422 body (its own error shape), mentioning the source's credential `secret`. */
function rejection(kind: SourceKind, secret: string): { status: number; body: unknown; expected: object } {
  const msg = `Content is too long (maximum is 10 characters); token ${secret}`;
  const shown = `Content is too long (maximum is 10 characters); token [redacted]`;
  switch (kind) {
    case 'CHATWOOT':
      return {
        status: 422,
        body: { message: msg, attributes: ['content'] },
        expected: { vendorMessages: [shown], attributes: ['content'] },
      };
    case 'PROTOCOL':
      return {
        status: 400,
        body: { type: 'invalid_request', message: msg },
        expected: { vendorMessages: [shown], vendorType: 'invalid_request' },
      };
    case 'PIXIESET':
      return {
        status: 422,
        body: { error: msg, code: 'VALIDATION_ERROR' },
        expected: { vendorMessages: [shown], vendorCode: 'VALIDATION_ERROR' },
      };
    default:
      return {
        status: 422,
        body: { error: { message: [msg], error_code: 32 } },
        expected: { vendorMessages: [shown], vendorCode: 32 },
      };
  }
}

describe("a vendor's validation messages reach the client in extensions.vendorMessages", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each<SourceKind>(['CHATWOOT', 'PROTOCOL', 'PIXIESET', 'MONICA'])(
    '%s: a rejected send answers SOURCE_REJECTED with the vendor message, credentials redacted',
    async (kind) => {
      const source = t.embedded.config.sources.find((s) => s.kind === kind)!;
      const emu = t.embedded.sandbox.emulators.get(source.id)!;
      const list = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
        `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { edges { node { id } } } }`,
        { s: [source.id] },
      );
      const id = list.body.data!.conversations.edges[0]!.node.id;
      // One accepted send shows which vendor path a send posts to.
      emu.clearRequests();
      const ok = await t.gql(SEND, { id, content: 'first' });
      expect(ok.body.errors ?? []).toEqual([]);
      const post = emu.requests().find((r) => r.method === 'POST')!;
      const secret = Object.values(source.credentials as Record<string, string>)[0]!;
      const r = rejection(kind, secret);
      emu.setFaults({ responseByPath: { [post.path]: { status: r.status, body: r.body } } });
      try {
        const res = await t.gql(SEND, { id, content: 'second, too long' });
        expect(res.body.errors).toHaveLength(1);
        expect(res.body.errors![0]!.extensions).toMatchObject({
          code: 'SOURCE_REJECTED',
          source: source.id,
          ...r.expected,
        });
        expect(JSON.stringify(res.body)).not.toContain(secret);
      } finally {
        emu.setFaults({});
      }
    },
  );
});
