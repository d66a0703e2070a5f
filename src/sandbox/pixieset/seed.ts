import { byRecentActivity, PIXIESET_DEMO_PEOPLE } from '../demoPeople';
import { FIRST_NAMES, LAST_NAMES, type Random } from '../kit/random';
import {
  PHOTOGRAPHER,
  SEED_BASE,
  type PixiesetState,
  type PxAttachment,
  type PxClient,
  type PxConversation,
  type PxMessage,
} from './state';

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

/**
 * The demo studio (seed 000, docs/vendors/pixieset.md): about 12 clients and 20 conversations per unit of scale over
 * the 60 days before SEED_BASE, some with unread client messages and attachments, plus one conversation of another
 * studio member. Deterministic for a seed and scale; run by PixiesetState after every reset.
 */
export function seedPixieset(state: PixiesetState, r: Random, scale: number) {
  const nClients = Math.max(2, Math.round(12 * scale));
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
    state.clients.set(c.id, c);
  }
  const nConv = scale === 0 ? 0 : Math.max(1, Math.round(20 * scale));
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
        state.attachments.set(att.id, att);
        msg.attachment_ids.push(att.id);
      }
      conv.messages.push(msg);
    }
    conv.last_message_at = (conv.messages[conv.messages.length - 1] as PxMessage).sent_at;
    state.conversations.set(conv.id, conv);
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
  state.conversations.set(foreign.id, foreign);
  giveDemoIdentities(state);
}

/**
 * src/sandbox/demoPeople.ts: the most recently active clients with a conversation of this session become the demo
 * people (no PRNG draw, so the rest of the data stays as it was); their first name in subjects follows.
 */
function giveDemoIdentities(state: PixiesetState) {
  const lastActivity = new Map<string, number>();
  for (const c of state.conversations.values()) {
    if (c.foreign) continue;
    const t = c.last_message_at.getTime();
    if ((lastActivity.get(c.client_id) ?? -Infinity) < t) lastActivity.set(c.client_id, t);
  }
  const clients = byRecentActivity(
    [...lastActivity.keys()].map((id) => state.clients.get(id) as PxClient),
    (c) => lastActivity.get(c.id) as number,
    (c) => c.id,
  );
  PIXIESET_DEMO_PEOPLE.forEach((p, i) => {
    const client = clients[i];
    if (!client) return;
    const before = client.first_name;
    client.first_name = p.first;
    client.last_name = p.last;
    client.email = p.email ?? client.email;
    client.phone = p.phone ?? client.phone;
    for (const c of state.conversations.values())
      if (c.client_id === client.id) c.subject = c.subject.replace(before, p.first);
  });
}
