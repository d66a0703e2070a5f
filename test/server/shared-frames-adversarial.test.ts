import { request, type ClientRequest } from 'node:http';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { firstConversation, SEND_MESSAGE } from '../utils/threadEvents';
import { eventually } from '../utils/wait';

/**
 * # Adversarial probes of the shared subscription frames (issue 14 fan-out; server/ws.ts, server/sse.ts)
 *
 * A shared result is serialized once and spliced into each subscriber's graphql-ws `next` message (in place of a
 * marker payload, `switchboard:shared-result`) or written as each SSE stream's `next` event (in place of graphql-sse's
 * event for a stand-in). These probes send message contents that read like the marker and its message tail, and
 * JSON's hard characters (quotes, backslashes, U+2028/U+2029, a newline, astral characters), to subscribers on one
 * socket with the same and with different selections and the same operation id on two sockets, interleaved with a
 * result that has an error (masked per subscriber, never shared), in production and in development mode, and over
 * SSE in both distinct connections and single connection mode. Every frame must be exactly what graphql-ws or
 * graphql-sse would write without the splice: the JSON of `{id, type, payload}` (or the event's data) with the
 * subscriber's own id and the event's own content.
 */
const EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename cursor ... on MessageAdded { message { content } } }
}`;
const OTHER = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename ... on MessageAdded { message { id content direction } } }
}`;
/** A selection whose every result has an error (a cursor that is not one): never shared, masked per subscriber. */
const ERRORED = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) {
    __typename
    ... on MessageAdded { message { content conversation { messages(first: 1, after: "not-a-cursor") { nodes { id } } } } }
  }
}`;
const CONTENTS = [
  'switchboard:shared-result',
  '","payload":"switchboard:shared-result"}',
  'event: next\ndata: "switchboard:shared-result"\n\n',
  `quote " backslash \\ sep \u2028 par \u2029 tab \t emoji 😀 </script> {"payload":1}`,
];

type Payload = { data?: { conversationEvents?: { message?: { content?: string } } } | null; errors?: unknown[] };

/** What a frame must be: exactly the JSON of what it parses to (no text spliced in that JSON would not write). */
function exactJson(text: string): unknown {
  const parsed = JSON.parse(text) as unknown;
  expect(JSON.stringify(parsed)).toBe(text);
  return parsed;
}

describe.each([
  ['production', true],
  ['development', false],
] as const)('shared subscription frames, %s mode', (_mode, production) => {
  let t: TestGateway;
  let conv: { id: string; nativeId: string };
  const sockets: WebSocket[] = [];
  const requests: ClientRequest[] = [];
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'], production });
    conv = await firstConversation(t, 'chatwoot', { openOnly: true });
  });
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.terminate();
    for (const r of requests.splice(0)) r.destroy();
    await t.close();
  });
  const send = async (content: string) => {
    const r = await t.gql(SEND_MESSAGE, { id: conv.id, c: content });
    expect(r.body.errors).toBeUndefined();
  };

  /** A graphql-transport-ws socket, authenticated, with these subscriptions (id → query): the frames after the ack. */
  async function socket(subs: Record<string, string>): Promise<{ frames: string[] }> {
    const ws = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    sockets.push(ws);
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () =>
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.apiKey}` } })),
      );
      ws.on('message', (data) => {
        const text = String(data);
        if ((JSON.parse(text) as { type: string }).type !== 'connection_ack') return void frames.push(text);
        for (const [id, query] of Object.entries(subs))
          ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables: { ids: [conv.id] } } }));
        resolve();
      });
    });
    return { frames };
  }

  it('graphql-ws: marker-like and hard contents reach every subscriber exactly, same and other selections, errors masked apart', async () => {
    const s1 = await socket({ x: EVENTS, y: OTHER, z: EVENTS, e: ERRORED });
    const s2 = await socket({ x: EVENTS, e: ERRORED });
    const subs = [...['x', 'y', 'z', 'e'].map((id) => ({ s: s1, id })), ...['x', 'e'].map((id) => ({ s: s2, id }))];
    const framesOf = (s: { frames: string[] }, id: string) =>
      s.frames.map((f) => exactJson(f) as { id: string; type: string; payload: Payload }).filter((m) => m.id === id);
    let n = 0;
    await eventually(async () => {
      await send(`ws probe ${++n}`);
      expect(subs.every(({ s, id }) => framesOf(s, id).length > 0)).toBe(true);
    });
    await eventually(() => expect(subs.map(({ s, id }) => framesOf(s, id).length)).toEqual(subs.map(() => n)));
    s1.frames.splice(0);
    s2.frames.splice(0);

    for (const content of CONTENTS) await send(content);
    await eventually(() =>
      expect(subs.map(({ s, id }) => framesOf(s, id).length)).toEqual(subs.map(() => CONTENTS.length)),
    );
    for (const { s, id } of subs) {
      const frames = framesOf(s, id);
      expect(frames.map((m) => [m.type, Object.keys(m)])).toEqual(
        CONTENTS.map(() => ['next', ['id', 'type', 'payload']]),
      );
      expect(frames.map((m) => m.payload.data?.conversationEvents?.message?.content)).toEqual(CONTENTS);
      for (const m of frames) {
        if (id === 'e') {
          expect(m.payload.errors).toEqual([
            expect.objectContaining({
              message: expect.any(String),
              extensions: expect.objectContaining({ code: expect.any(String) }),
            }),
          ]);
        } else {
          expect(Object.keys(m.payload)).toEqual(['data']);
        }
      }
    }
    // One selection on two sockets and twice on one socket: the same payload; another selection its own.
    const payloadText = (s: { frames: string[] }, id: string) =>
      s.frames.filter((f) => (JSON.parse(f) as { id: string }).id === id).map((f) => f.slice(f.indexOf('"type"')));
    expect(payloadText(s1, 'z')).toEqual(payloadText(s1, 'x'));
    expect(payloadText(s2, 'x')).toEqual(payloadText(s1, 'x'));
    expect(framesOf(s1, 'y').map((m) => Object.keys(m.payload.data!.conversationEvents!.message!))).toEqual(
      CONTENTS.map(() => ['id', 'content', 'direction']),
    );
  });

  /** A raw event stream (POST, or GET with a token): its events (blank-line separated, comments left out). */
  async function stream(
    method: 'POST' | 'GET',
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<{ events(): string[] }> {
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${t.url}/graphql`,
        {
          method,
          headers: {
            authorization: `Bearer ${t.apiKey}`,
            accept: 'text/event-stream',
            ...(body ? { 'content-type': 'application/json' } : {}),
            ...headers,
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
      req.end(body ? JSON.stringify(body) : undefined);
    });
    return {
      events: () =>
        text
          .split('\n\n')
          .slice(0, -1)
          .filter((block) => !block.startsWith(':')),
    };
  }
  /** An event block's data: exactly `event: next` and one `data:` line of exact JSON. */
  const nextData = (block: string): unknown => {
    const lines = block.split('\n');
    expect([lines.length, lines[0], lines[1]!.startsWith('data: ')]).toEqual([2, 'event: next', true]);
    return exactJson(lines[1]!.slice('data: '.length));
  };

  it('SSE distinct connections: every stream gets an exact next event with its own content, errors masked apart', async () => {
    const streams = {
      a: await stream('POST', {}, { query: EVENTS, variables: { ids: [conv.id] } }),
      b: await stream('POST', {}, { query: EVENTS, variables: { ids: [conv.id] } }),
      o: await stream('POST', {}, { query: OTHER, variables: { ids: [conv.id] } }),
      e: await stream('POST', {}, { query: ERRORED, variables: { ids: [conv.id] } }),
    };
    const all = Object.values(streams);
    let n = 0;
    await eventually(async () => {
      await send(`sse probe ${++n}`);
      expect(all.every((s) => s.events().length > 0)).toBe(true);
    });
    await eventually(() => expect(all.map((s) => s.events().length)).toEqual(all.map(() => n)));

    for (const content of CONTENTS) await send(content);
    await eventually(() => expect(all.map((s) => s.events().length)).toEqual(all.map(() => n + CONTENTS.length)));
    const latest = (s: { events(): string[] }) => s.events().slice(n);
    for (const [name, s] of Object.entries(streams)) {
      const payloads = latest(s).map((b) => nextData(b) as Payload);
      expect([name, payloads.map((p) => p.data?.conversationEvents?.message?.content)]).toEqual([name, CONTENTS]);
      for (const p of payloads)
        expect([name, Object.keys(p).sort()]).toEqual([name, name === 'e' ? ['data', 'errors'] : ['data']]);
    }
    expect(latest(streams.b)).toEqual(latest(streams.a));
    expect(latest(streams.o)).not.toEqual(latest(streams.a));
  });

  it('SSE single connection mode: operations on one reserved stream get exact next events with their own ids', async () => {
    const reserve = await fetch(`${t.url}/graphql`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    expect(reserve.status).toBe(201);
    const token = await reserve.text();
    const tokenHeader = { 'x-graphql-event-stream-token': token };
    const s = await stream('GET', tokenHeader);
    const ops = { one: EVENTS, two: EVENTS, three: OTHER, err: ERRORED };
    for (const [operationId, query] of Object.entries(ops)) {
      const r = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json', ...tokenHeader },
        body: JSON.stringify({ query, variables: { ids: [conv.id] }, extensions: { operationId } }),
      });
      expect(r.status).toBe(202);
    }
    type Next = { id: string; payload: Payload };
    const nexts = () => s.events().map((b) => nextData(b) as Next);
    const ids = Object.keys(ops);
    let n = 0;
    await eventually(async () => {
      await send(`single probe ${++n}`);
      expect(ids.every((id) => nexts().some((m) => m.id === id))).toBe(true);
    });
    await eventually(() =>
      expect(ids.map((id) => nexts().filter((m) => m.id === id).length)).toEqual(ids.map(() => n)),
    );
    const before = nexts().length;

    for (const content of CONTENTS) await send(content);
    await eventually(() => expect(nexts().length).toBe(before + ids.length * CONTENTS.length));
    const latest = nexts().slice(before);
    for (const id of ids) {
      const mine = latest.filter((m) => m.id === id);
      expect([id, mine.map((m) => m.payload.data?.conversationEvents?.message?.content)]).toEqual([id, CONTENTS]);
      for (const m of mine)
        expect([id, Object.keys(m.payload).sort()]).toEqual([id, id === 'err' ? ['data', 'errors'] : ['data']]);
    }
  });
});
