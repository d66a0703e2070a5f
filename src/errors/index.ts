export * from './codes';
export * from './GatewayError';
