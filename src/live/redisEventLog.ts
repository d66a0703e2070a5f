import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { NO_REDIS_GUARD, type RedisGuard } from '../connectors/catalog-stores/redis';
import type { EventLog, FeedEntry, LogReplay, Position } from './eventLog';

/**
 * docs/live.md "Event log": the thread events of each source in one Redis stream, shared by every instance, so
 * a cursor taken on one instance resumes on any other.
 *
 * - **Keys** (docs/live.md "What Redis holds"): `<p>live:events:epoch` names the deployment's log (a random id,
 *   set by the first instance that needs it); each source's stream is `<p>live:events:<epoch>:<source>`. A Redis
 *   that lost its data (restart without persistence, FLUSHDB) has lost the epoch too: the next instance draws a
 *   new one, and a cursor of the old one is unknown (ResyncRequired UNKNOWN_CURSOR), never a silent miss.
 * - **One order.** The publisher appends (`XADD`, one script with the epoch check and the trims) and then puts the
 *   event on `events:<source>` with its entry id; every instance, hearing it, reads the stream after the last
 *   entry it fed (`XRANGE (<last> +`), so every instance feeds every entry once, in the stream's order, whatever
 *   order the notifications arrive in. Reads of a source are coalesced (one in flight, one more after it).
 * - **Bounds.** Each append trims the stream to `maxLength` replayable entries and drops those older than
 *   `maxAgeMs` (stream ids are Redis's clock in ms: `MINID`), exactly (not `~`, which keeps whole 100-entry nodes,
 *   no bound at all for a short log); a replay trims by age first. One entry more is kept: the proof.
 * - **Gaps, exactly.** Trimming goes oldest first and keeps one entry before the replayable ones, so the entry at
 *   a cursor's position still existing proves nothing after it is gone, and its absence proves something after
 *   it is (more than `maxLength` events since, or older than `maxAgeMs`): `TRIMMED`, as the in-memory log. From
 *   the origin (an empty stream), any entry gone is a gap (`XINFO STREAM` entries-added > length, Redis ≥ 7). A
 *   position after the stream's last id is `UNKNOWN_CURSOR`.
 * - **Redis down** (server/redisHealth.ts, `health`): `record` gives no mark, and the event travels the topic alone
 *   (the Redis pub/sub delivers it on this instance only, docs/live.md "When Redis is down"): it is fed as an
 *   entry of no log (`seq: null`), live subscribers here get it, and the source owes the stream a **gap marker**,
 *   appended before its next event once Redis answers: a replay across it is `TRIMMED` (events happened that the
 *   stream does not hold). A replay while Redis is down is `UNKNOWN_CURSOR` (the log cannot be read). Reads that
 *   failed are made again when Redis is back.
 */
export interface RedisEventLogOptions<E> {
  redis: Redis;
  /** The gateway's key prefix (`redis.keyPrefix`). */
  prefix: string;
  maxLength: number;
  maxAgeMs: number;
  /** An event as the topic carries it, from a stream entry's JSON (null: not understood, skipped). */
  decode: (sourceId: string, payload: unknown) => E | null;
  health?: RedisGuard;
  /** Background failures (a read of the stream that failed while Redis looked up). */
  onError?: (error: unknown, sourceId: string) => void;
  /** Entries read per XRANGE by the feed. @default 500 */
  batch?: number;
}

/** What the topic carries with an event: the stream entry it is. */
export interface StreamMark {
  e: string;
  id: string;
}

const ID = /^(\d+)-(\d+)$/;
/** How soon a read of a stream that fell back while Redis is up is made again. */
const PULL_RETRY_MS = 1000;

/** Stream ids compare as (ms, n). */
export function compareIds(a: string, b: string): number {
  const x = ID.exec(a);
  const y = ID.exec(b);
  if (!x || !y) throw new Error(`not a stream id: ${!x ? a : b}`);
  const ms = BigInt(x[1]!) - BigInt(y[1]!);
  if (ms !== 0n) return ms > 0n ? 1 : -1;
  const n = BigInt(x[2]!) - BigInt(y[2]!);
  return n === 0n ? 0 : n > 0n ? 1 : -1;
}

export function isStreamMark(m: unknown): m is StreamMark {
  const o = m as Partial<StreamMark> | null;
  return !!o && typeof o.e === 'string' && typeof o.id === 'string' && ID.test(o.id);
}

/**
 * The current epoch (drawn when missing), then the stream's key. KEYS[1] epoch key; ARGV[1] stream key prefix,
 * ARGV[2] source, ARGV[3] a fresh epoch. (Stream keys are built here from the epoch: standalone Redis, as the
 * rest of the gateway's scripts.)
 *
 * `trimByAge` drops the entries older than `maxAge` ms (on Redis's clock, which the ids are) but the newest of
 * them: that one stays as the proof that nothing after it is gone (a cursor at it resumes), and is never replayed
 * (it is at or before the position of anyone it could serve).
 */
const EPOCH = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[1], epoch)
end
local key = ARGV[1] .. epoch .. ':' .. ARGV[2]
local function trimByAge(maxAge)
  if redis.call('EXISTS', key) == 0 then return end
  local t = redis.call('TIME')
  local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - maxAge
  if cutoff <= 0 then return end
  local older = redis.call('XREVRANGE', key, '(' .. string.format('%.0f', cutoff) .. '-0', '-', 'COUNT', 1)
  if #older == 1 then redis.call('XTRIM', key, 'MINID', older[1][1]) end
end
`;

/**
 * Appends (a gap marker first when ARGV[7] is 1), keeping ARGV[4] entries (maxLength + 1: the oldest is the
 * proof, see {@link EPOCH}). ARGV[5] maxAgeMs, ARGV[6] the event's JSON. Returns {epoch, id}.
 */
const APPEND = `${EPOCH}
if ARGV[7] == '1' then redis.call('XADD', key, 'MAXLEN', ARGV[4], '*', 'gap', '1') end
local id = redis.call('XADD', key, 'MAXLEN', ARGV[4], '*', 'e', ARGV[6])
trimByAge(tonumber(ARGV[5]))
return {epoch, id}
`;

/**
 * Reads after ARGV[5] (exclusive), after trimming by age (ARGV[4] ms). ARGV[6]: `head` gives {epoch, last id};
 * `feed` gives {epoch, last, 0, up to ARGV[7] entries}; `replay` gives {epoch, last id, gap, every entry}, where
 * gap is 1 when an entry after the position is gone: the entry at the position is gone (trimming goes oldest
 * first, and keeps one entry more than it replays), or, from the origin, any entry is gone.
 */
const READ = `${EPOCH}
trimByAge(tonumber(ARGV[4]))
if redis.call('EXISTS', key) == 0 then return {epoch, '0-0', 0, {}} end
local mode, after = ARGV[6], ARGV[5]
if mode == 'feed' then
  return {epoch, '', 0, redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', tonumber(ARGV[7]))}
end
local info = redis.call('XINFO', 'STREAM', key)
local f = {}
for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
if mode == 'head' then return {epoch, f['last-generated-id'], 0, {}} end
local gap = 0
if after == '0-0' then
  if tonumber(f['entries-added']) > tonumber(f['length']) then gap = 1 end
elseif #redis.call('XRANGE', key, after, after) == 0 then
  gap = 1
end
return {epoch, f['last-generated-id'], gap, redis.call('XRANGE', key, '(' .. after, '+')}
`;

type RawEntry = [string, string[]];
type ReadResult = [string, string, number, RawEntry[]];

interface Reader {
  /** '' until the first read of the source's head. */
  epoch: string;
  last: string;
  reading: Promise<void> | null;
  again: boolean;
  /**
   * While the head is unknown (the first read of it fell back): just before the first entry a notification named,
   * in that epoch. Live news starts there, not at the stream's end when the head is read at last (already past it).
   */
  from?: { epoch: string; id: string };
  /** A read that fell back while Redis is up (one command timed out): made again shortly. */
  retry?: NodeJS.Timeout;
}

/** The stream id just before `id` (exclusive ranges start after it). */
function idBefore(id: string): string {
  const [, ms, n] = ID.exec(id)!;
  if (BigInt(n!) > 0n) return `${ms}-${BigInt(n!) - 1n}`;
  return BigInt(ms!) > 0n ? `${BigInt(ms!) - 1n}-18446744073709551615` : '0-0';
}

export class RedisEventLog<E> implements EventLog<E> {
  readonly origin = '0-0';
  private epoch = '';
  private readonly readers = new Map<string, Reader>();
  /** Sources with events delivered here only while Redis was down: their stream owes a gap marker. */
  private readonly owesGap = new Set<string>();
  private deliver: (sourceId: string, entry: FeedEntry<E>) => void = () => undefined;
  private readonly health: RedisGuard;
  private readonly offHealth: () => void;
  private closed = false;

  constructor(private readonly opts: RedisEventLogOptions<E>) {
    this.health = opts.health ?? NO_REDIS_GUARD;
    // Back from an outage: what was appended meanwhile by others (and missed here) is read now.
    this.offHealth = this.health.onChange((up) => {
      if (up) for (const s of this.readers.keys()) this.pull(s);
    });
  }

  currentEpoch(): string {
    return this.epoch;
  }

  head(sourceId: string): Position {
    const r = this.readers.get(sourceId);
    return r && r.epoch === this.epoch ? r.last : this.origin;
  }

  isPosition(p: unknown): p is string {
    return typeof p === 'string' && ID.test(p);
  }

  after(a: Position, b: Position): boolean {
    return compareIds(String(a), String(b)) > 0;
  }

  feed(deliver: (sourceId: string, entry: FeedEntry<E>) => void): void {
    this.deliver = deliver;
  }

  async start(sourceIds: string[]): Promise<void> {
    for (const s of sourceIds) this.readers.set(s, { epoch: '', last: this.origin, reading: null, again: false });
    await Promise.all(sourceIds.map((s) => this.pull(s)));
  }

  async record(sourceId: string, event: E): Promise<StreamMark | null> {
    const gap = this.owesGap.has(sourceId);
    const r = await this.health.guard(
      async () => {
        const [epoch, id] = (await this.opts.redis.eval(
          APPEND,
          1,
          this.epochKey(),
          this.streamPrefix(),
          sourceId,
          randomUUID().slice(0, 8),
          String(this.opts.maxLength + 1),
          String(this.opts.maxAgeMs),
          JSON.stringify(event),
          gap ? '1' : '0',
        )) as [string, string];
        return { e: epoch, id };
      },
      () => null,
    );
    if (r === null) this.owesGap.add(sourceId);
    else if (gap) this.owesGap.delete(sourceId);
    return r;
  }

  hear(sourceId: string, event: E, mark: unknown): void {
    const reader = this.readers.get(sourceId);
    if (!reader || this.closed) return;
    if (!isStreamMark(mark)) {
      // Delivered by the pub/sub on this instance only (Redis was down when it was published): in no log.
      this.deliver(sourceId, { seq: null, epoch: this.epoch, event });
      return;
    }
    if (mark.e === reader.epoch && compareIds(mark.id, reader.last) <= 0) return; // fed already
    if (reader.epoch === '') {
      const before = idBefore(mark.id);
      if (!reader.from || reader.from.epoch !== mark.e || compareIds(before, reader.from.id) < 0)
        reader.from = { epoch: mark.e, id: before };
    }
    void this.pull(sourceId);
  }

  async replay(sourceId: string, epoch: string, position: Position): Promise<LogReplay<E>> {
    if (!this.isPosition(position)) return { gap: 'UNKNOWN_CURSOR' };
    return this.health.guard<LogReplay<E>>(
      async () => {
        const [current, last, gap, entries] = await this.read(sourceId, position, 'replay');
        if (current !== epoch || compareIds(position, last) > 0) return { gap: 'UNKNOWN_CURSOR' };
        if (gap === 1) return { gap: 'TRIMMED' };
        const events: Array<{ seq: Position; event: E }> = [];
        for (const [id, fields] of entries) {
          const entry = this.entry(sourceId, fields);
          if (entry === 'gap') return { gap: 'TRIMMED' };
          if (entry !== null) events.push({ seq: id, event: entry });
        }
        return { events };
      },
      // The log cannot be read now: the client refetches rather than miss what it holds.
      () => ({ gap: 'UNKNOWN_CURSOR' }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.readers.values()) if (r.retry) clearTimeout(r.retry);
    this.offHealth();
    await Promise.allSettled([...this.readers.values()].map((r) => r.reading));
  }

  /** Reads the source's stream after the last entry fed; one read in flight per source, one more after it. */
  private pull(sourceId: string): Promise<void> {
    const r = this.readers.get(sourceId)!;
    if (r.reading) {
      r.again = true;
      return r.reading;
    }
    r.reading = (async () => {
      try {
        do {
          r.again = false;
          await this.health
            .guard(
              () => this.readNew(sourceId, r),
              // Redis is down: read again when it is back (onChange). Up (one command timed out): again shortly.
              () => {
                r.again = false;
                if (this.health.isDown() || this.closed || r.retry) return;
                r.retry = setTimeout(() => {
                  r.retry = undefined;
                  if (!this.closed) void this.pull(sourceId);
                }, PULL_RETRY_MS);
                r.retry.unref();
              },
            )
            .catch((e: unknown) => this.opts.onError?.(e, sourceId));
        } while (r.again && !this.closed);
      } finally {
        // Cleared in the same step as the last check of `again`: a notification after it starts a new read.
        r.reading = null;
      }
    })();
    return r.reading;
  }

  private async readNew(sourceId: string, r: Reader): Promise<void> {
    const batch = this.opts.batch ?? 500;
    for (;;) {
      if (this.closed) return;
      if (r.epoch === '') {
        // The first read learns where the stream ends: what came before is not live news.
        const [epoch, head] = await this.read(sourceId, this.origin, 'head');
        // Notified before the head was known: from the first entry named (docs/live.md "Event log").
        const last = r.from && r.from.epoch === epoch && compareIds(r.from.id, head) < 0 ? r.from.id : head;
        r.from = undefined;
        Object.assign(r, { epoch, last });
        this.epoch = epoch;
        continue;
      }
      const [epoch, , , entries] = await this.read(sourceId, r.last, 'feed', batch);
      if (epoch !== r.epoch) {
        // Redis lost the log (a new epoch): everything in the new stream is news, from its start.
        Object.assign(r, { epoch, last: this.origin });
        this.epoch = epoch;
        continue;
      }
      this.epoch = epoch;
      for (const [id, fields] of entries) {
        r.last = id;
        const event = this.entry(sourceId, fields);
        if (event !== null && event !== 'gap') this.deliver(sourceId, { seq: id, epoch, event });
      }
      if (entries.length < batch) return;
    }
  }

  private entry(sourceId: string, fields: string[]): E | 'gap' | null {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    if (f.gap !== undefined) return 'gap';
    if (f.e === undefined) return null;
    try {
      return this.opts.decode(sourceId, JSON.parse(f.e));
    } catch {
      return null;
    }
  }

  private async read(
    sourceId: string,
    after: string,
    mode: 'head' | 'feed' | 'replay',
    count = 0,
  ): Promise<ReadResult> {
    return (await this.opts.redis.eval(
      READ,
      1,
      this.epochKey(),
      this.streamPrefix(),
      sourceId,
      randomUUID().slice(0, 8),
      String(this.opts.maxAgeMs),
      after,
      mode,
      String(count),
    )) as ReadResult;
  }

  private epochKey() {
    return `${this.opts.prefix}live:events:epoch`;
  }

  private streamPrefix() {
    return `${this.opts.prefix}live:events:`;
  }
}
