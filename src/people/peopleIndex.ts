import type { Connector, ConversationModel, ParticipantModel, RequestScope, UpstreamCall } from '../connectors/types';
import type { LinkState } from './links';
import { readSource } from './load';
import { normalizeEmail, normalizePhone } from './normalize';
import { comparePeople, participantKey, type PersonModel } from './people';

/**
 * # The people index (issue 15)
 *
 * One per gateway (server/services.ts builds it; never module state). It keeps, per source, every CONTACT
 * participant with its normalised email and phone (normalised once per participant model, not per request) and
 * the conversations it is in; and per **view** (one set of visible sources, i.e. what one kind of API key sees)
 * the people of those sources: an index from email/phone key to participants, participant to person, and the
 * people in the `Query.people` order (last activity descending, then id), kept sorted.
 *
 * It is updated incrementally, never rebuilt per request:
 * - a change the live engine hears (`LiveEngine.onChange`: webhooks, polls, the gateway's own mutations) re-reads
 *   that one conversation (a catalog lookup for catalog sources) and re-forms only the people it touches: the
 *   components (union-find's sets) of its old and new participants, found again by a walk over email/phone keys
 *   and manual links;
 * - a change that names no conversation, and a source state older than `maxAgeMs` at a read, re-read the whole
 *   source in the background (its catalog; `listContacts` pages where the connector has one, charged to the
 *   background tenant of the fair share) and re-form only the participants whose details or conversations differ;
 * - manual links are read per operation as before; a view applies what changed since its last read.
 *
 * A read waits for the first load of its sources and for changes already heard; a stale source is served as it
 * is while it is re-read. The result equals the from-scratch formation (`formPeople` over `readSource` of every
 * visible source): test/unit/people/peopleIndex.test.ts checks it over random data and random changes.
 *
 * Tenancy: a view holds only its sources' participants, so a person seen through it is formed of them alone
 * (a bridge through a hidden source joins nothing). Views are built on first use and the least recently used
 * go beyond `maxViews`.
 */
export interface PeopleIndexOptions {
  connectors: readonly Connector[];
  defaultCountry: string | null;
  /** The person id (schema/ids.ts), which is also the tie-break of the people order and of its cursors. */
  personId: (p: PersonModel) => string;
  /**
   * A source's state older than this (since its last full read ended) is re-read in the background at the next
   * read: the safety net for changes this instance never heard of. @default 600_000 (the catalogs' default age)
   */
  maxAgeMs?: number;
  /** A source whose load failed is tried again at a read at most this often. @default 5_000 */
  retryMs?: number;
  /** Views (distinct sets of visible sources) kept. @default 16 */
  maxViews?: number;
  /** Background failures (a re-read of a source or conversation). */
  onError?: (error: unknown, sourceId: string) => void;
  /** Every upstream call of the index's reads, with its request id (`people-<source>-<n>`). */
  recordUpstream?: (call: UpstreamCall, requestId: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/** One participant of a source as the index holds it. */
interface Entry {
  model: ParticipantModel;
  email: string | null;
  phone: string | null;
  /** From the source's contact listing (kept even without conversations). */
  listed: boolean;
  /** Native ids of its conversations. */
  convs: Set<string>;
}

interface Held {
  model: ConversationModel;
  /** Participant keys of its CONTACT participants. */
  members: string[];
}

class SourceState {
  readonly entries = new Map<string, Entry>();
  readonly conversations = new Map<string, Held>();
  loadedAt: number | null = null;
  error: unknown = null;
  failedAt = 0;
  loading: Promise<void> | null = null;
  /** A change that names no conversation arrived during a load: load once more after it. */
  reloadAfter = false;
  /** Conversations changed during a load: re-read after it. */
  readonly changedDuringLoad = new Set<string>();
  /** Changes being applied (a read waits for them). */
  readonly pending = new Set<Promise<void>>();
  constructor(readonly sourceId: string) {}
}

/** One entry of the people order. */
export interface OrderedPerson {
  t: number | null;
  id: string;
  person: PersonModel;
}

/** What an operation reads of the people of its sources. */
export interface PeopleView {
  /** The person of a participant, when the participant is a known CONTACT of the view's sources. */
  personOf(participantKey: string): PersonModel | undefined;
  /** Every person, in the people order (last activity descending, then id). Not to be modified. */
  ordered(): readonly OrderedPerson[];
}

const participantFingerprint = (p: ParticipantModel) =>
  JSON.stringify([p.kind, p.name ?? null, p.email ?? null, p.phone ?? null, p.avatarUrl ?? null]);

/** What a person shows of a conversation: its activity, unread count and last message (awaitingReplySince). */
const conversationFingerprint = (c: ConversationModel, members: string[]) =>
  JSON.stringify([
    c.lastMessageAt?.getTime() ?? null,
    c.unreadCount ?? null,
    c.lastMessage?.nativeId ?? null,
    c.lastMessage?.direction ?? null,
    c.lastMessage?.private ?? null,
    members,
  ]);

const sourceOfKey = (k: string) => k.slice(0, k.indexOf('\u0000'));
const pairKey = (a: string, b: string) => (a < b ? `${a}\u0001${b}` : `${b}\u0001${a}`);

function compareKeys(a: string, b: string, entries: (k: string) => Entry | undefined): number {
  const x = entries(a)!.model;
  const y = entries(b)!.model;
  if (x.sourceId !== y.sourceId) return x.sourceId < y.sourceId ? -1 : 1;
  return x.nativeId === y.nativeId ? 0 : x.nativeId < y.nativeId ? -1 : 1;
}

/** The people of one set of sources, kept up to date by {@link LivePeopleIndex}. */
class View implements PeopleView {
  /** Email/phone key -> participant keys (pinned participants are under none). */
  private readonly byKey = new Map<string, Set<string>>();
  /** Participant key -> the email/phone keys it is indexed under. */
  private readonly indexedUnder = new Map<string, string[]>();
  private readonly person = new Map<string, PersonModel>();
  private readonly order: OrderedPerson[] = [];
  private readonly orderKey = new Map<PersonModel, OrderedPerson>();
  private pairs = new Set<string>();
  private pins = new Set<string>();
  private readonly linked = new Map<string, Set<string>>();
  lastUsed = 0;

  constructor(
    readonly sources: ReadonlySet<string>,
    private readonly entry: (k: string) => Entry | undefined,
    private readonly conversation: (sourceId: string, nativeId: string) => ConversationModel | undefined,
    private readonly personId: (p: PersonModel) => string,
  ) {}

  personOf(k: string): PersonModel | undefined {
    return this.person.get(k);
  }

  ordered(): readonly OrderedPerson[] {
    return this.order;
  }

  size(): number {
    return this.person.size;
  }

  private visible(k: string): Entry | undefined {
    return this.sources.has(sourceOfKey(k)) ? this.entry(k) : undefined;
  }

  /** Applies the manual links as they are now: only participants whose links or pin changed are re-formed. */
  setLinks(links: LinkState | undefined): void {
    const pairs = new Set((links?.edges ?? []).map(([a, b]) => pairKey(a, b)));
    const pins = links?.pins ?? new Set<string>();
    const touched = new Set<string>();
    const edge = (p: string, add: boolean) => {
      const [a, b] = p.split('\u0001') as [string, string];
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        let s = this.linked.get(x);
        if (add) {
          if (!s) this.linked.set(x, (s = new Set()));
          s.add(y);
        } else if (s) {
          s.delete(y);
          if (s.size === 0) this.linked.delete(x);
        }
      }
      touched.add(a).add(b);
    };
    for (const p of this.pairs) if (!pairs.has(p)) edge(p, false);
    for (const p of pairs) if (!this.pairs.has(p)) edge(p, true);
    for (const k of this.pins) if (!pins.has(k)) touched.add(k);
    for (const k of pins) if (!this.pins.has(k)) touched.add(k);
    this.pairs = pairs;
    this.pins = new Set(pins);
    if (touched.size) this.update(touched);
  }

  /**
   * Re-forms the people of `touched` participants (whose details, conversations, links or presence changed): they
   * are re-indexed under their keys, their old people dissolved, and the components of every participant of those
   * people found again by a walk over keys and links. Components no touched participant reaches keep their person
   * (and its id and object).
   */
  update(touched: Iterable<string>): void {
    const affected = new Set<string>();
    for (const k of touched) {
      if (!this.sources.has(sourceOfKey(k))) continue;
      this.reindex(k);
      affected.add(k);
    }
    const dissolve = (p: PersonModel) => {
      const o = this.orderKey.get(p);
      if (!o) return;
      this.orderKey.delete(p);
      const i = this.position(o);
      if (this.order[i]?.person === p) this.order.splice(i, 1);
      for (const m of p.members) {
        const k = participantKey(m);
        if (this.person.get(k) === p) this.person.delete(k);
        affected.add(k);
      }
    };
    for (const k of [...affected]) {
      const old = this.person.get(k);
      if (old) dissolve(old);
    }
    const done = new Set<string>();
    for (const start of affected) {
      if (done.has(start) || !this.visible(start)) continue;
      const group: string[] = [];
      const queue = [start];
      done.add(start);
      while (queue.length) {
        const k = queue.pop() as string;
        group.push(k);
        // A participant reached here whose person is whole so far joins with all of it.
        const old = this.person.get(k);
        if (old) dissolve(old);
        const next = (n: string) => {
          if (!done.has(n) && this.visible(n)) {
            done.add(n);
            queue.push(n);
          }
        };
        for (const key of this.indexedUnder.get(k) ?? []) for (const n of this.byKey.get(key) ?? []) next(n);
        for (const n of this.linked.get(k) ?? []) next(n);
      }
      this.form(group);
    }
  }

  /** Puts a participant under its current email/phone keys (none when pinned or gone). */
  private reindex(k: string): void {
    for (const key of this.indexedUnder.get(k) ?? []) {
      const s = this.byKey.get(key);
      s?.delete(k);
      if (s?.size === 0) this.byKey.delete(key);
    }
    this.indexedUnder.delete(k);
    const e = this.visible(k);
    if (!e || this.pins.has(k)) return;
    const keys: string[] = [];
    if (e.email) keys.push(`e:${e.email}`);
    if (e.phone) keys.push(`p:${e.phone}`);
    if (!keys.length) return;
    this.indexedUnder.set(k, keys);
    for (const key of keys) {
      let s = this.byKey.get(key);
      if (!s) this.byKey.set(key, (s = new Set()));
      s.add(k);
    }
  }

  /** One person of a component (as formPeople's personOf: members in order, emails and phones in member order). */
  private form(group: string[]): void {
    group.sort((a, b) => compareKeys(a, b, this.entry));
    const members: ParticipantModel[] = [];
    const emails = new Set<string>();
    const phones = new Set<string>();
    const conversations = new Map<string, ConversationModel>();
    let last: Date | null = null;
    for (const k of group) {
      const e = this.entry(k) as Entry;
      members.push(e.model);
      if (e.email) emails.add(e.email);
      if (e.phone) phones.add(e.phone);
      for (const id of e.convs) {
        const c = this.conversation(e.model.sourceId, id);
        if (!c) continue;
        conversations.set(`${c.sourceId}\u0000${c.nativeId}`, c);
        if (c.lastMessageAt && (!last || c.lastMessageAt > last)) last = c.lastMessageAt;
      }
    }
    const person: PersonModel = {
      __person: true,
      anchor: members[0] as ParticipantModel,
      members,
      emails: [...emails],
      phones: [...phones],
      conversations: [...conversations.values()],
      lastMessageAt: last,
    };
    for (const k of group) this.person.set(k, person);
    const o: OrderedPerson = { t: last?.getTime() ?? null, id: this.personId(person), person };
    this.orderKey.set(person, o);
    this.order.splice(this.position(o), 0, o);
  }

  /** Where `o` is or would be in the order (binary search). */
  private position(o: { t: number | null; id: string }): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePeople(this.order[mid] as OrderedPerson, o) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The per-gateway people index: see the module comment. */
export class LivePeopleIndex {
  private readonly states = new Map<string, SourceState>();
  private readonly views = new Map<string, View>();
  private readonly connectors: Map<string, Connector>;
  private readonly now: () => number;
  private seq = 0;
  private closed = false;
  /** Conversations this instance heard of whose pub/sub announcement has not come back yet. */
  private readonly echoes = new Set<string>();

  constructor(private readonly opts: PeopleIndexOptions) {
    this.connectors = new Map(opts.connectors.map((c) => [c.id, c]));
    this.now = opts.now ?? Date.now;
  }

  /**
   * The people of `sourceIds` (the sources an API key may see) with `links` applied. Loads each source at its first
   * read (and after a failure, at most every `retryMs`), waits for changes already heard, re-reads stale sources
   * in the background. `onSourceError` hears of each source whose last load failed (its participants are absent).
   */
  async read(
    sourceIds: readonly string[],
    links: LinkState | undefined,
    onSourceError: (e: unknown) => void,
  ): Promise<PeopleView> {
    await Promise.all(
      sourceIds.map(async (id) => {
        const s = this.state(id);
        const retry = !s.error || this.now() - s.failedAt >= (this.opts.retryMs ?? 5_000);
        if (s.loadedAt === null) {
          if (s.loading || retry) await this.load(s);
        } else if (retry && this.now() - s.loadedAt >= (this.opts.maxAgeMs ?? 600_000)) void this.load(s);
        // The changes heard so far (not those heard meanwhile: a busy source must not hold reads back).
        await Promise.all([...s.pending]);
      }),
    );
    for (const id of sourceIds) {
      // A source never loaded is absent, with its error; one that failed a re-read is served as it was.
      const s = this.state(id);
      if (s.error && s.loadedAt === null) onSourceError(s.error);
    }
    const view = this.view(sourceIds);
    view.setLinks(links);
    return view;
  }

  /**
   * A change the live engine heard (LiveEngine.onChange): re-reads that conversation, or the whole source when it
   * names none, and re-forms the people it touches. Sources not loaded yet are left alone (their first read loads
   * them). Returns when the change is applied; never rejects (failures go to `onError`).
   */
  changed(sourceId: string, conversationNativeId: string | null, heardHere = true): Promise<void> {
    if (heardHere && conversationNativeId !== null) {
      // Its announcement comes back on the pub/sub ({@link announced}); bounded in case it never does.
      if (this.echoes.size >= 10_000) this.echoes.clear();
      this.echoes.add(`${sourceId}\u0000${conversationNativeId}`);
    }
    const s = this.states.get(sourceId);
    if (!s || this.closed || (s.loadedAt === null && !s.loading)) return Promise.resolve();
    if (s.loading) {
      if (conversationNativeId === null) s.reloadAfter = true;
      else s.changedDuringLoad.add(conversationNativeId);
      return s.loading;
    }
    if (conversationNativeId === null) return this.load(s);
    return this.track(s, this.refreshConversation(s, conversationNativeId));
  }

  /**
   * A conversation change announced on the pub/sub (`conversation:<source>`, docs/live.md "Topics"), by this instance
   * or another: how changes other instances heard reach this index. One this instance heard itself first (through
   * {@link changed}, which the live engine calls before it announces) is its own echo and is skipped.
   */
  announced(sourceId: string, conversationNativeId: string): Promise<void> {
    if (this.echoes.delete(`${sourceId}\u0000${conversationNativeId}`)) return Promise.resolve();
    return this.changed(sourceId, conversationNativeId, false);
  }

  /** Participants held over every source (the bench's "per contact"). */
  size(): number {
    let n = 0;
    for (const s of this.states.values()) n += s.entries.size;
    return n;
  }

  /** Resolves once every load and change under way is applied. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.states.values()].flatMap((s) => [...(s.loading ? [s.loading] : []), ...s.pending]);
      if (!running.length) return;
      await Promise.allSettled(running);
    }
  }

  /** Stops taking changes and waits for the work under way. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  private state(id: string): SourceState {
    let s = this.states.get(id);
    if (!s) this.states.set(id, (s = new SourceState(id)));
    return s;
  }

  private entryOf = (k: string): Entry | undefined => this.states.get(sourceOfKey(k))?.entries.get(k);

  private conversationOf = (sourceId: string, nativeId: string): ConversationModel | undefined =>
    this.states.get(sourceId)?.conversations.get(nativeId)?.model;

  private view(sourceIds: readonly string[]): View {
    const id = [...new Set(sourceIds)].sort().join('\u0000');
    let v = this.views.get(id);
    if (!v) {
      v = new View(new Set(sourceIds), this.entryOf, this.conversationOf, this.opts.personId);
      const all: string[] = [];
      for (const s of sourceIds) for (const k of this.states.get(s)?.entries.keys() ?? []) all.push(k);
      v.update(all);
      this.views.set(id, v);
      const max = this.opts.maxViews ?? 16;
      if (this.views.size > max) {
        const oldest = [...this.views.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
        if (oldest) this.views.delete(oldest[0]);
      }
    }
    v.lastUsed = this.now();
    return v;
  }

  private touch(sourceId: string, touched: Set<string>): void {
    if (!touched.size) return;
    for (const v of this.views.values()) if (v.sources.has(sourceId)) v.update(touched);
  }

  private scope(sourceId: string): RequestScope {
    const requestId = `people-${sourceId}-${++this.seq}`;
    const record = this.opts.recordUpstream;
    // No tenant: the background's share of the source's budget (connectors/fairShare.ts).
    return { requestId, recordUpstream: record && ((call) => record(call, requestId)) };
  }

  private track(s: SourceState, work: Promise<void>): Promise<void> {
    const p = work.catch((e: unknown) => this.opts.onError?.(e, s.sourceId));
    s.pending.add(p);
    void p.finally(() => s.pending.delete(p));
    return p;
  }

  /** A full read of the source; concurrent calls share it. Never rejects: a failure is kept in `error`. */
  private load(s: SourceState): Promise<void> {
    if (s.loading) return s.loading;
    const run = (async () => {
      try {
        const connector = this.connectors.get(s.sourceId);
        if (!connector) throw new Error(`No source "${s.sourceId}".`);
        const read = await readSource(connector.openSession(this.scope(s.sourceId)));
        this.applyFull(s, read);
        // Changes heard while it read are applied after it (changedDuringLoad), so its age counts from now.
        s.loadedAt = this.now();
        s.error = null;
      } catch (e) {
        s.error = e;
        s.failedAt = this.now();
        if (s.loadedAt !== null) this.opts.onError?.(e, s.sourceId);
      }
    })().finally(() => {
      s.loading = null;
      const again = s.reloadAfter;
      const ids = [...s.changedDuringLoad];
      s.reloadAfter = false;
      s.changedDuringLoad.clear();
      if (this.closed) return;
      if (again) void this.track(s, this.load(s));
      else for (const id of ids) void this.track(s, this.refreshConversation(s, id));
    });
    s.loading = run;
    return run;
  }

  /** A whole source read: only participants whose details or conversations differ are re-formed. */
  private applyFull(s: SourceState, read: Awaited<ReturnType<typeof readSource>>): void {
    const touched = new Set<string>();
    const seenConvs = new Set<string>();
    const models = new Map<string, { model: ParticipantModel; listed: boolean }>();
    const convsOf = new Map<string, Set<string>>();
    const keep = (p: ParticipantModel, listed: boolean) => {
      if (p.kind !== 'CONTACT' || p.sourceId !== s.sourceId) return null;
      const k = participantKey(p);
      const had = models.get(k);
      if (!had) models.set(k, { model: p, listed });
      else if (listed) had.listed = true;
      return k;
    };
    for (const p of read.contacts) keep(p, true);
    for (const { conversation: c, participants } of read.conversations) {
      if (seenConvs.has(c.nativeId)) continue;
      seenConvs.add(c.nativeId);
      const members = [...new Set(participants.map((p) => keep(p, false)).filter((k): k is string => !!k))];
      for (const k of members) {
        let set = convsOf.get(k);
        if (!set) convsOf.set(k, (set = new Set()));
        set.add(c.nativeId);
      }
      const old = s.conversations.get(c.nativeId);
      if (!old || conversationFingerprint(old.model, old.members) !== conversationFingerprint(c, members)) {
        for (const k of old?.members ?? []) touched.add(k);
        for (const k of members) touched.add(k);
      }
      s.conversations.set(c.nativeId, { model: c, members });
    }
    for (const [id, old] of s.conversations) {
      if (seenConvs.has(id)) continue;
      s.conversations.delete(id);
      for (const k of old.members) touched.add(k);
    }
    for (const k of s.entries.keys()) {
      if (models.has(k)) continue;
      s.entries.delete(k);
      touched.add(k);
    }
    for (const [k, { model, listed }] of models) {
      const e = s.entries.get(k);
      const convs = convsOf.get(k) ?? new Set<string>();
      if (!e || participantFingerprint(e.model) !== participantFingerprint(model)) {
        s.entries.set(k, this.entry(model, listed, convs));
        touched.add(k);
      } else {
        e.model = model;
        e.listed = listed;
        e.convs = convs;
      }
    }
    this.touch(s.sourceId, touched);
  }

  private entry(model: ParticipantModel, listed: boolean, convs: Set<string>): Entry {
    return {
      model,
      email: normalizeEmail(model.email),
      phone: normalizePhone(model.phone, this.opts.defaultCountry),
      listed,
      convs,
    };
  }

  /** One conversation re-read (upserted, or removed when gone), and the people of its old and new participants. */
  private async refreshConversation(s: SourceState, nativeId: string): Promise<void> {
    const connector = this.connectors.get(s.sourceId);
    if (!connector) return;
    const session = connector.openSession(this.scope(s.sourceId));
    const c = await session.loadConversation(nativeId);
    const participants = c ? (c.participants ?? (await session.loadParticipants(c))) : [];
    const touched = new Set<string>();
    const old = s.conversations.get(nativeId);
    for (const k of old?.members ?? []) {
      touched.add(k);
      const e = s.entries.get(k);
      if (!e) continue;
      e.convs.delete(nativeId);
      if (!e.convs.size && !e.listed) s.entries.delete(k);
    }
    if (!c) {
      s.conversations.delete(nativeId);
      this.touch(s.sourceId, touched);
      return;
    }
    const members: string[] = [];
    for (const p of participants) {
      if (p.kind !== 'CONTACT' || p.sourceId !== s.sourceId) continue;
      const k = participantKey(p);
      if (members.includes(k)) continue;
      members.push(k);
      touched.add(k);
      const e = s.entries.get(k);
      if (!e) s.entries.set(k, this.entry(p, false, new Set([nativeId])));
      else {
        // A listed contact keeps the listing's details where the conversation's copy has none (Monica's carries no
        // contact fields: docs/vendors/monica.md), as the from-scratch formation reads the listing first; what the
        // copy does carry is newer (a Chatwoot contact's new email). A field removed upstream from a listed contact
        // goes at the source's next full read.
        const next = e.listed
          ? {
              ...p,
              name: p.name ?? e.model.name,
              email: p.email ?? e.model.email,
              phone: p.phone ?? e.model.phone,
              avatarUrl: p.avatarUrl ?? e.model.avatarUrl,
            }
          : p;
        if (participantFingerprint(e.model) !== participantFingerprint(next))
          s.entries.set(k, this.entry(next, e.listed, e.convs));
        s.entries.get(k)!.convs.add(nativeId);
      }
    }
    s.conversations.set(nativeId, { model: c, members });
    this.touch(s.sourceId, touched);
  }
}
