import { defineConnectorContract } from './connectorContract';

// One line per source: every connector runs the same contract suite against its own emulator.
defineConnectorContract('PIXIESET', { missingConversationId: 'conv_DOESNOTEXIST' });
defineConnectorContract('MONICA', { missingConversationId: '999999' });
defineConnectorContract('PROTOCOL', { missingConversationId: 'AAAAAAAAAAAAAAAA' });
defineConnectorContract('CHATWOOT', { missingConversationId: '1:999999' });
