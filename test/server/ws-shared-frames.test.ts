import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { firstConversation, SEND_MESSAGE } from '../utils/threadEvents';
import { eventually } from '../utils/wait';

/**
 * # graphql-ws frames of a shared result (issue 14 fan-out; server/ws.ts, server/fanout.ts)
 *
 * Subscribers asking the same question of the same event share one ExecutionResult, which server/ws.ts
 * serializes once and splices into each subscriber's `next` message. Read here as raw frames (no graphql-ws
 * client in between): every frame is exactly `{"id":…,"type":"next","payload":{…}}` with the subscriber's own id
 * and the result's data, subscribers of another selection get their own, and the result is stringified once per
 * distinct selection, not once per subscriber.
 */
const EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename cursor ... on MessageAdded { message { content } } }
}`;
const OTHER = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename ... on MessageAdded { message { id content direction } } }
}`;

interface RawSocket {
  frames: string[];
  close(): void;
}

describe('graphql-ws frames of a shared subscription result', () => {
  let t: TestGateway;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'] });
  });
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.terminate();
    await t.close();
  });

  /** A graphql-transport-ws socket, authenticated, with one subscription `id`: every frame it received after the ack. */
  async function open(id: string, query: string, variables: Record<string, unknown>): Promise<RawSocket> {
    const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    sockets.push(socket);
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => {
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.apiKey}` } }));
      });
      socket.on('message', (data, isBinary) => {
        // graphql-transport-ws messages are text frames (a browser hands a binary one over as a Blob).
        if (isBinary) frames.push('(binary frame)');
        const text = String(data);
        if (JSON.parse(text).type === 'connection_ack') {
          socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
          resolve();
        } else frames.push(text);
      });
    });
    return { frames, close: () => socket.close(1000) };
  }

  it('sends each subscriber the shared result as an exact next message of its own id, serialized once', async () => {
    const conv = await firstConversation(t, 'chatwoot', { openOnly: true });
    const a = await open('sub-a', EVENTS, { ids: [conv.id] });
    const b = await open('sub-b', EVENTS, { ids: [conv.id] });
    const c = await open('sub-c', OTHER, { ids: [conv.id] });
    const send = (content: string) => t.gql(SEND_MESSAGE, { id: conv.id, c: content });
    // Live once each socket has a probe (the subscription reached the server before the send).
    let n = 0;
    await eventually(async () => {
      await send(`probe ${++n}`);
      expect([a, b, c].every((s) => s.frames.length > 0)).toBe(true);
    });
    await eventually(() => expect([a, b, c].map((s) => s.frames.length)).toEqual([n, n, n]));
    for (const s of [a, b, c]) s.frames.splice(0);

    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      await send('one for every socket');
      await eventually(() => expect([a, b, c].map((s) => s.frames.length)).toEqual([1, 1, 1]));
      // The conversationEvents data went through JSON.stringify once per selection (EVENTS, OTHER), not per socket.
      const results = stringify.mock.calls.filter(([v]) => {
        type Result = { data?: { conversationEvents?: unknown } | null };
        const o = v as (Result & { payload?: Result }) | null;
        return (
          typeof o === 'object' && o !== null && !!(o.data?.conversationEvents ?? o.payload?.data?.conversationEvents)
        );
      });
      expect(results).toHaveLength(2);
    } finally {
      stringify.mockRestore();
    }

    const [fa, fb, fc] = [a, b, c].map((s) => s.frames[0]!);
    for (const [frame, id] of [
      [fa, 'sub-a'],
      [fb, 'sub-b'],
      [fc, 'sub-c'],
    ] as const) {
      const m = JSON.parse(frame!) as { id: string; type: string; payload: { data: Record<string, unknown> } };
      expect(Object.keys(m)).toEqual(['id', 'type', 'payload']);
      expect(m.id).toBe(id);
      expect(m.type).toBe('next');
      expect(Object.keys(m.payload)).toEqual(['data']);
      expect(frame).not.toContain('switchboard:');
    }
    const data = (frame: string) => (JSON.parse(frame) as { payload: unknown }).payload;
    // The two sockets with one selection got the same payload byte for byte, the third its own selection.
    expect(fb!.slice(fb!.indexOf('"type"'))).toBe(fa!.slice(fa!.indexOf('"type"')));
    expect(data(fa!)).toEqual({
      data: {
        conversationEvents: {
          __typename: 'MessageAdded',
          cursor: expect.any(String),
          message: { content: 'one for every socket' },
        },
      },
    });
    expect(data(fc!)).toEqual({
      data: {
        conversationEvents: {
          __typename: 'MessageAdded',
          message: { id: expect.any(String), content: 'one for every socket', direction: 'OUTGOING' },
        },
      },
    });

    // A refusal (an error message, not next) and a completed subscription still go out as graphql-ws writes them.
    const bad = await open('sub-bad', '{ nope }', {});
    await eventually(() => expect(bad.frames).toHaveLength(1));
    const refused = JSON.parse(bad.frames[0]!) as { id: string; type: string; payload: unknown[] };
    expect([refused.id, refused.type, refused.payload.length > 0]).toEqual(['sub-bad', 'error', true]);
    for (const s of [a, b, c, bad]) s.close();
  });
});
