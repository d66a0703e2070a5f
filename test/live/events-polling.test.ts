import { monicaPollCost } from '../../src/connectors/monica/poll';
import type { RequestLogEntry } from '../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN } from '../../src/sandbox/monica';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createLiveClient, type LiveClient } from '../utils/liveClient';
import { adjust, eventually } from './helpers';

/**
 * # Thread events from polling sources (issue 14; docs/live.md "Pollers", "Thread events")
 *
 * Over real HTTP and graphql-ws against the Pixieset and Monica emulators: a `conversationEvents` subscriber keeps
 * the source's poller running, a poll's differ turns what changed at the vendor into typed events, each once and
 * in order, and a poll costs exactly the documented upstream requests (docs/vendors/pixieset.md and monica.md
 * "Thread events from polls").
 */
type Event = {
  conversationEvents: {
    __typename: string;
    conversationId: string | null;
    message?: { id: string; content: string | null };
    changedFields?: string[];
    conversation?: { id: string; unreadCount: number | null; subject: string | null };
  };
};
const EVENTS = `subscription($ids: [ID!], $s: [ID!]) {
  conversationEvents(conversationIds: $ids, sources: $s) {
    __typename conversationId
    ... on MessageAdded { message { id content } }
    ... on MessageUpdated { message { id content } }
    ... on ConversationRead { conversation { id unreadCount subject } }
    ... on ConversationUpdated { changedFields conversation { id unreadCount subject } }
  }
}`;
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total } }`;
const SEND = `mutation($id: ID!, $c: String!) { sendMessage(input: { conversationId: $id, content: $c }) { id content } }`;
const POLL_MS = 150;

const seen = (vs: Event[]) =>
  vs.map(({ conversationEvents: e }) => `${e.__typename}:${e.message?.content ?? e.changedFields?.join(',') ?? ''}`);

/** The upstream requests of the live engine's scopes (`live-<source>-<n>`), grouped by scope. */
function liveScopes(requests: RequestLogEntry[], sourceId: string): Map<string, string[]> {
  const scopes = new Map<string, string[]>();
  for (const r of requests) {
    const id = r.headers['x-request-id'];
    if (!id?.startsWith(`live-${sourceId}-`)) continue;
    scopes.set(id, [...(scopes.get(id) ?? []), `${r.method} ${r.path}`]);
  }
  return scopes;
}

describe('thread events from polling sources', () => {
  let t: TestGateway;
  const clients: LiveClient[] = [];
  const client = () => {
    const c = createLiveClient('ws', t, t.apiKey);
    clients.push(c);
    return c;
  };
  const emulator = (id: string) => t.embedded.sandbox.emulators.get(id)!;
  const live = () => t.gateway.services.live;
  const conversations = async (source: string) => {
    const list = await t.gql<{
      conversations: { edges: Array<{ node: { id: string; nativeId: string; unreadCount: number | null } }> };
    }>(
      `query($s: [ID!]) { conversations(first: 20, filter: { sources: $s, status: [OPEN] }) { edges { node { id nativeId unreadCount } } } }`,
      { s: [source] },
    );
    expect(list.body.errors).toBeUndefined();
    return list.body.data!.conversations.edges.map((e) => e.node);
  };
  /** Resolves once the source's poller has polled once (its baseline) since it started. */
  const polling = (source: string) => eventually(() => expect(live().pollingSince(source)).not.toBeNull());

  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET', 'MONICA'],
      // Monica's budget is 60 a minute (a poll every 4 s at this size): raised, so the test polls quickly.
      rateLimitPerMinute: 60_000,
      configure: adjust({ source: () => ({ pollIntervalMs: POLL_MS, rateLimitPerMinute: 60_000 }) }),
    });
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    // The last watcher gone, its poller stops.
    await eventually(() => expect(live().activePollers()).toEqual([]));
  });

  describe('Pixieset', () => {
    it('keeps the poller running for a conversationEvents subscriber and stops it when the last one leaves', async () => {
      const a = client().subscribe<Event>(EVENTS, { s: ['pixieset'] });
      const b = client().subscribe<Event>(EVENTS, { s: ['pixieset'] });
      await eventually(() => expect(live().activePollers()).toEqual(['pixieset']));
      await polling('pixieset');
      a.dispose();
      await new Promise((r) => setTimeout(r, 2 * POLL_MS));
      expect(live().activePollers()).toEqual(['pixieset']);
      b.dispose();
      await eventually(() => expect(live().activePollers()).toEqual([]));
      // A poll already running when the poller stopped finishes its reads (under load, after the stop): once the
      // vendor has heard nothing of this source for a poll interval, nothing more comes.
      let heard = -1;
      await eventually(async () => {
        const n = emulator('pixieset').requests().length;
        const quiet = n === heard;
        heard = n;
        await new Promise((r) => setTimeout(r, POLL_MS));
        expect(quiet).toBe(true);
      });
      // Stopped: no poll reaches the vendor any more.
      emulator('pixieset').clearRequests();
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      expect(liveScopes(emulator('pixieset').requests(), 'pixieset').size).toBe(0);
    });

    it('pushes messages added at the vendor once each, in order, at one detail read per changed conversation a poll', async () => {
      const [conv] = await conversations('pixieset');
      const a = client().subscribe<Event>(EVENTS, { ids: [conv!.id] });
      const b = client().subscribe<Event>(EVENTS, { s: ['pixieset'] });
      await polling('pixieset');
      const emu = emulator('pixieset');
      emu.clearRequests();
      // Two messages between two polls (synchronously, so no poll falls between them): the list shows only that the
      // conversation moved, its detail has both.
      emu.controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'first' });
      emu.controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'second' });
      await eventually(() => expect(seen(a.values)).toEqual(['MessageAdded:first', 'MessageAdded:second']));
      await eventually(() => expect(seen(b.values)).toEqual(['MessageAdded:first', 'MessageAdded:second']));
      expect(a.values.map((v) => v.conversationEvents.conversationId)).toEqual([conv!.id, conv!.id]);

      // A read in the Studio: ConversationRead with the conversation as it is now.
      emu.controls.simulateRead({ conversationId: conv!.nativeId });
      await eventually(() => expect(seen(a.values)).toHaveLength(3));
      expect(a.values[2]!.conversationEvents).toMatchObject({
        __typename: 'ConversationRead',
        conversationId: conv!.id,
        conversation: { id: conv!.id, unreadCount: 0 },
      });
      // Several more polls find nothing: nothing more is pushed.
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      expect(seen(a.values)).toEqual(['MessageAdded:first', 'MessageAdded:second', 'ConversationRead:']);
      expect(a.errors).toEqual([]);

      // Upstream: each poll is the unread count and the list's first page; the one that saw the messages also read
      // that conversation's detail, once (for every subscriber).
      const polls = [...liveScopes(emu.requests(), 'pixieset').values()].filter((rs) =>
        rs.includes('GET /api/v1/conversations/'),
      );
      const detail = `GET /api/v1/conversations/${conv!.nativeId}/`;
      expect(polls.filter((rs) => rs.includes(detail))).toEqual([
        expect.arrayContaining(['GET /api/v1/conversations/unread/count', 'GET /api/v1/conversations/', detail]),
      ]);
      expect(polls.map((rs) => rs.length).sort()).toEqual([...polls.map(() => 2).slice(1), 3].sort());
    });

    it("delivers the gateway's own send once, although the next poll sees it too", async () => {
      const [, conv] = await conversations('pixieset');
      const sub = client().subscribe<Event>(EVENTS, { ids: [conv!.id] });
      await polling('pixieset');
      const sent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: conv!.id, c: 'from the gateway' });
      expect(sent.body.errors).toBeUndefined();
      emulator('pixieset').controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'reply' });
      await eventually(() => expect(seen(sub.values)).toContain('MessageAdded:reply'));
      await new Promise((r) => setTimeout(r, 2 * POLL_MS));
      expect(seen(sub.values)).toEqual(['MessageAdded:from the gateway', 'MessageAdded:reply']);
      expect(sub.values[0]!.conversationEvents.message!.id).toBe(sent.body.data!.sendMessage.id);
    });

    it('reads no detail while nobody watches thread events: a poll is the unread count and the first page', async () => {
      const sub = client().subscribe<{ unreadCountChanged: { total: number } }>(UNREAD, { s: ['pixieset'] });
      const [first] = await sub.waitFor(1);
      await polling('pixieset');
      const [, , conv] = await conversations('pixieset');
      const emu = emulator('pixieset');
      emu.clearRequests();
      emu.controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'unwatched' });
      await sub.waitFor(2);
      expect(sub.values[1]!.unreadCountChanged.total).toBe(first!.unreadCountChanged.total + 1);
      const polls = [...liveScopes(emu.requests(), 'pixieset').values()].filter((rs) =>
        rs.includes('GET /api/v1/conversations/'),
      );
      expect(polls.length).toBeGreaterThan(0);
      for (const rs of polls)
        expect(rs.sort()).toEqual(['GET /api/v1/conversations/', 'GET /api/v1/conversations/unread/count']);
    });
  });

  describe('Monica', () => {
    const monicaApi = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${emulator('monica').url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${MONICA_SANDBOX_TOKEN}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return res.json() as Promise<Record<string, unknown>>;
    };

    it('pushes added and edited messages and a new subject once each, in order, at no extra request', async () => {
      const [conv, other] = await conversations('monica');
      const sub = client().subscribe<Event>(EVENTS, { ids: [conv!.id, other!.id] });
      await polling('monica');
      const emu = emulator('monica');
      emu.clearRequests();
      emu.controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'hello from Monica' });
      emu.controls.simulateIncoming({ conversationId: conv!.nativeId, content: 'and again' });
      await eventually(() =>
        expect(seen(sub.values)).toEqual(['MessageAdded:hello from Monica', 'MessageAdded:and again']),
      );
      // The gateway's own send and edit: once each, although the polls see them too.
      const sent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: other!.id, c: 'sent here' });
      expect(sent.body.errors).toBeUndefined();
      const edited = await t.gql(
        `mutation($id: ID!) { editMessage(input: { id: $id, content: "edited here" }) { id } }`,
        { id: sent.body.data!.sendMessage.id },
      );
      expect(edited.body.errors).toBeUndefined();
      // Somebody changes the conversation's day in Monica's web UI: a new subject (its messages are re-created with
      // new ids, docs/vendors/monica.md "Message re-creation", so they are new messages).
      await monicaApi('POST', `/__sandbox/conversations/${other!.nativeId}/dashboard-edit`, {
        happenedOn: '2020-02-02',
        messages: [{ content: 'rewritten', writtenByMe: true }],
      });
      await eventually(() => expect(seen(sub.values)).toContain('ConversationUpdated:SUBJECT'));
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      expect(seen(sub.values)).toEqual([
        'MessageAdded:hello from Monica',
        'MessageAdded:and again',
        'MessageAdded:sent here',
        'MessageUpdated:edited here',
        'MessageAdded:rewritten',
        'ConversationUpdated:SUBJECT',
      ]);
      expect(sub.values.at(-1)!.conversationEvents).toMatchObject({
        conversationId: other!.id,
        conversation: { id: other!.id, subject: expect.stringContaining('2020-02-02') },
      });
      expect(sub.errors).toEqual([]);

      // Upstream: every poll, with thread events watched, is the full sync it always was (pages of 100 and GET /me).
      const n = ((await monicaApi('GET', '/api/conversations?limit=1')) as { meta: { total: number } }).meta.total;
      const polls = [...liveScopes(emu.requests(), 'monica').values()].filter((rs) =>
        rs.some((r) => r.startsWith('GET /api/conversations')),
      );
      expect(polls.length).toBeGreaterThan(2);
      for (const rs of polls) {
        expect(rs.length).toBe(monicaPollCost(n));
        expect(rs.filter((r) => /\/conversations\/\d+/.test(r))).toEqual([]);
      }
    });
  });
});
