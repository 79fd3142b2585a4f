// `minimta resolve DOMAIN [--config FILE] [--dns-server HOST:PORT…]`:
// what delivery would do for a domain, asking the configured DNS servers
// the way the relay does (DestinationResolver; null MX, implicit MX, the
// loop rule), in the words of formatDestination; then the TLS it would use
// there (delivery.tlsPolicies, the MTA-STS policy, delivery.tls).
//
// Exit code 0 whenever DNS gave a definite answer, good or bad (hosts, null
// MX, no such domain, no usable MX, a loop to this host): the answer is the
// result. 1 on a temporary failure (SERVFAIL, timeout), where the relay too
// would only try again later; 2 on bad usage.

import { CliUsageError, parseCommandArgs, runCommand, type CommandIo } from './command-io.js';
import { loadCliConfig } from './cli-config.js';
import { DestinationResolver, formatDestination } from '../dns/index.js';
import { mtaStsPolicies } from '../mta-sts/policies-from-config.js';
import { describeSecurity } from '../mta-sts/describe-security.js';

export const RESOLVE_USAGE = `usage: minimta resolve DOMAIN [--config FILE] [--dns-server HOST:PORT]...
`;

const OPTIONS = {
  config: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  hostname: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function resolveCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('resolve', RESOLVE_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(RESOLVE_USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new CliUsageError(positionals.length === 0 ? 'no domain given' : 'one domain at a time');
    const domain = positionals[0]!;
    const config = loadCliConfig(values);
    const resolver = new DestinationResolver({
      servers: config.dns.servers,
      timeoutMs: config.dns.timeout * 1000,
      tries: 2,
      cacheSize: 0,
      // The loop rule needs our own name, as in the relay.
      localNames: [config.hostname],
      // What the resolver notices on the way (a malformed null MX) is worth showing.
      log: (component, text) => io.stderr.write(`minimta: ${component}: ${text}\n`),
    });
    const destination = await resolver.resolveDestination(domain);
    const lines = formatDestination(destination, domain);
    if (destination.kind === 'hosts' && !config.smarthost) {
      // What TLS delivery would use there: delivery.tlsPolicies, MTA-STS (RFC 8461), delivery.tls.
      const name = domain.toLowerCase().replace(/\.$/, '');
      const own = config.delivery.tlsPolicies[name];
      const mtaSts = own === undefined && config.delivery.mtaSts ? await mtaStsPolicies(config, resolver).lookUp(name) : undefined;
      lines.push(...describeSecurity({ domain: name, hosts: destination.hosts, own, mtaSts, level: config.delivery.tls }));
    }
    io.stdout.write(lines.map((line) => `${line}\n`).join(''));
    return destination.kind === 'temporary' ? 1 : 0;
  });
}
