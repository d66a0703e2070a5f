import { z } from 'zod';
import { ErrorCode, GatewayError } from '../errors';

/** One row that {@link rowsOf} left out of a page, or one optional part that {@link part} left out of an object. */
interface Skipped {
  /** The row's id (a row), or null until {@link decode} finds the id of the object holding the part. */
  id: string | null;
  path: string;
  reason: string;
  /** A part: its key and the value that could not be read, for {@link decode} to find where it was. */
  part?: { key: string; value: unknown };
}

/** What the decode that is running left out (decoding is synchronous, so one collector at a time). */
let skipped: Skipped[] | null = null;

function rowId(row: unknown): string | null {
  if (!row || typeof row !== 'object') return null;
  const id = (row as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
}

function firstIssue(error: z.ZodError): { path: string; reason: string } {
  const issue = error.issues[0];
  return {
    path: issue && issue.path.length > 0 ? issue.path.join('.') : '',
    reason: issue?.message ?? 'unexpected shape',
  };
}

/**
 * A list of vendor rows decoded row by row (issue 12 item 14): a row that does not match `row` is left out and
 * reported by {@link decode} (one error entry per row, with the source and the row's id), so one odd row never
 * fails the whole page, nor the source. A row whose optional {@link part}s could not be read is kept without them.
 */
export function rowsOf<S extends z.ZodType>(row: S) {
  return z.array(z.unknown()).transform((items) => {
    const out: Array<z.output<S>> = [];
    for (const item of items) {
      const mark = skipped?.length ?? 0;
      const r = row.safeParse(item);
      if (r.success) out.push(r.data as z.output<S>);
      else {
        // The parts it left out go with it: the row is reported once, as a whole.
        skipped?.splice(mark);
        const { path, reason } = firstIssue(r.error);
        skipped?.push({ id: rowId(item), path: path || '(row)', reason });
      }
    }
    return out;
  });
}

/**
 * An optional nested part of a vendor object (a message's sender, a conversation's last message, an attachment
 * list), decoded on its own (brief D gap 2): when it cannot be read, the object is mapped without it (undefined)
 * and {@link decode} reports it like a skipped row (with the id of the object that held it and the part's path),
 * instead of failing the whole answer. Required fields (ids, the fields a mapper cannot do without) stay outside
 * parts, so a missing one still fails the answer. `key` is the part's own key in its object.
 */
export function part<S extends z.ZodType>(key: string, schema: S) {
  return lenient(key, schema, () => undefined).optional();
}

/**
 * A {@link part} that is `fallback()` (an empty list) when it cannot be read, and when it is absent (zod does not
 * run a transform for a missing key).
 */
export function partOr<S extends z.ZodType, F>(key: string, schema: S, fallback: () => F) {
  return lenient(key, schema, fallback).default(fallback as () => never);
}

function lenient<S extends z.ZodType, F>(key: string, schema: S, fallback: () => F) {
  return z.unknown().transform((value): z.output<S> | F => {
    const r = schema.safeParse(value);
    if (r.success) return r.data as z.output<S>;
    const { path, reason } = firstIssue(r.error);
    skipped?.push({ id: null, path, reason, part: { key, value } });
    return fallback();
  });
}

/**
 * Where a part {@link part} left out was in `body`: the dotted path of the first `key` holding `value` in an
 * object not yet claimed, and the id of the nearest object around it that has one.
 */
function locate(
  body: unknown,
  p: { key: string; value: unknown },
  claimed: Set<unknown>,
): { path: string; id: string | null } | null {
  const walk = (node: unknown, path: string[], id: string | null): { path: string; id: string | null } | null => {
    if (!node || typeof node !== 'object') return null;
    const here = Array.isArray(node) ? id : (rowId(node) ?? id);
    if (!Array.isArray(node)) {
      const o = node as Record<string, unknown>;
      if (Object.prototype.hasOwnProperty.call(o, p.key) && o[p.key] === p.value && !claimed.has(o)) {
        claimed.add(o);
        return { path: [...path, p.key].join('.'), id: here };
      }
    }
    for (const [k, v] of Object.entries(node)) {
      const found = walk(v, [...path, k], here);
      if (found) return found;
    }
    return null;
  };
  return walk(body, [], null);
}

/**
 * Checks a vendor body against its wire schema (the vendor's `types.ts`). A body that does not match
 * (wrong types, missing fields) becomes SOURCE_BAD_RESPONSE naming the source and the first bad path,
 * never a crash deeper in a mapper. Rows of a {@link rowsOf} list that do not match are left out instead, and so
 * are optional {@link part}s that cannot be read; each is reported through `scope.report` (when the scope has
 * it) as SOURCE_BAD_RESPONSE with `rowId` and `what` (and `part`, the part's path in the body).
 */
export function decode<S extends z.ZodType>(
  schema: S,
  body: unknown,
  sourceId: string,
  what: string,
  scope?: { report?: (error: GatewayError) => void },
): z.output<S> {
  const outer = skipped;
  const mine: Skipped[] = [];
  skipped = mine;
  let r: ReturnType<S['safeParse']>;
  try {
    r = schema.safeParse(body) as ReturnType<S['safeParse']>;
  } finally {
    skipped = outer;
  }
  if (r.success) {
    const claimed = new Set<unknown>();
    for (const row of mine) scope?.report?.(skippedError(row, body, claimed, sourceId, what));
    return r.data as z.output<S>;
  }
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  throw new GatewayError(
    ErrorCode.SOURCE_BAD_RESPONSE,
    `Source "${sourceId}" sent a malformed ${what}: at ${path}, ${issue?.message ?? 'unexpected shape'}.`,
    { source: sourceId },
  );
}

function skippedError(row: Skipped, body: unknown, claimed: Set<unknown>, sourceId: string, what: string) {
  if (!row.part) {
    return new GatewayError(
      ErrorCode.SOURCE_BAD_RESPONSE,
      `Source "${sourceId}" sent a malformed row in a ${what}${row.id ? ` (id ${row.id})` : ''}: at ${row.path}, ${row.reason}; it was left out.`,
      { source: sourceId, rowId: row.id, what },
    );
  }
  const where = locate(body, row.part, claimed);
  const partPath = where?.path ?? row.part.key;
  const id = where?.id ?? rowId(body);
  return new GatewayError(
    ErrorCode.SOURCE_BAD_RESPONSE,
    `Source "${sourceId}" sent a malformed ${partPath} in a ${what}${id ? ` (id ${id})` : ''}${row.path ? `: at ${row.path}` : ''}, ${row.reason}; it was left out, the rest was kept.`,
    { source: sourceId, rowId: id, what, part: partPath },
  );
}

/** Distinct skipped rows remembered by {@link RecentlyReported} (the oldest is forgotten first past this). */
export const SKIPPED_ROWS_REMEMBERED = 10_000;
/** How long a skipped row is remembered: met again after this, it is reported again. */
export const SKIPPED_ROWS_TTL_MS = 3_600_000;

/** What identifies one skipped row (or left-out part) for {@link RecentlyReported}: source, what was read, row id. */
export function skippedRowKey(e: GatewayError): string {
  const x = e.extensions;
  return `${e.sourceId ?? ''}\u0000${String(x.what ?? '')}\u0000${String(x.rowId ?? e.message)}\u0000${String(x.part ?? '')}`;
}

/**
 * A bounded, expiring set of keys (issue 12 item 14, brief D gap 1): {@link firstTime} is true for a key not met
 * within `ttlMs`, so a row that every poll meets is logged and counted once an hour, not once a poll. At most
 * `max` keys are held (the oldest go first); expired ones are dropped as new ones come.
 */
export class RecentlyReported {
  private readonly seen = new Map<string, number>();

  constructor(private readonly opts: { max?: number; ttlMs?: number; now?: () => number } = {}) {}

  get size(): number {
    return this.seen.size;
  }

  firstTime(key: string): boolean {
    const now = (this.opts.now ?? Date.now)();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.delete(key);
    // Insertion order is expiry order (one TTL for all): drop the expired ones at the front, then the oldest past max.
    for (const [k, t] of this.seen) {
      if (t > now && this.seen.size < (this.opts.max ?? SKIPPED_ROWS_REMEMBERED)) break;
      this.seen.delete(k);
    }
    this.seen.set(key, now + (this.opts.ttlMs ?? SKIPPED_ROWS_TTL_MS));
    return true;
  }
}

/** Longest vendor message passed to clients (`extensions.vendorMessages`), in characters. */
export const MAX_VENDOR_MESSAGE = 500;

/**
 * A vendor's own validation messages, for `extensions.vendorMessages` of a SOURCE_REJECTED error (issue 12 item
 * 17), so app developers can fix their input: strings only, control characters removed, each cut to
 * {@link MAX_VENDOR_MESSAGE} characters, empty ones dropped. The source's credentials are already redacted from
 * the body by then (createVendorHttp, connectors/vendor.ts).
 */
export function vendorMessages(...texts: unknown[]): string[] {
  const out: string[] = [];
  for (const t of texts.flat()) {
    if (typeof t !== 'string') continue;
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    const clean = t.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, ' ').trim();
    if (clean) out.push(clean.length > MAX_VENDOR_MESSAGE ? `${clean.slice(0, MAX_VENDOR_MESSAGE)}…` : clean);
  }
  return out;
}

/** Every string in a (JSON) value with each secret replaced by `[redacted]`; secrets shorter than 4 are ignored. */
export function redactSecrets(value: unknown, secrets: readonly string[]): unknown {
  const s = secrets.filter((x) => x.length >= 4);
  if (s.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return s.reduce((acc, x) => acc.split(x).join('[redacted]'), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}
