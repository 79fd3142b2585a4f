// The configuration as the operator's commands see it: the file given with
// --config (or the embedded defaults), then the few flags these commands
// take, exactly as `serve` reads them.

import { applyFlags, defaultConfig, readConfigFile, type Config } from '../config.js';
import { dropPrivileges } from '../privileges.js';

export interface CliConfigFlags {
  config?: string;
  spool?: string;
  hostname?: string;
  'dns-server'?: string[];
}

export function loadCliConfig(flags: CliConfigFlags): Config {
  const base = flags.config ? readConfigFile(flags.config) : defaultConfig();
  return applyFlags(base, { spool: flags.spool, hostname: flags.hostname, dnsServers: flags['dns-server'] });
}

/**
 * The commands that touch the spool run as its owner: with `user` set, root
 * becomes that user first, as `serve` does, so that the spool passes the
 * ownership check and every file written stays the relay's.
 */
export function becomeSpoolOwner(config: Config): void {
  if (config.user !== undefined) dropPrivileges({ user: config.user, group: config.group });
}
