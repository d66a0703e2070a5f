import { createHmac, randomBytes } from 'node:crypto';
import { createRandom, FIRST_NAMES, LAST_NAMES } from '../kit/random';

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

/** Demo data is anchored here, so it is the same on every start. */
export const SEED_BASE = Date.parse('2026-11-01T09:00:00.000Z');

const SUBJECTS = [
  'Wedding photography: {a} & {b}',
  'Engagement shoot in the park',
  'Family portrait session',
  'Newborn session booking',
  'Contract for your {season} wedding',
  'Gallery delivery: {a}',
  'Invoice #{n} question',
  'Headshots for the team',
  'Maternity session details',
  'Album design proofs',
] as const;
const CLIENT_LINES = [
  'Hi! Could we move the session to a later time?',
  'We loved the sneak peeks, thank you so much!',
  'Is there parking near the venue?',
  'Can you send the contract again? I cannot find it.',
  'What should we wear for the shoot?',
  'The deposit has been paid.',
  'Could we add an extra hour of coverage?',
  'When will the full gallery be ready?',
] as const;
const STUDIO_LINES = [
  'Absolutely! I have attached our standard timeline template.',
  'Thanks for reaching out! Here are a few options.',
  'The gallery will be ready in about two weeks.',
  'I have updated the contract, please sign when you can.',
  'Golden hour starts at 6:40 pm, so let us meet at 6.',
  'Received, thank you! See you on Saturday.',
] as const;
const SEASONS = ['spring', 'summer', 'autumn', 'winter'] as const;

export class PixiesetState {
  clients = new Map<string, PxClient>();
  conversations = new Map<string, PxConversation>();
  attachments = new Map<string, PxAttachment>();
  private rnd = createRandom(1);
  /** Secret the emulator signs upload policies with (the S3 secret key of the real flow). */
  readonly uploadSecret = randomBytes(16).toString('hex');

  constructor(
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
    const r = this.rnd;
    const nClients = Math.max(2, Math.round(12 * this.scale));
    const clients: PxClient[] = [];
    for (let i = 0; i < nClients; i++) {
      const first = r.pick(FIRST_NAMES);
      const last = r.pick(LAST_NAMES);
      const c: PxClient = {
        id: `cl_${r.alnum(32)}`,
        first_name: first,
        last_name: last,
        email: `${first}.${last}@example.com`
          .toLowerCase()
          .normalize('NFD')
          .replace(/[\u0300-\u036f]/g, ''),
        phone: `+1 555 ${String(r.int(100, 999))} ${String(r.int(1000, 9999))}`,
        avatar_color: r.int(0, 11),
        type: r.chance(0.8) ? 'client' : 'lead',
      };
      clients.push(c);
      this.clients.set(c.id, c);
    }
    const nConv = this.scale === 0 ? 0 : Math.max(1, Math.round(20 * this.scale));
    for (let i = 0; i < nConv; i++) {
      const client = clients[i % clients.length] as PxClient;
      const partner = r.pick(FIRST_NAMES);
      const subject = r
        .pick(SUBJECTS)
        .replace('{a}', client.first_name)
        .replace('{b}', partner)
        .replace('{season}', r.pick(SEASONS))
        .replace('{n}', String(1000 + i));
      // Spread activity over the 60 days before SEED_BASE; ties on the minute happen on purpose at scale.
      const last = SEED_BASE - r.int(0, 60 * 24 * 60) * 60_000;
      const created = last - r.int(1, 30) * 86_400_000;
      const conv: PxConversation = {
        id: `conv_${r.alnum(12)}`,
        client_id: client.id,
        subject,
        created_at: new Date(created),
        updated_at: new Date(last),
        last_message_at: new Date(last),
        status: r.chance(0.1) ? 'archived' : 'active',
        foreign: false,
        messages: [],
      };
      const n = r.int(2, 7);
      const unreadTail = r.chance(0.35) ? r.int(1, 2) : 0;
      for (let m = 0; m < n; m++) {
        const at = new Date(created + ((last - created) * (m + 1)) / n);
        const fromClient = m >= n - unreadTail ? true : m % 2 === 0;
        const msg: PxMessage = {
          id: `msg_${r.alnum(12)}`,
          conversation_id: conv.id,
          content: fromClient ? r.pick(CLIENT_LINES) : r.pick(STUDIO_LINES),
          sent_at: at,
          read_at: m >= n - unreadTail ? null : new Date(at.getTime() + 5 * 60_000),
          sender_type: fromClient ? 'client' : 'photographer',
          sender_id: fromClient ? client.id : PHOTOGRAPHER.id,
          attachment_ids: [],
        };
        if (!fromClient && r.chance(0.3)) {
          const att: PxAttachment = {
            id: `att_${r.alnum(12)}`,
            filename: r.pick(['wedding-timeline-template.pdf', 'contract.pdf', 'sneak-peek.jpg', 'price-list.pdf']),
            file_size: 0,
            content_type: 'application/pdf',
            data: null,
          };
          att.content_type = att.filename.endsWith('.jpg') ? 'image/jpeg' : 'application/pdf';
          att.data = Buffer.from(`Demo file ${att.filename} for ${conv.subject}\n`);
          att.file_size = att.data.length;
          this.attachments.set(att.id, att);
          msg.attachment_ids.push(att.id);
        }
        conv.messages.push(msg);
      }
      conv.last_message_at = (conv.messages[conv.messages.length - 1] as PxMessage).sent_at;
      this.conversations.set(conv.id, conv);
    }
    // One conversation that belongs to another studio member: it exists, but this session may not read it.
    const foreign: PxConversation = {
      id: 'conv_FOREIGN000001',
      client_id: (clients[0] as PxClient).id,
      subject: 'Private: associate photographer',
      created_at: new Date(SEED_BASE - 86_400_000),
      updated_at: new Date(SEED_BASE - 86_400_000),
      last_message_at: new Date(SEED_BASE - 86_400_000),
      status: 'active',
      foreign: true,
      messages: [],
    };
    this.conversations.set(foreign.id, foreign);
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
