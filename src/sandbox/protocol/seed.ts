import { byRecentActivity, PROTOCOL_DEMO_PEOPLE } from '../demoPeople';
import { FIRST_NAMES, LAST_NAMES, type Random } from '../kit/random';
import { BASE62, type PrContact, type PrConversation, type PrGroup, type ProtocolState } from './state';

/** Demo data is anchored here (epoch seconds), so it is the same on every start. */
export const SEED_BASE = Math.floor(Date.parse('2026-11-01T09:00:00.000Z') / 1000);
const DAY = 86_400;

const GROUP_NAMES = [
  'Book club',
  'Saturday football',
  'Family',
  'Flat 4B',
  'Climbing crew',
  'Project Falcon',
  'Wedding planning',
  'Road trip 2027',
  'Board games',
  'Choir altos',
  'Running group',
  'Design review',
] as const;
const INCOMING_LINES = [
  'Are we still on for tonight?',
  'Just landed, see you soon!',
  'Can you send me the address again?',
  'Haha, that is brilliant 😂',
  'Running 10 minutes late, sorry!',
  'Did you get my photos?',
  'Happy birthday!! 🎉',
  'What time works for you tomorrow?',
  'I left my keys at yours, I think.',
  'Thanks again for dinner.',
] as const;
const OUTGOING_LINES = [
  'Yes! See you at 7.',
  'Sent it over, check your inbox.',
  'No worries, take your time.',
  'Sounds good to me.',
  'I will bring the snacks.',
  'Got them, they look great!',
  'Let me check and get back to you.',
] as const;
const FILES = [
  { filename: 'boarding-pass.pdf', file_type: 'application/pdf' },
  { filename: 'photo.png', file_type: 'image/png' },
  { filename: 'menu.pdf', file_type: 'application/pdf' },
  { filename: 'notes.txt', file_type: 'text/plain' },
  { filename: 'map.png', file_type: 'image/png' },
] as const;
/** A 1×1 PNG, so that image attachments render. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * A chat account: ~20×scale conversations, about a fifth of them groups of 2–5 contacts, some pinned, muted or
 * archived, some with unread tails (with and without `last_opened_at`), a few without any message, and messages
 * with attachments. The self contact (the API user) sends the outgoing side.
 */
export function seedProtocol(state: ProtocolState, r: Random, scale: number) {
  const newId = () => r.alnum(16, BASE62);
  const self: PrContact = {
    id: state.selfContactId,
    username: 'switchboard',
    phone_number: '+1 555 010 0000',
    avatar_url: null,
    display_name: 'Switchboard Demo',
    conversation_id: null,
    last_active_at: SEED_BASE,
    created_at: SEED_BASE - 400 * DAY,
  };
  state.contacts.set(self.id, self);

  const nConv = scale === 0 ? 0 : Math.max(1, Math.round(20 * scale));
  const nGroups = nConv >= 3 ? Math.round(nConv * 0.2) : 0;
  const nDirect = nConv - nGroups;
  const nContacts = nDirect + Math.max(1, Math.round(3 * scale));
  const usernames = new Set<string>();
  const contacts: PrContact[] = [];
  for (let i = 0; i < nContacts; i++) {
    const first = r.pick(FIRST_NAMES);
    const last = r.pick(LAST_NAMES);
    let username = `${first}${last}`.normalize('NFD').replace(/[^A-Za-z]/g, '');
    if (usernames.has(username)) username = `${username}${i}`;
    usernames.add(username);
    const c: PrContact = {
      id: newId(),
      username,
      phone_number: `+1 555 ${String(r.int(100, 999))} ${String(r.int(1000, 9999))}`,
      avatar_url: null,
      // docs/vendors/protocol.md: display_name null means "use username"; the demo has both kinds.
      display_name: r.chance(0.7) ? `${first} ${last}` : null,
      conversation_id: null,
      last_active_at: null,
      created_at: SEED_BASE - r.int(60, 400) * DAY,
    };
    contacts.push(c);
    state.contacts.set(c.id, c);
  }

  // The first few conversations each show one feature, so that even scale 1 has every kind; the rest is random.
  let ordinal = 0;
  const conversationFor = (
    senders: PrContact[],
    link: { contact_id: string } | { group_id: string },
  ): PrConversation => {
    const k = ordinal++;
    const last = SEED_BASE - r.int(0, 60 * 24 * 60) * 60;
    const created = last - r.int(1, 30) * DAY;
    const conv: PrConversation = {
      id: newId(),
      contact_id: 'contact_id' in link ? link.contact_id : null,
      group_id: 'group_id' in link ? link.group_id : null,
      pinned_message_id: null,
      is_pinned: k === 0 || r.chance(0.15),
      is_muted: k === 1 || r.chance(0.12),
      last_active_at: null,
      last_opened_at: null,
      created_at: created,
      archived_at: null,
    };
    state.addConversation(conv);
    if (k === 4 || r.chance(0.05)) return conv; // started, never written in: last_active_at stays null

    const n = r.int(2, 8);
    const unreadTail = k === 3 || r.chance(0.35) ? r.int(1, 3) : 0;
    const neverOpened = k === 3 || (unreadTail > 0 && r.chance(0.25));
    const at = (m: number) => created + Math.floor(((last - created) * (m + 1)) / n);
    for (let m = 0; m < n; m++) {
      const inTail = m >= n - unreadTail;
      const incoming = inTail || m % 2 === 0;
      const sender = incoming ? r.pick(senders) : self;
      const t = at(m);
      // Some old incoming messages never got a read_at; last_opened_at still covers them (docs/vendors/protocol.md).
      const readAt = inTail ? null : incoming && !neverOpened && r.chance(0.25) ? null : t + 300;
      const msg = {
        id: newId(),
        conversation_id: conv.id,
        contact_id: sender.id,
        message: incoming ? r.pick(INCOMING_LINES) : r.pick(OUTGOING_LINES),
        reactions: r.chance(0.1) ? [{ thumbs_up: [incoming ? self.username : sender.username] }] : [],
        attachment_ids: [] as string[],
        read_at: readAt,
        created_at: t,
        updated_at: t,
      };
      if (r.chance(0.15)) {
        const f = r.pick(FILES);
        const data =
          f.file_type === 'image/png' ? PNG : Buffer.from(`Demo file ${f.filename} from ${sender.username}\n`);
        const a = { id: newId(), message_id: msg.id, ...f, file_size: data.length, created_at: t, data };
        state.attachments.set(a.id, a);
        msg.attachment_ids.push(a.id);
      }
      state.addMessage(msg);
    }
    const lastRead = n - unreadTail - 1;
    conv.last_opened_at = neverOpened
      ? null
      : unreadTail === 0
        ? last + 60
        : lastRead >= 0
          ? at(lastRead) + 30
          : created;
    if (conv.is_pinned && r.chance(0.3)) conv.pinned_message_id = state.messagesOf(conv.id)[0]?.id ?? null;
    if (k === 2 || r.chance(0.1)) conv.archived_at = last + 3600;
    return conv;
  };

  for (let i = 0; i < nDirect; i++) {
    const contact = contacts[i] as PrContact;
    const conv = conversationFor([contact], { contact_id: contact.id });
    contact.conversation_id = conv.id;
  }
  for (let g = 0; g < nGroups; g++) {
    const size = Math.min(contacts.length, r.int(2, 5));
    const members = new Set<PrContact>();
    while (members.size < size) members.add(r.pick(contacts));
    const group: PrGroup = {
      id: newId(),
      name:
        g < GROUP_NAMES.length
          ? (GROUP_NAMES[g] as string)
          : `${r.pick(GROUP_NAMES)} ${Math.floor(g / GROUP_NAMES.length) + 1}`,
      description: r.chance(0.5) ? 'Created in the Switchboard sandbox.' : null,
      avatar_url: null,
      conversation_id: null,
      contact_ids: [...members].map((c) => c.id),
      created_at: SEED_BASE - r.int(60, 300) * DAY,
      archived_at: null,
    };
    state.groups.set(group.id, group);
    group.conversation_id = conversationFor([...members], { group_id: group.id }).id;
  }
  giveDemoIdentities(state, contacts);
}

/**
 * src/sandbox/demoPeople.ts: the contacts of the most recently active direct conversations become the demo people
 * (no PRNG draw, so the rest of the data stays as it was), with a username in the demo's style.
 */
function giveDemoIdentities(state: ProtocolState, contacts: PrContact[]) {
  const lastActive = (c: PrContact) =>
    (c.conversation_id ? state.conversations.get(c.conversation_id)?.last_active_at : null) ?? null;
  const written = byRecentActivity(
    contacts.filter((c) => lastActive(c) !== null),
    (c) => lastActive(c) as number,
    (c) => c.id,
  );
  PROTOCOL_DEMO_PEOPLE.forEach((p, i) => {
    const contact = written[i];
    if (!contact) return;
    contact.username = `${p.first}${p.last}`;
    contact.display_name = `${p.first} ${p.last}`;
    contact.phone_number = p.phone ?? contact.phone_number;
  });
}
