import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load';
import type { SourceConfig } from '../src/config/schema';
import type { SourceKind } from '../src/connectors/types';
import { loadPeople } from '../src/people/load';
import { startSandbox, type Sandbox } from '../src/sandbox';
import { createGateway, type Gateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';
import { Child, runAlone, serveRpc } from './ipc';
import { GqlClient, heapAfterGc, summarize } from './lib';

/**
 * # People at 10,000 contacts per source (issue 15)
 *
 * Every vendor emulator in a child process (this file with `--sandbox-child`), each seeded so that its source has
 * about `contacts` CONTACT participants (its contact listing, or its conversations' participants for Pixieset: each
 * vendor's contacts per conversation were counted at scale 25, and the seed scaled by that); a gateway in this
 * process with the vendors' and its own rate limits lifted (the figures are the work, not the waiting). Measured:
 * - the index's first build (the first `people` read: every source's listing and conversations, then forming), and
 *   the heap it retains after GC (the catalogs were synced before, so only the index is counted), per contact;
 * - p50/p99 of `people(first: 50)` and of `person(id) { conversations(first: 20) }` (people of every source, from
 *   the index's first pages), sequential;
 * - one change applied (`LivePeopleIndex.changed` for a Chatwoot conversation: its re-read from the catalog and the
 *   people it touches re-formed);
 * - for comparison, forming the same people from scratch (load.ts `loadPeople`, what every operation did before the
 *   index): median of 3.
 *
 * `npm run bench -- --workloads people [--people-contacts 10000]`, or `tsx bench/people.ts [contacts]`.
 */

export interface PeopleBenchResults {
  contacts: Record<string, number>;
  conversations: Record<string, number>;
  people: number;
  buildMs: number;
  bytesPerContact: number;
  peoplePage: { p50: number; p99: number; n: number };
  personConversations: { p50: number; p99: number; n: number };
  changeMs: number;
  fromScratchMs: number;
  floor: { p50: number; p99: number; n: number };
  text: string;
}

/** CONTACT participants per conversation of each emulator's seed (counted at scale 25, 500 conversations). */
const CONTACTS_PER_CONVERSATION: Record<SourceKind, number> = {
  PIXIESET: 0.6,
  PROTOCOL: 0.95,
  CHATWOOT: 0.684,
  MONICA: 0.4,
};
/** Conversations of an emulator at scale 1. */
const CONVERSATIONS_PER_SCALE = 20;

const API_KEY = 'bench-people-key';

const PEOPLE = `query ($after: String) { people(first: 50, after: $after) {
  totalCount pageInfo { endCursor } nodes { id displayName emails phones lastMessageAt participants { id } } } }`;
const PERSON = `query ($id: ID!) { person(id: $id) { id conversations(first: 20) { nodes { id lastMessageAt } } } }`;

interface PeoplePage {
  people: {
    totalCount: number;
    pageInfo: { endCursor: string | null };
    nodes: Array<{ id: string; participants: Array<{ id: string }> }>;
  };
}

async function gql<T>(http: GqlClient, query: string, variables: Record<string, unknown>, id: string): Promise<T> {
  const r = await http.post(query, variables, id);
  const body = JSON.parse(r.text) as { data?: T; errors?: unknown[] };
  if (r.status !== 200 || body.errors || !body.data) throw new Error(`${id}: ${r.status} ${r.text.slice(0, 500)}`);
  return body.data;
}

export async function peopleBench(
  contacts = 10_000,
  log: (line: string) => void = () => undefined,
  samples = 200,
): Promise<PeopleBenchResults> {
  const scales = Object.fromEntries(
    Object.entries(CONTACTS_PER_CONVERSATION).map(([k, r]) => [k, contacts / r / CONVERSATIONS_PER_SCALE]),
  );
  const child = Child.start('people-sandbox', __filename, ['--sandbox-child'], {
    execArgv: ['--max-old-space-size=8192'],
  });
  let gateway: Gateway | null = null;
  try {
    log(`  people · seeding the emulators for ${contacts.toLocaleString('en')} contacts per source …`);
    const { sourceConfigs } = await child.call<{ sourceConfigs: SourceConfig[] }>('start', { scales }, 1_800_000);
    const config = parseConfig(
      {
        server: { host: '127.0.0.1', port: 0, operationTimeoutMs: 1_800_000 },
        sources: sourceConfigs.map((s) => ({ ...s, rateLimitPerMinute: null, maxConcurrency: 64, timeoutMs: 600_000 })),
        apiKeys: [
          {
            name: 'bench',
            sha256: createHash('sha256').update(API_KEY).digest('hex'),
            sources: ['*'],
            limits: { operationsPerMinute: null, concurrentOperations: null },
          },
        ],
      },
      {},
    );
    gateway = await createGateway({ config, logger: createLogger({ level: 'warn' }), production: true });
    const http = new GqlClient(`${gateway.url}/graphql`, API_KEY, 8);
    const index = gateway.services.people?.index;
    if (!index) throw new Error('the gateway has no people index');

    // The catalogs first, so that the heap difference below is the index's alone.
    log('  people · syncing the catalogs …');
    // In this process (a sync of 25,000 conversations outlasts an HTTP client's patience).
    for (const c of gateway.services.connectors) {
      const ts = performance.now();
      await c.openSession({ requestId: `people.sync.${c.id}` }).listConversations({ offset: 0, limit: 1, filter: {} });
      log(`  people · ${c.id} synced in ${Math.round(performance.now() - ts)} ms`);
    }
    const before = heapAfterGc();
    log('  people · building the index (its first read, as the first people query makes it) …');
    const t0 = performance.now();
    await index.read(
      gateway.services.connectors.map((c) => c.id),
      undefined,
      (e) => {
        throw e;
      },
    );
    const buildMs = performance.now() - t0;
    const after = heapAfterGc();
    const held = index.size();
    const first = await gql<PeoplePage>(http, PEOPLE, {}, 'people.first');

    // What each source holds, from scratch (also the comparison: what every operation did before the index).
    const counts: Record<string, number> = {};
    const conversations: Record<string, number> = {};
    const scratch: number[] = [];
    const repeats = contacts >= 5_000 ? 1 : 3;
    for (let i = 0; i < repeats; i++) {
      const sources = gateway.services.connectors.map((c) => ({
        sourceId: c.id,
        session: c.openSession({ requestId: `people.scratch.${i}` }),
      }));
      const ts = performance.now();
      const formed = await loadPeople(sources, {
        defaultCountry: config.people.defaultCountry,
        onSourceError: (e) => {
          throw e;
        },
      });
      scratch.push(performance.now() - ts);
      if (i === 0)
        for (const k of formed.byParticipant.keys()) {
          const source = k.slice(0, k.indexOf('\u0000'));
          counts[source] = (counts[source] ?? 0) + 1;
        }
    }
    for (const c of gateway.services.connectors) {
      const s = c.openSession({ requestId: 'people.count' });
      conversations[c.id] = (await s.listConversations({ offset: 0, limit: 1, filter: {} })).total;
    }

    // People to ask for: the first pages' people, round-robin over the sources of their members.
    const ids: string[] = [];
    let cursor: string | null = first.people.pageInfo.endCursor;
    const pages = [first];
    for (let i = 0; i < 3 && cursor; i++) {
      const p: PeoplePage = await gql<PeoplePage>(http, PEOPLE, { after: cursor }, `people.pick.${i}`);
      pages.push(p);
      cursor = p.people.pageInfo.endCursor;
    }
    for (const p of pages) for (const n of p.people.nodes) ids.push(n.id);

    // The floor: the same gateway answering a query that reads nothing.
    const floorTimes: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await gql(http, '{ __typename }', {}, `people.floor.${i}`);
      floorTimes.push(performance.now() - t);
    }
    log(`  people · ${samples} people(first: 50) …`);
    const pageTimes: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await gql(http, PEOPLE, {}, `people.page.${i}`);
      pageTimes.push(performance.now() - t);
    }
    log(`  people · ${samples} person(id) { conversations(first: 20) } …`);
    const personTimes: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await gql(http, PERSON, { id: ids[i % ids.length] }, `people.person.${i}`);
      personTimes.push(performance.now() - t);
    }

    // One change: a Chatwoot conversation re-read, its people re-formed.
    const cw = gateway.services.connectors.find((c) => c.kind === 'CHATWOOT');
    let changeMs = Number.NaN;
    if (cw) {
      const page = await cw.openSession({ requestId: 'people.change' }).listConversations({
        offset: 0,
        limit: 1,
        filter: {},
      });
      const id = page.items[0]?.nativeId;
      if (id) {
        const tc = performance.now();
        await index.changed(cw.id, id);
        changeMs = performance.now() - tc;
      }
    }

    const floor = summarize(floorTimes);
    const pageSummary = summarize(pageTimes);
    const personSummary = summarize(personTimes);
    const fromScratchMs = summarize(scratch).p50;
    const bytesPerContact = (after - before) / Math.max(1, held);
    const f = (v: number, d = 0) => v.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
    const text = [
      `People index (issue 15; ${contacts.toLocaleString('en')} contacts aimed at per source, emulators in a child, gateway in this process, limits lifted)`,
      `contacts held: ${Object.entries(counts)
        .map(([s, n]) => `${s} ${f(n)} (${f(conversations[s] ?? 0)} conversations)`)
        .join(', ')}; ${f(first.people.totalCount)} people`,
      `index build (first people read): ${f(buildMs)} ms; heap retained ${f(bytesPerContact)} bytes/contact (${f((after - before) / 1048576, 1)} MiB)`,
      `people(first: 50): p50 ${f(pageSummary.p50, 2)} ms, p99 ${f(pageSummary.p99, 2)} ms (n=${pageSummary.n})`,
      `person(id) { conversations(first: 20) }: p50 ${f(personSummary.p50, 2)} ms, p99 ${f(personSummary.p99, 2)} ms (n=${personSummary.n})`,
      `the floor, { __typename } on the same gateway: p50 ${f(floor.p50, 2)} ms, p99 ${f(floor.p99, 2)} ms`,
      `one change applied (a Chatwoot conversation re-read, its people re-formed): ${f(changeMs, 2)} ms`,
      `forming the same people from scratch (per operation before the index): ${f(fromScratchMs)} ms (${repeats === 1 ? 'once' : `median of ${repeats}`})`,
    ].join('\n');
    return {
      contacts: counts,
      conversations,
      people: first.people.totalCount,
      buildMs,
      bytesPerContact,
      peoplePage: pageSummary,
      personConversations: personSummary,
      changeMs,
      fromScratchMs,
      floor,
      text,
    };
  } finally {
    await gateway?.close();
    await child.stop();
  }
}

/** The child: every emulator, each at its own scale. */
function serveSandbox(): void {
  let sandbox: Sandbox | null = null;
  serveRpc(
    {
      start: async ({ scales }: { scales: Partial<Record<SourceKind, number>> }) => {
        sandbox = await startSandbox({ scales, seed: 15, rateLimitPerMinute: 1_000_000_000 });
        return { sourceConfigs: sandbox.sourceConfigs };
      },
    },
    async () => {
      await sandbox?.close();
    },
  );
}

// `tsx bench/people.ts [contacts]` runs this section alone.
if (require.main === module && process.argv.includes('--sandbox-child')) {
  serveSandbox();
} else if (require.main === module) {
  runAlone(peopleBench(Number(process.argv[2] ?? 10_000), (l) => process.stderr.write(`${l}\n`)));
}
