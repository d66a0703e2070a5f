/** GraphQL operations shared by the bench workloads. */

/** The issue 13 thread page: the conversation with its participants and its newest 20 messages with senders. */
export const THREAD_PAGE = /* GraphQL */ `
  query Thread($id: ID!) {
    conversation(id: $id) {
      id
      subject
      status
      unreadCount
      participants {
        id
        name
        kind
      }
      messages(last: 20) {
        edges {
          cursor
          node {
            id
            content
            sentAt
            direction
            sender {
              id
              name
              kind
            }
            attachments {
              id
              filename
            }
          }
        }
      }
    }
  }
`;

/** One message sent into a conversation. */
export const SEND_MESSAGE = /* GraphQL */ `
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      content
      sentAt
      direction
    }
  }
`;

/** The issue 7 / issue 13 target 4 inbox page: 50 rows over every source, with participants and last messages. */
export const INBOX = /* GraphQL */ `
  query Inbox {
    conversations(first: 50) {
      edges {
        node {
          id
          subject
          lastMessageAt
          unreadCount
          source {
            id
            name
            kind
          }
          participants {
            id
            name
            kind
            avatarUrl
          }
          lastMessage {
            id
            content
            sentAt
            direction
            sender {
              id
              name
              kind
            }
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;
