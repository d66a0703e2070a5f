import { toGlobalId } from '../../src/schema/ids';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 11: a native id that cannot have the vendor's format (`..`, `../x`, `a/b`, …) is refused as
 * NOT_FOUND before any path is built: the emulator sees no request at all. (An empty native id is already not a
 * Switchboard id: BAD_USER_INPUT from the global id decoder.)
 */
const BAD = ['..', '../x', '%2e%2e', 'a/b', '', '../../clients', 'conv_../x'];

describe('native ids are checked against the vendor id format before any upstream request', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  const sources = () => t.embedded.sandbox.sourceConfigs.map((s) => ({ id: s.id, kind: s.kind }));

  it.each(['PIXIESET', 'PROTOCOL', 'CHATWOOT', 'MONICA'])(
    '%s: conversation(id) and node(Message) answer NOT_FOUND with no upstream request',
    async (kind) => {
      const src = sources().find((s) => s.kind === kind)!;
      const emu = t.embedded.sandbox.emulators.get(src.id)!;
      for (const bad of BAD) {
        emu.clearRequests();
        const conv = await t.gql(`query($id: ID!) { conversation(id: $id) { id } }`, {
          id: toGlobalId('Conversation', src.id, bad),
        });
        expect({ bad, codes: conv.body.errors?.map((e) => e.extensions?.code) }).toEqual({
          bad,
          codes: [bad === '' ? 'BAD_USER_INPUT' : 'NOT_FOUND'],
        });
        const msg = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: toGlobalId('Message', src.id, bad) });
        // node() answers null for an id that names nothing, as for any unknown id.
        expect({ bad, errors: msg.body.errors ?? [] }).toEqual({ bad, errors: [] });
        expect({ bad, node: msg.body.data?.node }).toEqual({ bad, node: null });
        expect({ bad, requests: emu.requests().map((r) => `${r.method} ${r.path}`) }).toEqual({ bad, requests: [] });
      }
    },
  );
});
