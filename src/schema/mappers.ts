import type { ConversationModel, MessageModel } from '../connectors/types';

/** Hand-written parent types for connection objects (codegen `mappers`). */
export interface ConversationConnectionModel {
  edges: Array<{ cursor: string; node: ConversationModel }>;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number | null;
}
export interface MessageConnectionModel {
  edges: Array<{ cursor: string; node: MessageModel }>;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number | null;
}
