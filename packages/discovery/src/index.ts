/**
 * @dubbo-mesh/discovery: the discovery API of proto/ loaded with grpc-js, the snapshot's
 * wire form (resources validated by the client with the file rules), and the proxy's
 * discovery client (ACK/NACK, keep the last good snapshot, reconnect with backoff).
 */
export * from './api.js';
export * from './wire.js';
export * from './client.js';
export * from './grpc-logs.js';
