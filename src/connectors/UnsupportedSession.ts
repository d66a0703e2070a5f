import { unsupported } from '../errors';
import type {
  AttachmentUploadModel,
  AttachmentUploadRequest,
  ConversationModel,
  CreateConversationInput,
  MessageModel,
  SendMessageInput,
  SourceUnreadModel,
  UpdateConversationPatch,
} from './types';

/**
 * Base for sessions: every mutation a vendor cannot do throws UNSUPPORTED_OPERATION naming the source.
 * Subclasses override what their vendor supports and must keep `capabilities` in step.
 */
export abstract class UnsupportedSession {
  protected constructor(protected readonly sourceId: string) {}

  unreadCount(): Promise<SourceUnreadModel | null> {
    return Promise.resolve(null);
  }
  sendMessage(_input: SendMessageInput): Promise<MessageModel> {
    return Promise.reject(unsupported(this.sourceId, 'sendMessage'));
  }
  createConversation(_input: CreateConversationInput): Promise<ConversationModel> {
    return Promise.reject(unsupported(this.sourceId, 'createConversation'));
  }
  updateConversation(_nativeId: string, _patch: UpdateConversationPatch): Promise<ConversationModel> {
    return Promise.reject(unsupported(this.sourceId, 'updateConversation'));
  }
  deleteConversation(_nativeId: string): Promise<void> {
    return Promise.reject(unsupported(this.sourceId, 'deleteConversation'));
  }
  editMessage(_nativeId: string, _content: string): Promise<MessageModel> {
    return Promise.reject(unsupported(this.sourceId, 'editMessage'));
  }
  deleteMessage(_nativeId: string): Promise<void> {
    return Promise.reject(unsupported(this.sourceId, 'deleteMessage'));
  }
  markRead(_nativeId: string): Promise<ConversationModel> {
    return Promise.reject(unsupported(this.sourceId, 'markConversationRead'));
  }
  markUnread(_nativeId: string): Promise<ConversationModel> {
    return Promise.reject(unsupported(this.sourceId, 'markConversationUnread'));
  }
  createAttachmentUpload(_req: AttachmentUploadRequest): Promise<AttachmentUploadModel> {
    return Promise.reject(unsupported(this.sourceId, 'attachments'));
  }
}
