// Every reply minimta sends or records, and the tools to write and read them.
export * from './reply.js';
export * from './replies.js';
export * from './parse.js';
export * from './status-meanings.js';
export * from './explain.js';
