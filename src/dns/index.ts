// Destination resolution: MX, null MX, implicit MX, the loop rule, the cache.
export type { Destination, DestinationKind, MxHost } from './destination.js';
export { DestinationResolver, type ResolverOptions } from './resolver.js';
export { formatDestination } from './format.js';
export type { TxtAnswer } from './txt-records.js';
