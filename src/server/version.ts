// The server's version, reported by hello and the OpenAPI document.
export const SERVER_VERSION = '0.1.0';
