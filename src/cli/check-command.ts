// `minimta check [--config FILE]`, like `postfix check`: is this config
// ready to run? One line per finding ("error: tls.cert: … expired on …");
// exit 0 when there is no error (warnings allowed), 1 when there is one,
// 2 when the config itself cannot be loaded (as everywhere).

import { parseCommandArgs, runCommand, CliUsageError, type CommandIo } from './command-io.js';
import { loadCliConfig } from './cli-config.js';
import { checkDkim, checkDns, checkSpool, checkTls, checkUser, type Finding } from './config-checks.js';

export const CHECK_USAGE = `usage: minimta check [--config FILE] [--spool DIR]

Checks the config (and the embedded defaults under it), the user to run as,
the TLS certificate and key, the spool's ownership and modes, the DNS
servers and the DKIM keys. One line per finding; exit 1 on any error.
`;

const OPTIONS = {
  config: { type: 'string' },
  spool: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function checkCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('check', CHECK_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(CHECK_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`check takes no arguments: ${positionals.join(' ')}`);
    // A config that does not load is reported by runCommand: "minimta: config: …", exit 2.
    const config = loadCliConfig(values);
    const now = io.now?.() ?? new Date();
    const user = checkUser(config);
    const findings: Finding[] = [
      { level: 'ok', subject: 'config', text: values.config ? `${values.config} is valid` : 'the embedded defaults are valid' },
      ...user.findings,
      ...checkTls(config, now),
      ...(await checkSpool(config, user.uid)),
      ...(await checkDns(config)),
      ...checkDkim(config),
    ];
    for (const f of findings) io.stdout.write(`${f.level}: ${f.subject}: ${f.text}\n`);
    const errors = findings.filter((f) => f.level === 'error').length;
    const warnings = findings.filter((f) => f.level === 'warning').length;
    io.stdout.write(`minimta check: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
    return errors > 0 ? 1 : 0;
  });
}
