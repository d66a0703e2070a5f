import type { VendorProfile } from '../vendor';

/**
 * Chatwoot's defaults as data (docs/connectors.md "A vendor folder"). What it can do (docs/vendors/README.md
 * "Operations a backend cannot support"): no pin, no archive (statuses only), no message edit (content cannot
 * change), soft message delete only, unread counts capped at 10, no subject; mute exists but means "resolve and
 * block the contact" (docs/vendors/chatwoot.md).
 */
export const CHATWOOT_PROFILE: VendorProfile & {
  /**
   * Default of a source's `readCheckIntervalMs`: a read in Chatwoot's dashboard sends no webhook, so the poller
   * re-checks unread conversations this often while anybody subscribes (poll.ts; docs/vendors/chatwoot.md
   * "Unread semantics"): such a read shows within 30 s.
   */
  readCheckIntervalMs: number;
} = {
  kind: 'CHATWOOT',
  defaultName: 'Chatwoot',
  capabilities: {
    unreadCounts: true,
    exactUnreadCounts: false,
    markRead: true,
    markUnread: true,
    createConversation: true,
    updateConversation: true,
    deleteConversation: true,
    sendMessage: true,
    editMessage: false,
    deleteMessage: true,
    attachments: true,
    // docs/vendors/chatwoot.md "Attachments on send": at most 15 files per message, 40 MB each.
    maxAttachmentSize: 40 * 1024 * 1024,
    uploadMode: 'INLINE',
    mute: true,
    pin: false,
    archive: false,
    labels: true,
    privateMessages: true,
    settableStatuses: ['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED'],
    editableSubject: false,
    realtime: 'WEBHOOK',
  },
  // docs/vendors/chatwoot.md: Rack::Attack allows 3,000 requests a minute per IP.
  limits: { rateLimitPerMinute: 3000, maxConcurrency: 16 },
  // Webhooks keep the catalog fresh; the full re-sync after 10 minutes repairs what missed deliveries left wrong.
  catalog: { maxAgeMs: 600_000 },
  readCheckIntervalMs: 30_000,
};
