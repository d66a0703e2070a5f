import { randomUUID } from 'node:crypto';

/**
 * docs/live.md "Event log": the bounded log of thread events per source that `conversationEvents(after:)` replays
 * from. This is the in-memory log: each instance numbers the events it hears (on `events:<source>`) per source,
 * 1, 2, 3…, under an epoch drawn when the log is made, so a cursor from another instance or from before a restart
 * is recognised as unknown (ResyncRequired), and a trimmed gap is recognised exactly (the numbers are contiguous).
 */
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

export class MemoryEventLog<E> {
  /** Names this log's numbering: positions of another epoch mean nothing here. */
  readonly epoch = randomUUID().slice(0, 8);
  private readonly logs = new Map<string, SourceLog<E>>();
  private readonly now: () => number;

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
