import type { VendorProfile } from '../vendor';

/**
 * Monica 4.x's defaults as data (docs/connectors.md "A vendor folder"). What it can do (docs/vendors/README.md
 * "Operations a backend cannot support"): conversations and messages are fully writable, but there is no read state,
 * status, mute, pin, archive, label, attachment or webhook, so it is polled (poll.ts).
 */
export const MONICA_PROFILE: VendorProfile = {
  kind: 'MONICA',
  defaultName: 'Monica',
  capabilities: {
    unreadCounts: false,
    exactUnreadCounts: false,
    markRead: false,
    markUnread: false,
    createConversation: true,
    // Only happenedAt (when the conversation took place, a date-time: docs/vendors/monica.md "Timestamps").
    updateConversation: true,
    deleteConversation: true,
    sendMessage: true,
    editMessage: true,
    deleteMessage: true,
    attachments: false,
    maxAttachmentSize: null,
    uploadMode: null,
    mute: false,
    pin: false,
    archive: false,
    labels: false,
    privateMessages: false,
    settableStatuses: [],
    editableSubject: false,
    realtime: 'POLLING',
  },
  // docs/vendors/monica.md: 60 requests a minute per token.
  limits: { rateLimitPerMinute: 60, maxConcurrency: 4 },
  // Polled: the snapshot is re-read every 30 s at most while nobody subscribes (each poll re-syncs it meanwhile).
  catalog: { maxAgeMs: 30_000 },
};
