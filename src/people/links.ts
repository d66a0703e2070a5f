import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Redis } from 'ioredis';

/**
 * # Manual links (people the operator fixed)
 *
 * Links are between participants (by {@link ./people.ts participantKey}), never between emails, so they hold
 * whatever happens to the contacts' emails and phones upstream:
 * - `link(keys)` joins the participants into one person (edges between them), whatever their emails say;
 * - `unlink(key)` splits one participant off: its links go (its linked neighbours stay linked to each other) and
 *   it is pinned apart, so the automatic rule ignores its email and phone (even when they match others) until it is
 *   linked again by hand. Links still join a pinned participant.
 * Both are idempotent. Stores: in memory, a local JSON file (one instance; survives a restart) or Redis (shared by
 * every instance).
 */
export interface LinkState {
  /** Pairs of participant keys joined by hand. */
  edges: Array<[string, string]>;
  /** Participant keys split off by hand: the automatic rule leaves them alone. */
  pins: Set<string>;
}

export interface LinkStore {
  read(): Promise<LinkState>;
  link(keys: string[]): Promise<void>;
  unlink(key: string): Promise<void>;
}

const pairKey = (a: string, b: string) => (a < b ? `${a}\u0001${b}` : `${b}\u0001${a}`);
const pairOf = (k: string) => k.split('\u0001') as [string, string];

/** Link and unlink on a set of pair keys and a set of pins (shared by every store). */
export function applyLink(pairs: Set<string>, keys: string[]): void {
  for (let i = 1; i < keys.length; i++)
    if (keys[i] !== keys[0]) pairs.add(pairKey(keys[0] as string, keys[i] as string));
}

export function applyUnlink(pairs: Set<string>, pins: Set<string>, key: string): void {
  const neighbours: string[] = [];
  for (const p of [...pairs]) {
    const [a, b] = pairOf(p);
    if (a === key || b === key) {
      pairs.delete(p);
      neighbours.push(a === key ? b : a);
    }
  }
  // The others stay linked to each other.
  for (let i = 1; i < neighbours.length; i++) pairs.add(pairKey(neighbours[0] as string, neighbours[i] as string));
  pins.add(key);
}

const stateOf = (pairs: Set<string>, pins: Set<string>): LinkState => ({
  edges: [...pairs].map(pairOf),
  pins: new Set(pins),
});

export function createMemoryLinkStore(
  onChange?: (pairs: Set<string>, pins: Set<string>) => void,
  initial?: {
    pairs: string[];
    pins: string[];
  },
): LinkStore {
  const pairs = new Set(initial?.pairs ?? []);
  const pins = new Set(initial?.pins ?? []);
  return {
    read: () => Promise.resolve(stateOf(pairs, pins)),
    link(keys) {
      applyLink(pairs, keys);
      onChange?.(pairs, pins);
      return Promise.resolve();
    },
    unlink(key) {
      applyUnlink(pairs, pins, key);
      onChange?.(pairs, pins);
      return Promise.resolve();
    },
  };
}

/** A JSON file `{ pairs, pins }`, read once at start and rewritten (atomically: a temp file renamed) on each change. */
export function createFileLinkStore(path: string): LinkStore {
  let initial: { pairs: string[]; pins: string[] } | undefined;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { pairs?: unknown; pins?: unknown };
    const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
    initial = { pairs: strings(raw.pairs), pins: strings(raw.pins) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return createMemoryLinkStore((pairs, pins) => {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pairs: [...pairs], pins: [...pins] }));
    renameSync(tmp, path);
  }, initial);
}

/**
 * Redis: two sets, `<prefix>people:pairs` and `<prefix>people:pins`, shared by every instance and read per operation.
 * An unlink reads the pairs and writes its change in one MULTI; two operators changing the same participant on two
 * instances at the same moment may interleave (the last write wins for that participant).
 */
export function createRedisLinkStore(redis: Redis, prefix: string): LinkStore {
  const PAIRS = `${prefix}people:pairs`;
  const PINS = `${prefix}people:pins`;
  const load = async () => {
    const [pairs, pins] = await Promise.all([redis.smembers(PAIRS), redis.smembers(PINS)]);
    return { pairs: new Set(pairs), pins: new Set(pins) };
  };
  return {
    async read() {
      const { pairs, pins } = await load();
      return stateOf(pairs, pins);
    },
    async link(keys) {
      const pairs = new Set<string>();
      applyLink(pairs, keys);
      if (pairs.size) await redis.sadd(PAIRS, ...pairs);
    },
    async unlink(key) {
      const before = await load();
      const pairs = new Set(before.pairs);
      applyUnlink(pairs, before.pins, key);
      const removed = [...before.pairs].filter((p) => !pairs.has(p));
      const added = [...pairs].filter((p) => !before.pairs.has(p));
      const m = redis.multi();
      if (removed.length) m.srem(PAIRS, ...removed);
      if (added.length) m.sadd(PAIRS, ...added);
      m.sadd(PINS, key);
      await m.exec();
    },
  };
}
