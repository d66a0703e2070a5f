import { createHmac, randomBytes } from 'node:crypto';
import { createRandom, type Random } from '../kit/random';

/** The emulated Studio account's data. Field names follow the vendor's JSON (docs/vendors/pixieset.md). */
export interface PxClient {
  id: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  avatar_color: number;
  type: 'client' | 'lead' | 'other';
}
export interface PxAttachment {
  id: string;
  filename: string;
  file_size: number;
  content_type: string;
  /** Set once the signed upload arrived (or for seeded files). */
  data: Buffer | null;
}
export interface PxMessage {
  id: string;
  conversation_id: string;
  content: string;
  sent_at: Date;
  read_at: Date | null;
  sender_type: 'client' | 'photographer' | 'system';
  sender_id: string;
  attachment_ids: string[];
}
export interface PxConversation {
  id: string;
  client_id: string;
  subject: string;
  created_at: Date;
  updated_at: Date;
  last_message_at: Date;
  status: 'active' | 'archived';
  /** Conversations of another studio member exist but answer 403 ACCESS_DENIED. */
  foreign: boolean;
  messages: PxMessage[];
}

/** The orders the emulator's list can serve (see {@link PixiesetState.visible}). */
export type PixiesetListOrder = 'inbox' | 'created_asc' | 'shuffled' | 'random';
const idOrder = new Intl.Collator('en', { numeric: true });

export const PHOTOGRAPHER = { id: 'photographer_123', name: 'Lumen Studio', email: 'hello@lumen-studio.example' };

/** The session the embedded default logs in with. */
export const PIXIESET_SANDBOX_CREDENTIALS = {
  sessionCookie: 'session_cookie=sandbox-pixieset-session',
  csrfToken: 'sandbox-pixieset-csrf',
};
/** docs/vendors/pixieset.md: the 413 error carries max_size 10485760. */
export const PIXIESET_MAX_FILE_SIZE = 10 * 1024 * 1024;

/** Demo data is anchored here, so it is the same on every start. */
export const SEED_BASE = Date.parse('2026-11-01T09:00:00.000Z');

export class PixiesetState {
  clients = new Map<string, PxClient>();
  conversations = new Map<string, PxConversation>();
  attachments = new Map<string, PxAttachment>();
  private rnd = createRandom(1);
  /** Secret the emulator signs upload policies with (the S3 secret key of the real flow). */
  readonly uploadSecret = randomBytes(16).toString('hex');

  constructor(
    /** Fills the state after every reset (seed.ts), drawing from the seeded random stream. */
    private readonly seeder: (state: PixiesetState, r: Random, scale: number) => void,
    private readonly scale = 1,
    private readonly seed = 1,
  ) {
    this.reset();
  }

  reset() {
    this.rnd = createRandom(this.seed);
    this.clients.clear();
    this.conversations.clear();
    this.attachments.clear();
    this.seeder(this, this.rnd, this.scale);
  }

  /**
   * Conversations this session may see, in the list's order. The seed documents none (docs/vendors/pixieset.md
   * "Ordering"); `inbox` (the default, an assumption) is last_message_at desc, ties by id with a numeric-aware
   * collation; `created_asc` and `shuffled` (a fixed permutation, the same on every request) let tests check a
   * connector that must not rely on it; `random` is another permutation on every request (the `request`-th since the
   * reset, so a test sees the same sequence every run), an order that page numbers cannot read completely.
   */
  visible(order: PixiesetListOrder = 'inbox', request = 0): PxConversation[] {
    const all = [...this.conversations.values()].filter((c) => !c.foreign);
    if (order === 'random') {
      const r = createRandom(this.seed * 7919 + request);
      all.sort((a, b) => idOrder.compare(a.id, b.id));
      for (let i = all.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [all[i], all[j]] = [all[j] as PxConversation, all[i] as PxConversation];
      }
      return all;
    }
    if (order === 'created_asc')
      return all.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || idOrder.compare(a.id, b.id));
    if (order === 'shuffled') {
      const key = (id: string) => createHmac('sha256', 'shuffle').update(id).digest('hex');
      return all.sort((a, b) => (key(a.id) < key(b.id) ? -1 : 1));
    }
    return all.sort((a, b) => b.last_message_at.getTime() - a.last_message_at.getTime() || idOrder.compare(a.id, b.id));
  }

  unreadOf(c: PxConversation): number {
    return c.messages.filter((m) => m.sender_type === 'client' && m.read_at === null).length;
  }

  addMessage(conv: PxConversation, m: Omit<PxMessage, 'id' | 'conversation_id'>): PxMessage {
    const msg: PxMessage = {
      ...m,
      id: `msg_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)}`,
      conversation_id: conv.id,
    };
    conv.messages.push(msg);
    conv.last_message_at = msg.sent_at;
    conv.updated_at = msg.sent_at;
    return msg;
  }

  markRead(conv: PxConversation) {
    const now = new Date();
    for (const m of conv.messages) if (m.sender_type === 'client' && m.read_at === null) m.read_at = now;
  }

  sign(policy: string): string {
    return createHmac('sha256', this.uploadSecret).update(policy).digest('hex');
  }

  randomId(prefix: string): string {
    return `${prefix}${randomBytes(12).toString('base64url').replace(/[-_]/g, 'Z').slice(0, 12)}`;
  }
}
