import type { VendorProfile } from '../vendor';

/**
 * Protocol's (CityPay) defaults as data (docs/connectors.md "A vendor folder"). What it can do
 * (docs/vendors/README.md "Operations a backend cannot support").
 */
export const PROTOCOL_PROFILE: VendorProfile = {
  kind: 'PROTOCOL',
  defaultName: 'Protocol',
  capabilities: {
    // Derived from messages (docs/vendors/protocol.md): exact, but no endpoint writes read state.
    unreadCounts: true,
    exactUnreadCounts: true,
    markRead: false,
    markUnread: false,
    createConversation: true,
    updateConversation: true,
    deleteConversation: true,
    sendMessage: true,
    editMessage: true,
    deleteMessage: true,
    attachments: true,
    // Bytes. The template documents no limit; 25 MiB is our choice, and the sandbox emulator enforces the same
    // number with a 413 `invalid_request`.
    maxAttachmentSize: 25 * 1024 * 1024,
    // Files go to `POST /v1/attachments` and their ids into the message.
    uploadMode: 'INLINE',
    mute: true,
    pin: true,
    archive: true,
    labels: false,
    privateMessages: false,
    settableStatuses: ['OPEN', 'ARCHIVED'],
    // The "subject" is the contact's or group's name, not a conversation field.
    editableSubject: false,
    realtime: 'WEBHOOK',
  },
  // No documented rate limit: only concurrency is capped, and 429 Retry-After honoured.
  limits: { rateLimitPerMinute: null, maxConcurrency: 8 },
  // Webhooks keep the catalog fresh; the full re-sync after 10 minutes is a safety net for missed deliveries.
  catalog: { maxAgeMs: 600_000 },
  // docs/vendors/protocol.md "IDs": the documents show 16-character base62 strings; only the character set is
  // enforced (what keeps an id from changing a path), since a real backend's ids may be longer or shorter.
  ids: {
    conversation: /^[A-Za-z0-9]{1,255}$/,
    message: /^[A-Za-z0-9]{1,255}$/,
    attachment: /^[A-Za-z0-9]{1,255}$/,
    contact: /^[A-Za-z0-9]{1,255}$/,
    group: /^[A-Za-z0-9]{1,255}$/,
  },
};
