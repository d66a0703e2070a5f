import type { VendorProfile } from '../vendor';

/**
 * Pixieset Studio's defaults as data (docs/connectors.md "A vendor folder"). What it can do (docs/vendors/README.md
 * "Operations a backend cannot support"): Pixieset documents list, detail, send with attachments (signed S3 POST)
 * and unread counts, nothing else; no webhooks, so it is polled (poll.ts).
 */
export const PIXIESET_PROFILE: VendorProfile = {
  kind: 'PIXIESET',
  defaultName: 'Pixieset Studio',
  capabilities: {
    unreadCounts: true,
    exactUnreadCounts: true,
    markRead: false,
    markUnread: false,
    createConversation: false,
    updateConversation: false,
    deleteConversation: false,
    sendMessage: true,
    editMessage: false,
    deleteMessage: false,
    attachments: true,
    // docs/vendors/pixieset.md: the 413 body carries max_size 10485760.
    maxAttachmentSize: 10 * 1024 * 1024,
    uploadMode: 'SIGNED',
    mute: false,
    pin: false,
    archive: false,
    labels: false,
    privateMessages: false,
    settableStatuses: [],
    editableSubject: false,
    realtime: 'POLLING',
  },
  // No documented rate limit: only concurrency is capped, and 429 Retry-After honoured.
  limits: { rateLimitPerMinute: null, maxConcurrency: 8 },
  // The fallback catalog (order.ts): a list re-reads it when older than this; polls re-read it meanwhile while
  // somebody subscribes.
  catalog: { maxAgeMs: 30_000 },
  // Prefix + alphanumerics, as every id the vendor's documents show (`conv_…`, `msg_…`, `att_…`, `cl_…`;
  // docs/vendors/pixieset.md "IDs"); the length is left open (255 at most, a sanity bound).
  ids: {
    conversation: /^conv_[A-Za-z0-9]{1,255}$/,
    message: /^msg_[A-Za-z0-9]{1,255}$/,
    attachment: /^att_[A-Za-z0-9]{1,255}$/,
    contact: /^cl_[A-Za-z0-9]{1,255}$/,
  },
};
