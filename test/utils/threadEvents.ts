/**
 * What the conversationEvents suites share (issue 14; docs/live.md "Thread events", "Event log", "When Redis is
 * down"): the subscription and the send they make, what a subscriber saw, the first conversation of a source, a
 * subscriber made live before a test counts on it, the live clients a suite opens, and a gateway config on Redis.
 */
import type { Config } from '../../src/config/schema';
import type { TestGateway } from './gateway';
import { createLiveClient, type LiveClient, type LiveSubscription, type LiveTransport } from './liveClient';
import { eventually } from './wait';

export type ThreadEvents = {
  conversationEvents: { __typename: string; cursor: string; reason?: string; message?: { content: string } };
};

/** conversationEvents of some conversations, resumable with `after`: messages' content and resyncs' reason. */
export const THREAD_EVENTS = `subscription($ids: [ID!], $after: String) {
  conversationEvents(conversationIds: $ids, after: $after) {
    __typename cursor
    ... on MessageAdded { message { content } }
    ... on ResyncRequired { reason }
  }
}`;

/** sendMessage with `$id` (a conversation's global id) and `$c` (the content). */
export const SEND_MESSAGE = `mutation($id: ID!, $c: String!) { sendMessage(input: { conversationId: $id, content: $c }) { id content } }`;

/** What a subscriber saw of messages (their content; other events of the conversation left out) and resyncs. */
export const seen = (vs: ThreadEvents[]): string[] =>
  vs.flatMap(({ conversationEvents: e }) =>
    e.__typename === 'ResyncRequired' ? [`resync:${e.reason}`] : e.message ? [e.message.content] : [],
  );

/** The first conversation of `source` in the inbox (only OPEN ones with `openOnly`). */
export async function firstConversation(
  t: Pick<TestGateway, 'gql'>,
  source: string,
  opts: { openOnly?: boolean } = {},
): Promise<{ id: string; nativeId: string }> {
  const filter = `sources: ["${source}"]${opts.openOnly ? ', status: [OPEN]' : ''}`;
  const r = await t.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
    `{ conversations(first: 1, filter: { ${filter} }) { edges { node { id nativeId } } } }`,
  );
  const node = r.body.data?.conversations.edges[0]?.node;
  if (!node) throw new Error(`no ${source} conversation: ${JSON.stringify(r.body.errors ?? r.body)}`);
  return node;
}

/**
 * Sends probes (`probe(1)`, `probe(2)`, …) until `sub` received a value: its subscription has reached the
 * server, so what is sent from then on reaches it live.
 */
export async function untilLive<T>(sub: LiveSubscription<T>, probe: (n: number) => Promise<unknown>): Promise<void> {
  let n = 0;
  await eventually(async () => {
    await probe(++n);
    await sub.waitFor(1, 500);
  });
}

/** The live clients a suite opens, each on its gateway with the sandbox key; `closeAll` ends them together. */
export function liveClients() {
  const open: LiveClient[] = [];
  return {
    client(transport: LiveTransport, g: Pick<TestGateway, 'url' | 'wsUrl' | 'apiKey'>): LiveClient {
      const c = createLiveClient(transport, g, g.apiKey);
      open.push(c);
      return c;
    },
    async closeAll(): Promise<void> {
      await Promise.all(open.splice(0).map((c) => c.close()));
    },
  };
}

/** A test gateway's `configure`: Redis at `url` under `keyPrefix` (its own per test), and server settings on top. */
export function withRedis(
  url: string,
  keyPrefix: string,
  server: Partial<Config['server']> = {},
): (c: Config) => Config {
  return (c) => ({ ...c, redis: { url, keyPrefix }, server: { ...c.server, ...server } });
}
