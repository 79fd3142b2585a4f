// delivery.routes: a next hop chosen by the config instead of DNS, like
// Postfix's transport maps. A route for a recipient domain sends its mail
// to that HOST:PORT with no MX lookup; a route for a host name changes where
// that MX host is reached, so a test world can point an MX at a listener on
// another port (a refuse listener, a sink).
//
//   "delivery": { "routes": { "example.test": "127.0.0.1:2600", "mx.other.test": "127.0.0.1:2601" } }

import type { Destination, MxHost } from '../../dns/destination.js';
import type { DestinationResolver } from '../../dns/index.js';

export type NextHopRoutes = Record<string, { host: string; port: number }>;

const key = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** findHosts for the worker: the routes first, DNS for the rest. */
export function routedDestinations(routes: NextHopRoutes, resolver: DestinationResolver): (domain: string) => Promise<Destination> {
  const table = new Map(Object.entries(routes).map(([name, route]) => [key(name), route]));
  const routed = async (name: string, host: MxHost): Promise<MxHost[]> => {
    const route = table.get(key(name));
    if (!route) return [host];
    const target = await resolver.resolveHost(route.host);
    if (target.kind !== 'hosts') return [];
    return target.hosts.map((h) => ({ ...h, name: host.name, preference: host.preference, port: route.port }));
  };
  return async (domain) => {
    const route = table.get(key(domain));
    if (route) {
      const target = await resolver.resolveHost(route.host);
      return target.kind === 'hosts' ? { ...target, hosts: target.hosts.map((h) => ({ ...h, port: route.port })) } : target;
    }
    const destination = await resolver.resolveDestination(domain);
    if (destination.kind !== 'hosts' || table.size === 0) return destination;
    const hosts = (await Promise.all(destination.hosts.map((host) => routed(host.name, host)))).flat();
    return { ...destination, hosts };
  };
}
