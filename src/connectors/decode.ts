import { z } from 'zod';
import { ErrorCode, GatewayError } from '../errors';

/** One row that {@link rowsOf} left out of a page: its id when it has one, and why. */
interface SkippedRow {
  id: string | null;
  path: string;
  reason: string;
}

/** The rows skipped by the decode that is running (decoding is synchronous, so one collector at a time). */
let skipped: SkippedRow[] | null = null;

function rowId(row: unknown): string | null {
  if (!row || typeof row !== 'object') return null;
  const id = (row as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
}

/**
 * A list of vendor rows decoded row by row (issue 12 item 14): a row that does not match `row` is left out and
 * reported by {@link decode} (one error entry per row, with the source and the row's id), so one odd row never
 * fails the whole page, nor the source.
 */
export function rowsOf<S extends z.ZodType>(row: S) {
  return z.array(z.unknown()).transform((items) => {
    const out: Array<z.output<S>> = [];
    for (const item of items) {
      const r = row.safeParse(item);
      if (r.success) out.push(r.data as z.output<S>);
      else {
        const issue = r.error.issues[0];
        skipped?.push({
          id: rowId(item),
          path: issue && issue.path.length > 0 ? issue.path.join('.') : '(row)',
          reason: issue?.message ?? 'unexpected shape',
        });
      }
    }
    return out;
  });
}

/**
 * Checks a vendor body against its wire schema (the vendor's `types.ts`). A body that does not match
 * (wrong types, missing fields) becomes SOURCE_BAD_RESPONSE naming the source and the first bad path,
 * never a crash deeper in a mapper. Rows of a {@link rowsOf} list that do not match are left out instead, each
 * reported through `scope.report` (when the scope has it) as SOURCE_BAD_RESPONSE with `rowId`.
 */
export function decode<S extends z.ZodType>(
  schema: S,
  body: unknown,
  sourceId: string,
  what: string,
  scope?: { report?: (error: GatewayError) => void },
): z.output<S> {
  const outer = skipped;
  const mine: SkippedRow[] = [];
  skipped = mine;
  let r: ReturnType<S['safeParse']>;
  try {
    r = schema.safeParse(body) as ReturnType<S['safeParse']>;
  } finally {
    skipped = outer;
  }
  if (r.success) {
    for (const row of mine) {
      scope?.report?.(
        new GatewayError(
          ErrorCode.SOURCE_BAD_RESPONSE,
          `Source "${sourceId}" sent a malformed row in a ${what}${row.id ? ` (id ${row.id})` : ''}: at ${row.path}, ${row.reason}; it was left out.`,
          { source: sourceId, rowId: row.id, what },
        ),
      );
    }
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
