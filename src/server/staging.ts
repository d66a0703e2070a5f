import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { StagedUpload, UploadStagingService } from '../schema/context';

export type { StagedUpload };

/**
 * Upload staging for INLINE sources (Chatwoot, Protocol take the file with the message): the gateway issues
 * a signed POST to itself, keeps the file until it is sent, and hands the bytes to the connector.
 */
export class UploadStaging implements UploadStagingService {
  private readonly uploads = new Map<string, StagedUpload>();
  private readonly secret = randomBytes(32);

  constructor(private readonly ttlMs = 60 * 60_000) {}

  create(u: Omit<StagedUpload, 'id' | 'expiresAt' | 'file'>): { upload: StagedUpload; token: string } {
    this.sweep();
    const id = randomUUID();
    const upload: StagedUpload = { ...u, id, expiresAt: new Date(Date.now() + this.ttlMs), file: null };
    this.uploads.set(id, upload);
    return { upload, token: this.sign(upload) };
  }

  private sign(u: StagedUpload): string {
    return createHmac('sha256', this.secret)
      .update(`${u.id}\n${u.size}\n${u.contentType}\n${u.expiresAt.getTime()}`)
      .digest('base64url');
  }

  /** The upload a token authorizes, or a reason why not. */
  authorize(id: string, token: string): StagedUpload | string {
    const u = this.uploads.get(id);
    if (!u) return 'unknown upload';
    const expected = Buffer.from(this.sign(u));
    const given = Buffer.from(token);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad signature';
    if (u.expiresAt.getTime() < Date.now()) return 'expired';
    if (u.file) return 'already uploaded';
    return u;
  }

  store(id: string, data: Buffer) {
    const u = this.uploads.get(id);
    if (u) u.file = { filename: u.filename, contentType: u.contentType, data };
  }

  get(id: string): StagedUpload | undefined {
    const u = this.uploads.get(id);
    return u && u.expiresAt.getTime() >= Date.now() ? u : undefined;
  }

  /** Forget a staged file once it has been sent. */
  consume(id: string) {
    this.uploads.delete(id);
  }

  private sweep() {
    const now = Date.now();
    for (const [id, u] of this.uploads) if (u.expiresAt.getTime() < now) this.uploads.delete(id);
  }
}
