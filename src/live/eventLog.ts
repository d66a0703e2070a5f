import { randomUUID } from 'node:crypto';

/**
 * docs/live.md "Event log": the bounded log of thread events per source that `conversationEvents(after:)` replays
 * from. Two logs behind one interface ({@link EventLog}): this in-memory one, and the Redis stream one
 * (redisEventLog.ts) used when Redis is configured, so a cursor resumes on any instance.
 *
 * The in-memory log: each instance numbers the events it hears (on `events:<source>`) per source, 1, 2, 3…, under
 * an epoch drawn when the log is made, so a cursor from another instance or from before a restart is recognised
 * as unknown (ResyncRequired), and a trimmed gap is recognised exactly (the numbers are contiguous).
 */

/** A place in a source's log: a number in memory, a stream entry id (`<ms>-<n>`) in Redis. */
export type Position = number | string;

/** An entry as the log hands it to the engine: `seq` null for an event delivered on this instance only, in no log. */
export interface FeedEntry<E> {
  seq: Position | null;
  /** The epoch `seq` belongs to. */
  epoch: string;
  event: E;
}

/** What a log answers for a resuming cursor: the events after its position, in order, or why they cannot be given. */
export type LogReplay<E> = { events: Array<{ seq: Position; event: E }> } | { gap: 'TRIMMED' | 'UNKNOWN_CURSOR' };

/**
 * docs/live.md "Event log": what ThreadEvents (events.ts) needs of a log, in memory or in Redis. The publisher
 * records an event (Redis appends it to the stream: one order for every instance) and puts it on the topic with
 * the mark `record` gave; every instance hears it and the log feeds its entries to the engine, in log order.
 */
export interface EventLog<E> {
  /** The epoch a cursor given now names. */
  currentEpoch(): string;
  /** The position before any entry. */
  readonly origin: Position;
  /** The position of the last entry this instance fed for the source ({@link origin} when none). */
  head(sourceId: string): Position;
  /** Whether a cursor's position is one of this log's kind. */
  isPosition(p: unknown): p is Position;
  /** Whether position `a` comes after `b`. */
  after(a: Position, b: Position): boolean;
  /** The events after `position` of `epoch`, or the gap; synchronous in memory (nothing can fall between). */
  replay(sourceId: string, epoch: string, position: Position): LogReplay<E> | Promise<LogReplay<E>>;
  /** Where entries go: called once, before {@link start}. */
  feed(deliver: (sourceId: string, entry: FeedEntry<E>) => void): void;
  /** Learns the sources' current heads. */
  start(sourceIds: string[]): Promise<void>;
  /** The publisher's part, before the topic: the mark the topic carries with the event (null: none). */
  record(sourceId: string, event: E): unknown;
  /** An event heard on the topic with its mark: feeds it (memory) or what the log holds after it (Redis). */
  hear(sourceId: string, event: E, mark: unknown): void;
  close(): Promise<void>;
}

export interface EventLogOptions {
  /** Events kept per source (the oldest go first). */
  maxLength: number;
  /** Events older than this (ms since this instance heard them) go too. */
  maxAgeMs: number;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
  /** Registers the log's size, in events over every source (`switchboard_memory_store_entries{store="live_event_log"}`). */
  trackSize?: (store: string, size: () => number) => void;
}

export interface LoggedEvent<E> {
  /** Position in the source's log on this instance: 1 for the first event it heard. */
  seq: number;
  event: E;
}

interface SourceLog<E> {
  /** The last number given (0: none yet). */
  head: number;
  entries: Array<LoggedEvent<E> & { storedAt: number }>;
}

/** What {@link MemoryEventLog.since} answers: the events after a position, or why they cannot be given. */
export type Replay<E> = { events: LoggedEvent<E>[] } | { gap: 'TRIMMED' | 'UNKNOWN_CURSOR' };

export class MemoryEventLog<E> implements EventLog<E> {
  /** Names this log's numbering: positions of another epoch mean nothing here. */
  readonly epoch = randomUUID().slice(0, 8);
  private readonly logs = new Map<string, SourceLog<E>>();
  private readonly now: () => number;
  readonly origin = 0;
  private deliver: (sourceId: string, entry: FeedEntry<E>) => void = () => undefined;

  constructor(private readonly opts: EventLogOptions) {
    this.now = opts.now ?? Date.now;
    opts.trackSize?.('live_event_log', () => {
      let n = 0;
      for (const log of this.logs.values()) n += log.entries.length;
      return n;
    });
  }

  /** Appends an event heard on the source's topic; returns its number. */
  append(sourceId: string, event: E): LoggedEvent<E> {
    const log = this.log(sourceId);
    const entry = { seq: ++log.head, event, storedAt: this.now() };
    log.entries.push(entry);
    this.trim(log);
    return entry;
  }

  /** The last number given in the source's log (0 when it has heard nothing). */
  head(sourceId: string): number {
    return this.logs.get(sourceId)?.head ?? 0;
  }

  /** Every event after position `seq`, oldest first, unless some of them are gone already. */
  since(sourceId: string, seq: number): Replay<E> {
    const log = this.log(sourceId);
    this.trim(log);
    if (!Number.isInteger(seq) || seq < 0 || seq > log.head) return { gap: 'UNKNOWN_CURSOR' };
    if (seq === log.head) return { events: [] };
    const first = log.entries[0];
    if (!first || first.seq > seq + 1) return { gap: 'TRIMMED' };
    return { events: log.entries.slice(seq + 1 - first.seq) };
  }

  currentEpoch(): string {
    return this.epoch;
  }

  isPosition(p: unknown): p is number {
    return Number.isInteger(p) && (p as number) >= 0;
  }

  after(a: Position, b: Position): boolean {
    return (a as number) > (b as number);
  }

  replay(sourceId: string, epoch: string, position: Position): Replay<E> {
    return epoch === this.epoch && typeof position === 'number'
      ? this.since(sourceId, position)
      : { gap: 'UNKNOWN_CURSOR' };
  }

  feed(deliver: (sourceId: string, entry: FeedEntry<E>) => void): void {
    this.deliver = deliver;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to record before the topic: each instance numbers what it hears. */
  record(): null {
    return null;
  }

  hear(sourceId: string, event: E): void {
    const entry = this.append(sourceId, event);
    this.deliver(sourceId, { seq: entry.seq, epoch: this.epoch, event });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private log(sourceId: string): SourceLog<E> {
    let log = this.logs.get(sourceId);
    if (!log) this.logs.set(sourceId, (log = { head: 0, entries: [] }));
    return log;
  }

  private trim(log: SourceLog<E>) {
    const oldest = this.now() - this.opts.maxAgeMs;
    let drop = Math.max(0, log.entries.length - this.opts.maxLength);
    while (drop < log.entries.length && log.entries[drop]!.storedAt < oldest) drop++;
    if (drop > 0) log.entries.splice(0, drop);
  }
}
