import { byRecentActivity, CHATWOOT_DEMO_PEOPLE } from '../demoPeople';
import { createRandom, FIRST_NAMES, LAST_NAMES, type Random } from '../kit/random';
import {
  ACCOUNT_ID,
  ADMIN_TOKEN,
  AGENT_TOKEN,
  API_INBOX_ID,
  EMAIL_INBOX_ID,
  FOREIGN_ACCOUNT_ID,
  MESSAGE_TYPE,
  WEBSITE_INBOX_ID,
  type ChatwootState,
  type CwContact,
  type CwConversation,
  type CwStatus,
  type CwUser,
} from './state';

/** Demo data is anchored here, so it is the same on every start (as the other emulators). */
export const SEED_BASE = Date.parse('2026-11-01T09:00:00.000Z');

export const LABELS = ['billing', 'bug', 'feature-request', 'feedback', 'onboarding', 'refund', 'vip'] as const;

const CONTACT_LINES = [
  'Hi, I was charged twice for my subscription this month.',
  'The export button does nothing when I click it.',
  'Can I upgrade to the annual plan mid-cycle?',
  'I cannot log in since the last update.',
  'Is there a way to add more seats to our team?',
  'The invoice shows the wrong company address.',
  "Could you send me a copy of last month's receipt?",
  'The app crashes when I upload a large CSV.',
  'When will dark mode be available?',
  'Our integration started returning 500 errors this morning.',
  'Thanks, that fixed it!',
  'Great, thank you for the quick answer.',
] as const;
const AGENT_LINES = [
  'Thanks for reaching out! Let me look into this for you.',
  'I have refunded the duplicate charge; it should appear within 3-5 business days.',
  'Could you tell me which browser and version you are using?',
  'I have escalated this to our engineering team and will keep you posted.',
  'You can change the plan under Settings > Billing.',
  'I have attached a step-by-step guide.',
  'The fix is live now, could you try again?',
  'Happy to help! Is there anything else I can do?',
] as const;
const NOTES = [
  'Customer is on the legacy plan, check before refunding.',
  'Reproduced on staging, linked to BUG-2231.',
  'VIP account, please prioritise.',
  'Waiting on finance to confirm the refund.',
] as const;
const SUBJECTS = [
  'Double charge on invoice #{n}',
  'Cannot export reports',
  'Question about adding seats',
  'Login issue after the update',
  'Wrong address on receipt #{n}',
  'Feature request: dark mode',
] as const;
const BOT_GREETING = 'Hi there! I am Captain, the Acme assistant. An agent will be with you shortly.';

/** A valid 1x1 PNG, so image attachments render. */
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const pdf = (title: string) => Buffer.from(`%PDF-1.4\n% ${title}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n`);
type DemoFile = { filename: string; contentType: string; data: Buffer };
const INCOMING_FILES: Array<(n: number) => DemoFile> = [
  () => ({ filename: 'screenshot.png', contentType: 'image/png', data: PNG_1X1 }),
  () => ({
    filename: 'error-log.txt',
    contentType: 'text/plain',
    data: Buffer.from('TypeError: cannot read properties of undefined\n'),
  }),
  (n) => ({ filename: `receipt-${n}.pdf`, contentType: 'application/pdf', data: pdf(`Receipt ${n}`) }),
];
const OUTGOING_FILES: Array<(n: number) => DemoFile> = [
  () => ({ filename: 'setup-guide.pdf', contentType: 'application/pdf', data: pdf('Setup guide') }),
  (n) => ({ filename: `invoice-${n}.pdf`, contentType: 'application/pdf', data: pdf(`Invoice ${n}`) }),
  () => ({
    filename: 'usage-export.csv',
    contentType: 'text/csv',
    data: Buffer.from('date,seats\n2026-10-01,12\n2026-10-02,13\n'),
  }),
];

const ascii = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '');
const uuid = (r: Random) =>
  `${r.alnum(8, '0123456789abcdef')}-${r.alnum(4, '0123456789abcdef')}-4${r.alnum(3, '0123456789abcdef')}-a${r.alnum(3, '0123456789abcdef')}-${r.alnum(12, '0123456789abcdef')}`;

interface PlannedMessage {
  at: number;
  seq: number;
  type: number;
  content: string | null;
  private: boolean;
  sender: { type: 'Contact' | 'User' | 'AgentBot' | 'Captain::Assistant'; id: number } | null;
  file?: DemoFile;
}
interface PlannedConversation {
  index: number;
  conv: CwConversation;
  status: CwStatus;
  messages: PlannedMessage[];
  readMode: 'all' | 'none' | 'tail';
}

/**
 * A support team's account: three inboxes (Website widget, Email, API), four agents and a bot, contacts,
 * labels, and about 20×scale conversations in every status with incoming and outgoing messages, private
 * notes, activity messages, attachments and unread counts (one conversation above the cap of 10).
 */
export function seedChatwoot(state: ChatwootState, scale: number, seed: number) {
  const r = createRandom(seed);
  state.accounts = [
    { id: ACCOUNT_ID, name: 'Acme Support' },
    { id: FOREIGN_ACCOUNT_ID, name: 'Globex Help Desk' },
  ];
  state.inboxes = [
    { id: WEBSITE_INBOX_ID, name: 'Website', channel_type: 'Channel::WebWidget', channel_id: 1 },
    { id: EMAIL_INBOX_ID, name: 'Support Email', channel_type: 'Channel::Email', channel_id: 1 },
    { id: API_INBOX_ID, name: 'Acme App (API)', channel_type: 'Channel::Api', channel_id: 1 },
  ];
  const allInboxes = state.inboxes.map((i) => i.id);
  state.users = [
    user(1, 'Alex Morgan', 'administrator', ADMIN_TOKEN, allInboxes, 'available'),
    user(2, 'Sam Lee', 'agent', AGENT_TOKEN, [WEBSITE_INBOX_ID], 'busy'),
    user(3, 'Priya Shah', 'agent', 'sandbox-chatwoot-agent-3-token', allInboxes, 'available'),
    user(4, 'Jonas Berg', 'agent', 'sandbox-chatwoot-agent-4-token', [EMAIL_INBOX_ID, API_INBOX_ID], 'offline'),
  ];
  state.agentBots = [{ id: 1, name: 'Captain', description: 'Answers first and hands over to an agent.' }];
  // Captain (Enterprise/Cloud) answers as a Captain::Assistant; its id 1 is also a user's, a contact's and the agent
  // bot's, on purpose (docs/vendors/chatwoot.md "Bots").
  state.captainAssistants = [
    {
      id: 1,
      name: 'Acme Assistant',
      description: 'Answers from the help center.',
      created_at: SEED_BASE - 90 * 86_400_000,
    },
  ];
  const admin = state.users[0] as CwUser;

  const nContacts = Math.max(6, Math.round(14 * scale));
  const contacts: CwContact[] = [];
  for (let i = 0; i < nContacts; i++) {
    const first = r.pick(FIRST_NAMES);
    const last = r.pick(LAST_NAMES);
    const created = SEED_BASE - r.int(40, 400) * 86_400_000;
    const c: CwContact = {
      id: i + 1,
      name: `${first} ${last}`,
      // Widget visitors often leave no email or phone: both are null upstream then.
      email: i % 5 === 4 ? null : `${ascii(first)}.${ascii(last)}${i > 23 ? i : ''}@example.com`.toLowerCase(),
      phone_number: r.chance(0.5) ? `+1555${String(r.int(1000000, 9999999))}` : null,
      identifier: r.chance(0.3) ? `crm-${1000 + i}` : null,
      blocked: false,
      additional_attributes: r.chance(0.5)
        ? { city: r.pick(['Berlin', 'Lagos', 'Osaka', 'Lisbon', 'Toronto']), country: 'Demo' }
        : {},
      custom_attributes: r.chance(0.3) ? { plan: r.pick(['starter', 'team', 'enterprise']) } : {},
      created_at: created,
      last_activity_at: null,
    };
    contacts.push(c);
    state.contacts.set(c.id, c);
  }
  const withEmail = contacts.filter((c) => c.email !== null);

  const nConv = scale === 0 ? 0 : Math.max(1, Math.round(20 * scale));
  const forcedStatus: CwStatus[] = ['open', 'pending', 'snoozed', 'resolved'];
  const planned: PlannedConversation[] = [];
  let previousLastAt: number | undefined;
  for (let i = 0; i < nConv; i++) {
    const x = r.next();
    const inboxId = i === 5 ? API_INBOX_ID : x < 0.45 ? WEBSITE_INBOX_ID : x < 0.75 ? EMAIL_INBOX_ID : API_INBOX_ID;
    const contact = inboxId === EMAIL_INBOX_ID ? r.pick(withEmail) : r.pick(contacts);
    const status: CwStatus =
      forcedStatus[i] ?? (r.chance(0.45) ? 'open' : r.chance(0.5) ? 'resolved' : r.chance(0.5) ? 'pending' : 'snoozed');
    // Five-minute slots on purpose: conversations share a last_activity_at (two always do, more at scale) and
    // the display id breaks the tie.
    const slot = SEED_BASE - r.int(0, 30 * 24 * 12) * 300_000;
    const lastAt = i === 7 ? (previousLastAt ?? slot) : slot;
    previousLastAt = lastAt;
    const capped = i === 4;
    const empty = i === 5;
    const count = empty ? 0 : capped ? 14 : r.int(2, 9);
    const gapMs = r.int(2, 120) * 60_000;
    const createdAt = lastAt - Math.max(1, count) * gapMs;
    const assignee = r.chance(0.75) ? r.pick(state.users) : null;
    const labels = [...new Set([r.pick(LABELS), r.pick(LABELS)])].slice(0, r.int(0, 2)).sort();
    const conv: CwConversation = {
      db_id: 0,
      display_id: 0,
      uuid: uuid(r),
      inbox_id: inboxId,
      contact_id: contact.id,
      contact_inbox_id: 0,
      assignee_id: assignee?.id ?? null,
      assignee_agent_bot_id: null,
      status,
      snoozed_until: status === 'snoozed' && r.chance(0.5) ? SEED_BASE + r.int(1, 7) * 86_400_000 : null,
      priority: r.pick([null, null, 'low', 'medium', 'high', 'urgent'] as const),
      labels,
      additional_attributes:
        inboxId === EMAIL_INBOX_ID
          ? { mail_subject: r.pick(SUBJECTS).replace('{n}', String(4100 + i)) }
          : inboxId === WEBSITE_INBOX_ID
            ? {
                browser: {
                  browser_name: r.pick(['Chrome', 'Firefox', 'Safari']),
                  platform_name: r.pick(['macOS', 'Windows', 'Android']),
                },
                referer: 'https://acme.example/pricing',
                initiated_at: { timestamp: new Date(createdAt).toUTCString() },
              }
            : {},
      custom_attributes: {},
      agent_last_seen_at: null,
      assignee_last_seen_at: null,
      contact_last_seen_at: null,
      created_at: createdAt,
      updated_at: createdAt,
      last_activity_at: createdAt,
      first_reply_created_at: null,
      waiting_since: null,
      messages: [],
    };

    const msgs: PlannedMessage[] = [];
    const at = (k: number) => (k === count - 1 ? lastAt : createdAt + (k + 1) * gapMs - r.int(1, 50) * 1000);
    const agentFor = () => assignee ?? r.pick(state.users);
    for (let k = 0; k < count; k++) {
      const t = at(k);
      let kind: 'in' | 'out' | 'note' | 'bot' | 'activity';
      if (k === 0) kind = 'in';
      else if (capped && k >= 1) kind = 'in';
      else if (k === 1 && inboxId === WEBSITE_INBOX_ID && r.chance(0.5)) kind = 'bot';
      else if (k === 1 && assignee) kind = 'activity';
      else if (k === count - 1 && (status === 'resolved' || status === 'snoozed')) kind = 'activity';
      else kind = r.chance(0.45) ? 'in' : r.chance(0.8) ? 'out' : 'note';
      const n = 4100 + i * 10 + k;
      switch (kind) {
        case 'in': {
          const file = r.chance(0.2) ? r.pick(INCOMING_FILES)(n) : undefined;
          // Some attachment-only messages: their content is null upstream.
          const content = file && r.chance(0.4) ? null : r.pick(CONTACT_LINES);
          msgs.push({
            at: t,
            seq: k,
            type: MESSAGE_TYPE.incoming,
            content,
            private: false,
            sender: { type: 'Contact', id: contact.id },
            file,
          });
          break;
        }
        case 'out': {
          const file = r.chance(0.2) ? r.pick(OUTGOING_FILES)(n) : undefined;
          msgs.push({
            at: t,
            seq: k,
            type: MESSAGE_TYPE.outgoing,
            content: r.pick(AGENT_LINES),
            private: false,
            sender: { type: 'User', id: agentFor().id },
            file,
          });
          break;
        }
        case 'note':
          msgs.push({
            at: t,
            seq: k,
            type: MESSAGE_TYPE.outgoing,
            content: r.pick(NOTES),
            private: true,
            sender: { type: 'User', id: agentFor().id },
          });
          break;
        case 'bot':
          msgs.push({
            at: t,
            seq: k,
            type: MESSAGE_TYPE.outgoing,
            content: BOT_GREETING,
            private: false,
            sender: { type: 'AgentBot', id: 1 },
          });
          break;
        case 'activity': {
          const who = agentFor().name;
          const content =
            k === 1 && assignee
              ? `Assigned to ${assignee.name} by ${admin.name}`
              : status === 'resolved'
                ? `Conversation was marked resolved by ${who}`
                : `Conversation was snoozed by ${who}`;
          msgs.push({ at: t, seq: k, type: MESSAGE_TYPE.activity, content, private: false, sender: null });
          break;
        }
      }
    }
    const readMode = capped ? 'none' : status === 'resolved' || r.chance(0.5) ? 'all' : 'tail';
    planned.push({ index: i, conv, status, messages: msgs, readMode });
  }

  // Bots (docs/vendors/chatwoot.md "Bots"), chosen without drawing from the PRNG so the rest of the data stays as
  // it was: the first pending conversation the bot greeted (else the first pending one) is assigned to the agent
  // bot (`assignee_agent_bot_id`; assigning a bot leaves no user assignee), and the last conversation the bot
  // greeted, when it greeted more than one, was answered by the Captain assistant instead.
  const greeted = planned.filter((p) => p.messages.some((m) => m.sender?.type === 'AgentBot'));
  const botAssigned =
    greeted.find((p) => p.status === 'pending') ?? planned.find((p) => p.status === 'pending') ?? null;
  if (botAssigned) {
    botAssigned.conv.assignee_id = null;
    botAssigned.conv.assignee_agent_bot_id = 1;
  }
  const captained = greeted.length > 1 ? greeted[greeted.length - 1] : undefined;
  for (const m of captained?.messages ?? []) {
    if (m.sender?.type === 'AgentBot') m.sender = { type: 'Captain::Assistant', id: 1 };
  }

  // Display ids follow creation order, as upstream's per-account sequence does.
  planned.sort((a, b) => a.conv.created_at - b.conv.created_at || a.index - b.index);
  planned.forEach((p, idx) => {
    p.conv.display_id = idx + 1;
    p.conv.db_id = 1000 + idx + 1;
    state.nextIds.conversation = idx + 2;
    state.nextIds.conversationDb = 1000 + idx + 2;
    const contact = state.contacts.get(p.conv.contact_id) as CwContact;
    const inbox = state.inbox(p.conv.inbox_id);
    if (!inbox) throw new Error(`no inbox ${p.conv.inbox_id}`);
    // Email contact_inboxes are keyed by the address, the others by a generated id (ContactInboxBuilder).
    const sourceId = inbox.channel_type === 'Channel::Email' && contact.email ? contact.email : uuid(r);
    p.conv.contact_inbox_id = state.findOrCreateContactInbox(contact, inbox, sourceId, p.conv.created_at).id;
    state.conversations.set(p.conv.display_id, p.conv);
  });

  // Message (and attachment) ids follow time across the account, as a database sequence would.
  const all = planned.flatMap((p) => p.messages.map((m) => ({ p, m })));
  all.sort((a, b) => a.m.at - b.m.at || a.p.conv.display_id - b.p.conv.display_id || a.m.seq - b.m.seq);
  for (const { p, m } of all) {
    state.addMessage(p.conv, {
      content: m.content,
      message_type: m.type as 0 | 1 | 2 | 3,
      content_type: 'text',
      content_attributes: {},
      private: m.private,
      status:
        m.type === MESSAGE_TYPE.activity
          ? 'sent'
          : m.type === MESSAGE_TYPE.outgoing && !m.private
            ? 'delivered'
            : 'sent',
      source_id:
        m.type === MESSAGE_TYPE.incoming && p.conv.inbox_id === EMAIL_INBOX_ID
          ? `<${p.conv.uuid}.${m.seq}@mail.example.com>`
          : null,
      sender_type: m.sender?.type ?? null,
      sender_id: m.sender?.id ?? null,
      created_at: m.at,
      files: m.file ? [m.file] : undefined,
    });
  }

  for (const p of planned) {
    const c = p.conv;
    c.status = p.status;
    const incoming = c.messages.filter((m) => m.message_type === MESSAGE_TYPE.incoming);
    const last = state.lastMessage(c);
    if (p.readMode === 'all' && last) c.agent_last_seen_at = last.created_at + 60_000;
    else if (p.readMode === 'tail' && incoming.length > 0) {
      const k = Math.min(incoming.length, r.int(1, 2));
      c.agent_last_seen_at = (incoming[incoming.length - k] as (typeof incoming)[number]).created_at - 1000;
    }
    if (c.assignee_id !== null) c.assignee_last_seen_at = c.agent_last_seen_at;
    const lastOut = [...c.messages].reverse().find((m) => m.message_type === MESSAGE_TYPE.outgoing && !m.private);
    if (lastOut) c.contact_last_seen_at = lastOut.created_at + 30_000;
    if (c.status !== 'open') c.waiting_since = null;
    c.updated_at = c.last_activity_at + r.int(0, 59_999);
  }

  // One muted conversation: mute = resolve + block the contact (docs/vendors/chatwoot.md), so every conversation of
  // that contact reads as muted.
  const toMute =
    planned.find((p) => p.status === 'resolved' && p.index === 3) ?? planned.find((p) => p.status === 'resolved');
  if (toMute) {
    state.contactOf(toMute.conv).blocked = true;
    const last = state.lastMessage(toMute.conv);
    state.addActivity(
      toMute.conv,
      `${admin.name} has muted the conversation`,
      (last?.created_at ?? toMute.conv.created_at) + 1000,
    );
    toMute.conv.agent_last_seen_at = toMute.conv.last_activity_at + 60_000;
  }
  giveDemoIdentities(state);
}

/**
 * src/sandbox/demoPeople.ts: the most recently active contacts with a conversation become the demo people (no PRNG
 * draw, so the rest of the data stays as it was). One without an email takes a contact none of whose conversations is
 * in the email inbox; an email inbox's contact_inbox is keyed by the address (ContactInboxBuilder), so it follows.
 */
function giveDemoIdentities(state: ChatwootState) {
  const lastActivity = new Map<number, number>();
  const inEmailInbox = new Set<number>();
  for (const c of state.conversations.values()) {
    if ((lastActivity.get(c.contact_id) ?? -Infinity) < c.last_activity_at)
      lastActivity.set(c.contact_id, c.last_activity_at);
    if (c.inbox_id === EMAIL_INBOX_ID) inEmailInbox.add(c.contact_id);
  }
  const free = byRecentActivity(
    [...lastActivity.keys()].map((id) => state.contacts.get(id) as CwContact),
    (c) => lastActivity.get(c.id) as number,
    (c) => c.id,
  );
  for (const p of CHATWOOT_DEMO_PEOPLE) {
    const i = free.findIndex((c) => p.email !== null || !inEmailInbox.has(c.id));
    if (i < 0) continue;
    const contact = free.splice(i, 1)[0] as CwContact;
    for (const ci of state.contactInboxes.values())
      if (ci.contact_id === contact.id && ci.source_id === contact.email && p.email) ci.source_id = p.email;
    contact.name = `${p.first} ${p.last}`;
    // Chatwoot keeps emails lower-cased and phone numbers in E.164 only (app/models/contact.rb).
    contact.email = p.email?.toLowerCase() ?? null;
    contact.phone_number = p.phone;
  }
}

function user(
  id: number,
  name: string,
  role: CwUser['role'],
  token: string,
  inboxIds: number[],
  availability: CwUser['availability_status'],
): CwUser {
  const email = `${name.split(' ')[0]?.toLowerCase()}@acme.example`;
  return {
    id,
    name,
    display_name: id === 1 ? 'Alex' : null,
    email,
    role,
    availability_status: availability,
    access_token: token,
    inbox_ids: inboxIds,
    account_ids: [ACCOUNT_ID],
  };
}
