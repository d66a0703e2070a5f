import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmdirSync, rmSync, unlinkSync, type WriteStream } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UPLOAD_STAGING_DEFAULTS } from '../config/schema';
import type { StagedFile } from '../connectors/types';
import { badInput, ErrorCode, GatewayError } from '../errors';
import type { StagedUpload, UploadStagingService } from '../schema/context';

export type { StagedUpload };

export interface UploadStagingOptions {
  /** Where staged files go (each staging writes in its own subdirectory). @default `<os.tmpdir()>/switchboard-uploads` */
  dir?: string;
  /** @default {@link UPLOAD_STAGING_DEFAULTS} (1 hour) */
  ttlMs?: number;
  /** Bytes one API key may have staged and unsent. @default {@link UPLOAD_STAGING_DEFAULTS} */
  maxBytesPerKey?: number;
  /** Bytes staged by all keys together. @default {@link UPLOAD_STAGING_DEFAULTS} */
  maxBytesTotal?: number;
  /** Staged uploads one API key may have unsent. @default {@link UPLOAD_STAGING_DEFAULTS} */
  maxUploadsPerKey?: number;
  /** The clock expiries are measured with (tests inject a fake one). @default Date.now */
  now?: () => number;
  /** How often (real time) expired uploads are removed while nothing else happens. @default 60 s */
  sweepIntervalMs?: number;
}

/** The limit a refusal names in `extensions.limit`, the config key that sets it. */
export type StagingLimit =
  'server.uploads.maxBytesPerKey' | 'server.uploads.maxBytesTotal' | 'server.uploads.maxUploadsPerKey';

type State = 'pending' | 'receiving' | 'stored' | 'sending';

interface Entry {
  upload: StagedUpload;
  state: State;
  /** Bytes counted against the quotas: the reservation while receiving, the file's size once stored. */
  bytes: number;
}

/** A staging's own subdirectory: `instance-<pid>-<16 hex>`; nothing else in `dir` is ever touched. */
const INSTANCE_DIR = /^instance-(\d+)-[0-9a-f]{16}$/;
/** A staged file: `<uuid>.upload`, or `<uuid>.part` while it is being received. */
const STAGED_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(upload|part)$/;

/** Instance directories of the stagings open in this process (a leftover with our pid is one not listed here). */
const openInstances = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the leftovers of stagings that are gone (a gateway that crashed or was killed): in `dir`, only
 * subdirectories named `instance-<pid>-<hex>` whose process no longer runs (or, with this process's pid, that no
 * staging of this process has open: a restart that got the same pid, as in a container), and inside them only
 * files named like staged files. A directory holding anything else is left in place. Returns the files removed.
 */
export function sweepLeftovers(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = INSTANCE_DIR.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const alive = pid === process.pid ? openInstances.has(name) : processAlive(pid);
    if (alive) continue;
    const sub = join(dir, name);
    try {
      for (const f of readdirSync(sub)) {
        if (!STAGED_FILE.test(f)) continue;
        unlinkSync(join(sub, f));
        removed++;
      }
      rmdirSync(sub);
    } catch {
      // not a directory, or something else is in it: not ours to remove
    }
  }
  return removed;
}

/**
 * Upload staging for INLINE sources (Chatwoot, Protocol take the file with the message): the gateway issues a
 * signed POST to itself (server/uploads.ts), writes the file to disk, and reads it back only to send it.
 *
 * Bounded (issue 12 item 1): per API key (by its hash, {@link StagedUpload.keyId}) at most `maxUploadsPerKey`
 * unsent uploads and `maxBytesPerKey` bytes, and `maxBytesTotal` bytes for all keys; bytes count from the moment
 * an upload starts to be received (at its declared size, or the request's Content-Length when smaller) until it
 * is sent or expires. A file is removed when sent, when it expires (checked on every use and every
 * `sweepIntervalMs`) and at start-up when its gateway is gone ({@link sweepLeftovers}).
 */
export class UploadStaging implements UploadStagingService {
  private readonly entries = new Map<string, Entry>();
  private readonly secret = randomBytes(32);
  private readonly ttlMs: number;
  readonly maxBytesPerKey: number;
  readonly maxBytesTotal: number;
  readonly maxUploadsPerKey: number;
  private readonly now: () => number;
  /** This staging's own directory (under `dir`); removed by close(). */
  readonly instanceDir: string;
  /** Files of earlier, stopped gateways removed at start-up. */
  readonly leftoversRemoved: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(opts: UploadStagingOptions = {}) {
    this.ttlMs = opts.ttlMs ?? UPLOAD_STAGING_DEFAULTS.ttlMs;
    this.maxBytesPerKey = opts.maxBytesPerKey ?? UPLOAD_STAGING_DEFAULTS.maxBytesPerKey;
    this.maxBytesTotal = opts.maxBytesTotal ?? UPLOAD_STAGING_DEFAULTS.maxBytesTotal;
    this.maxUploadsPerKey = opts.maxUploadsPerKey ?? UPLOAD_STAGING_DEFAULTS.maxUploadsPerKey;
    this.now = opts.now ?? Date.now;
    const dir = opts.dir ?? join(tmpdir(), 'switchboard-uploads');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.leftoversRemoved = sweepLeftovers(dir);
    const name = `instance-${process.pid}-${randomBytes(8).toString('hex')}`;
    this.instanceDir = join(dir, name);
    mkdirSync(this.instanceDir, { mode: 0o700 });
    openInstances.add(name);
    this.timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000);
    this.timer.unref();
  }

  private pathOf(id: string, state: 'part' | 'upload'): string {
    return join(this.instanceDir, `${id}.${state}`);
  }

  create(u: Omit<StagedUpload, 'id' | 'expiresAt' | 'storedBytes'>): { upload: StagedUpload; token: string } {
    this.sweep();
    const refusal =
      this.countRefusal(u.keyId) ?? this.quotaRefusal(u.keyId, u.size, 'The declared size of this upload');
    if (refusal) throw refusal;
    const id = randomUUID();
    const upload: StagedUpload = { ...u, id, expiresAt: new Date(this.now() + this.ttlMs), storedBytes: null };
    this.entries.set(id, { upload, state: 'pending', bytes: 0 });
    return { upload, token: this.sign(upload) };
  }

  private sign(u: StagedUpload): string {
    return createHmac('sha256', this.secret)
      .update(`${u.id}\n${u.size}\n${u.contentType}\n${u.expiresAt.getTime()}`)
      .digest('base64url');
  }

  /** The staged upload, unless it expired (or was sent). */
  get(id: string): StagedUpload | undefined {
    this.sweep();
    return this.entries.get(id)?.upload;
  }

  /** The upload a token authorizes for receiving its file, or a reason why not. */
  authorize(id: string, token: string): StagedUpload | string {
    this.sweep();
    const e = this.entries.get(id);
    if (!e) return 'unknown upload';
    const expected = Buffer.from(this.sign(e.upload));
    const given = Buffer.from(token);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad signature';
    if (e.state === 'receiving') return 'the file is being uploaded by another request';
    if (e.state !== 'pending') return 'already uploaded';
    return e.upload;
  }

  /** Bytes counted against the quotas: of one key, or of all. */
  bytesStaged(keyId?: string): number {
    let sum = 0;
    for (const e of this.entries.values()) if (keyId === undefined || e.upload.keyId === keyId) sum += e.bytes;
    return sum;
  }

  /** Unsent uploads of one key (or of all). */
  uploadsStaged(keyId?: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (keyId === undefined || e.upload.keyId === keyId) n++;
    return n;
  }

  /** Seconds until the first of these entries expires (the earliest a quota frees itself). */
  private retryAfter(filter: (e: Entry) => boolean): number {
    let first = Infinity;
    for (const e of this.entries.values()) if (filter(e)) first = Math.min(first, e.upload.expiresAt.getTime());
    return Number.isFinite(first) ? Math.max(1, Math.ceil((first - this.now()) / 1000)) : 1;
  }

  private countRefusal(keyId: string): GatewayError | null {
    const n = this.uploadsStaged(keyId);
    if (n < this.maxUploadsPerKey) return null;
    return limitError(
      'server.uploads.maxUploadsPerKey',
      this.maxUploadsPerKey,
      `This API key has ${n} staged uploads not yet sent, the most allowed; send or let them expire first.`,
      this.retryAfter((e) => e.upload.keyId === keyId),
    );
  }

  /** Would `bytes` more for `keyId` go past the per-key quota or the total cap? */
  quotaRefusal(keyId: string, bytes: number, what = 'This upload'): GatewayError | null {
    const mine = this.bytesStaged(keyId);
    if (mine + bytes > this.maxBytesPerKey) {
      return limitError(
        'server.uploads.maxBytesPerKey',
        this.maxBytesPerKey,
        `${what} (${bytes} bytes) would take this API key's staged bytes to ${mine + bytes}, above its quota of ${this.maxBytesPerKey}; send or let staged files expire first.`,
        this.retryAfter((e) => e.upload.keyId === keyId && e.bytes > 0),
      );
    }
    const all = this.bytesStaged();
    if (all + bytes > this.maxBytesTotal) {
      return limitError(
        'server.uploads.maxBytesTotal',
        this.maxBytesTotal,
        `The gateway's staging space is full (${all} of ${this.maxBytesTotal} bytes); retry later.`,
        this.retryAfter((e) => e.bytes > 0),
      );
    }
    return null;
  }

  /**
   * Starts receiving an authorized upload's file: reserves `reserve` bytes against the quotas (refused with
   * LIMIT_EXCEEDED when they would be passed) and opens its `.part` file.
   */
  begin(id: string, reserve: number): GatewayError | WriteStream {
    const e = this.entries.get(id);
    if (!e || e.state !== 'pending') return badInput('The upload is unknown, expired or already uploaded.', 'id');
    const refusal = this.quotaRefusal(e.upload.keyId, reserve);
    if (refusal) return refusal;
    e.state = 'receiving';
    e.bytes = reserve;
    return createWriteStream(this.pathOf(id, 'part'), { mode: 0o600 });
  }

  /**
   * More bytes arrived than reserved (a request without Content-Length, or one that lied): grows the reservation
   * by `more` when the quotas allow it.
   */
  grow(id: string, more: number): GatewayError | null {
    const e = this.entries.get(id);
    if (!e || e.state !== 'receiving') return badInput('The upload is unknown or expired.', 'id');
    const refusal = this.quotaRefusal(e.upload.keyId, more);
    if (refusal) return refusal;
    e.bytes += more;
    return null;
  }

  /** The file was received whole (its stream finished): it is now staged, counted at its real size. */
  async commit(id: string, size: number): Promise<void> {
    const e = this.entries.get(id);
    if (!e || e.state !== 'receiving') throw new Error(`upload ${id} is not being received`);
    await rename(this.pathOf(id, 'part'), this.pathOf(id, 'upload'));
    e.state = 'stored';
    e.bytes = size;
    e.upload.storedBytes = size;
  }

  /** Receiving failed or was refused: the partial file goes, the reservation is released, the upload may be retried. */
  abort(id: string): void {
    const e = this.entries.get(id);
    if (e?.state === 'receiving') {
      e.state = 'pending';
      e.bytes = 0;
    }
    unlinkQuietly(this.pathOf(id, 'part'));
  }

  /**
   * Reads the staged files of a send and holds them (expiry leaves them alone; another send of the same
   * attachment is refused) until {@link consume} or {@link release}.
   */
  async claim(ids: string[]): Promise<StagedFile[]> {
    this.sweep();
    const taken: Entry[] = [];
    try {
      for (const id of ids) {
        const e = this.entries.get(id);
        if (!e || e.state !== 'stored') {
          throw badInput(
            e?.state === 'sending'
              ? 'An attachment is being sent by another request.'
              : 'An attachment is unknown, expired or not uploaded yet; create it with createAttachmentUpload.',
            'input.attachmentIds',
          );
        }
        e.state = 'sending';
        taken.push(e);
      }
      return await Promise.all(
        taken.map(async (e) => ({
          filename: e.upload.filename,
          contentType: e.upload.contentType,
          data: await readFile(this.pathOf(e.upload.id, 'upload')),
        })),
      );
    } catch (err) {
      for (const e of taken) e.state = 'stored';
      throw err;
    }
  }

  /** A send failed: its files stay staged for a retry (until they expire). */
  release(ids: string[]): void {
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e?.state === 'sending') e.state = 'stored';
    }
  }

  /** Forget a staged file once it has been sent, and remove it from disk. */
  consume(id: string): void {
    this.remove(id);
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    // Synchronous (one unlink): once an upload is forgotten, its file is gone too.
    if (e.state !== 'pending') unlinkQuietly(this.pathOf(id, e.state === 'receiving' ? 'part' : 'upload'));
  }

  /**
   * Removes expired uploads and their files. An upload being received or sent is left to finish: the request
   * timeout bounds the first, and the send consumes or releases the second (it expires on the next sweep).
   */
  sweep(): void {
    const now = this.now();
    for (const [id, e] of this.entries) {
      if (e.upload.expiresAt.getTime() < now && e.state !== 'receiving' && e.state !== 'sending') this.remove(id);
    }
  }

  /** Stops the sweep and removes every staged file and this staging's directory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.entries.clear();
    rmSync(this.instanceDir, { recursive: true, force: true });
    openInstances.delete(this.instanceDir.slice(this.instanceDir.lastIndexOf('instance-')));
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function limitError(limit: StagingLimit, max: number, message: string, retryAfter: number): GatewayError {
  return new GatewayError(ErrorCode.LIMIT_EXCEEDED, message, { limit, max, retryAfter });
}
