import type { Client } from 'graphql-ws';
import { createBaselineGateway } from '../../bench/baseline';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { startEmbedded, SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, type Embedded } from '../../src/sandbox/embedded';
import { eventually } from '../live/helpers';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * What `npm run bench` relies on (issue 7): the naive baseline (bench/baseline.ts) answers
 * exactly what the gateway answers, at many times the upstream cost; and subscribers that share one live value
 * (server/fanout.ts) still each get the value of the sources they asked for.
 */
const INBOX = /* GraphQL */ `
  query Inbox {
    conversations(first: 50) {
      edges {
        cursor
        node {
          id
          subject
          lastMessageAt
          unreadCount
          source {
            id
          }
          participants {
            id
            name
            kind
          }
          lastMessage {
            id
            content
            sender {
              id
              name
            }
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

let embedded: Embedded;
let gateway: Gateway;
let baseline: Gateway;
const quiet = () => createLogger({ level: 'silent' });

beforeAll(async () => {
  embedded = await startEmbedded({ scale: 3, port: 0, rateLimitPerMinute: 1_000_000 });
  gateway = await createGateway({ config: embedded.config, logger: quiet(), production: false });
  baseline = await createBaselineGateway({ config: embedded.config, logger: quiet(), production: false });
  embedded.sandbox.setWebhookBase(gateway.url);
});
afterAll(async () => {
  await gateway?.close();
  await baseline?.close();
  await embedded?.sandbox.close();
});

async function gql(g: Gateway, query: string, key = SANDBOX_API_KEY) {
  const res = await fetch(`${g.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-upstream-stats': '1' },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: unknown; errors?: unknown[]; extensions?: { upstream?: { total: number } } };
}

describe('the naive baseline', () => {
  it('answers the inbox exactly as the gateway does, with at least ten times the upstream requests', async () => {
    await gql(gateway, INBOX); // the gateway's catalogs sync once
    const g = await gql(gateway, INBOX);
    const b = await gql(baseline, INBOX);
    expect(g.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    // Cursors hold the same positions; their JSON key order follows which source answered first.
    const decoded = (data: unknown) =>
      JSON.parse(JSON.stringify(data), (k, v: unknown) =>
        (k === 'cursor' || k === 'endCursor') && typeof v === 'string'
          ? JSON.parse(Buffer.from(v, 'base64url').toString('utf8'))
          : v,
      ) as unknown;
    expect(decoded(b.data)).toEqual(decoded(g.data));
    const gu = g.extensions?.upstream?.total ?? 0;
    const bu = b.extensions?.upstream?.total ?? 0;
    expect(bu).toBeGreaterThanOrEqual(10 * Math.max(1, gu));
  });
});

describe('shared subscription payloads', () => {
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('gives every subscriber the totals of its own sources and key', async () => {
    type U = { unreadCountChanged: { total: number; bySource: Array<{ source: { id: string }; total: number }> } };
    const q = (sources?: string[]) =>
      `subscription { unreadCountChanged${sources ? `(sources: ${JSON.stringify(sources)})` : ''} { total bySource { source { id } total } } }`;
    const open = (query: string, key = SANDBOX_API_KEY) => {
      const c = createWsClient(gateway.wsUrl, key);
      clients.push(c);
      return subscribe<U>(c, query);
    };
    const all = [open(q()), open(q()), open(q())];
    const protocolOnly = [open(q(['protocol'])), open(q(['protocol']))];
    const chatwootOnly = open(q(['chatwoot']));
    const limited = open(q(), SANDBOX_LIMITED_KEY); // sees the first source only
    const everyone = [...all, ...protocolOnly, chatwootOnly, limited];
    await Promise.all(everyone.map((s) => s.waitFor(1)));
    const latest = (s: (typeof everyone)[number]) => s.values[s.values.length - 1]!.unreadCountChanged;
    const before = {
      all: latest(all[0]!).total,
      protocol: latest(protocolOnly[0]!).total,
      chatwoot: latest(chatwootOnly).total,
      limited: latest(limited).total,
    };

    embedded.sandbox.emulators.get('protocol')!.controls.simulateIncoming({ content: 'shared payloads' });
    await eventually(() => {
      const waiting = [
        ...all.map((s) => latest(s).total === before.all),
        ...protocolOnly.map((s) => latest(s).total === before.protocol),
      ];
      if (waiting.some(Boolean)) throw new Error('not every subscriber has the new count yet');
    });
    for (const s of all) expect(latest(s)).toEqual(latest(all[0]!));
    expect(latest(all[0]!).total).toBe(before.all + 1);
    for (const s of protocolOnly) {
      expect(latest(s).total).toBe(before.protocol + 1);
      expect(latest(s).bySource.map((x) => x.source.id)).toEqual(['protocol']);
    }
    // Neither the Chatwoot-only subscriber nor a key that cannot see Protocol hears of it.
    expect(latest(chatwootOnly).total).toBe(before.chatwoot);
    expect(latest(limited).total).toBe(before.limited);
    expect(latest(limited).bySource.map((x) => x.source.id)).not.toContain('protocol');
  });
});
