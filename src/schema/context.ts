import type { GatewayContext } from '../server/context';

/** The context every resolver receives (codegen `contextType`). */
export type GraphQLContext = GatewayContext;
