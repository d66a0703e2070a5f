import { request, type ClientRequest } from 'node:http';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { firstConversation, SEND_MESSAGE } from '../utils/threadEvents';
import { eventually } from '../utils/wait';

/**
 * # SSE events of a shared result (issue 14 fan-out; server/sse.ts, server/fanout.ts)
 *
 * In distinct connections mode a subscription's `next` event is the same text on every stream that shares the
 * event's result, so server/sse.ts builds it once and writes it on each. Read here as the raw stream: each event
 * is exactly `event: next` and `data: <the result's JSON>`, streams of another selection get their own, and the
 * result is stringified once per distinct selection, not once per stream.
 */
const EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename cursor ... on MessageAdded { message { content } } }
}`;
const OTHER = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename ... on MessageAdded { message { id content direction } } }
}`;

interface RawStream {
  /** The stream's events (blank-line separated blocks), comments (heartbeats) left out. */
  events(): string[];
  clear(): void;
}

describe('SSE events of a shared subscription result', () => {
  let t: TestGateway;
  const requests: ClientRequest[] = [];
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'] });
  });
  afterAll(async () => {
    for (const r of requests.splice(0)) r.destroy();
    await t.close();
  });

  async function open(query: string, variables: Record<string, unknown>): Promise<RawStream> {
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${t.url}/graphql`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${t.apiKey}`,
            'content-type': 'application/json',
            accept: 'text/event-stream',
          },
        },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          resolve();
        },
      );
      requests.push(req);
      req.once('error', reject);
      req.end(JSON.stringify({ query, variables }));
    });
    return {
      events: () =>
        text
          .split('\n\n')
          .filter((block) => block !== '' && !block.startsWith(':'))
          .map((block) => `${block}\n\n`),
      clear: () => {
        text = text.slice(text.lastIndexOf('\n\n') + 2);
      },
    };
  }

  it('writes the shared result as the exact next event on every stream, serialized once', async () => {
    const conv = await firstConversation(t, 'chatwoot', { openOnly: true });
    const streams = [
      await open(EVENTS, { ids: [conv.id] }),
      await open(EVENTS, { ids: [conv.id] }),
      await open(OTHER, { ids: [conv.id] }),
    ];
    const send = (content: string) => t.gql(SEND_MESSAGE, { id: conv.id, c: content });
    let n = 0;
    await eventually(async () => {
      await send(`probe ${++n}`);
      expect(streams.every((s) => s.events().length > 0)).toBe(true);
    });
    await eventually(() => expect(streams.map((s) => s.events().length)).toEqual([n, n, n]));
    streams.forEach((s) => s.clear());

    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      await send('one for every stream');
      await eventually(() => expect(streams.map((s) => s.events().length)).toEqual([1, 1, 1]));
      const results = stringify.mock.calls.filter(([v]) => {
        const o = v as { data?: { conversationEvents?: unknown } | null } | null;
        return typeof o === 'object' && o !== null && !!o.data?.conversationEvents;
      });
      expect(results).toHaveLength(2);
    } finally {
      stringify.mockRestore();
    }

    const [a, b, c] = streams.map((s) => s.events()[0]!);
    expect(b).toBe(a);
    const data = (event: string) => {
      const [head, line, rest] = event.split('\n');
      expect([head, rest, event.endsWith('}\n\n')]).toEqual(['event: next', '', true]);
      expect(line!.startsWith('data: {')).toBe(true);
      return JSON.parse(line!.slice('data: '.length)) as unknown;
    };
    expect(data(a!)).toEqual({
      data: {
        conversationEvents: {
          __typename: 'MessageAdded',
          cursor: expect.any(String),
          message: { content: 'one for every stream' },
        },
      },
    });
    expect(data(c!)).toEqual({
      data: {
        conversationEvents: {
          __typename: 'MessageAdded',
          message: { id: expect.any(String), content: 'one for every stream', direction: 'OUTGOING' },
        },
      },
    });
    expect(a).not.toContain('switchboard:');
  });
});
