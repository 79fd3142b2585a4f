// The test certificate for localhost (also mx.minimta.test and 127.0.0.1),
// self-signed, valid for a hundred years: test/fixtures/localhost.{crt,key}.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export const TEST_TLS = { cert: path.join(fixtures, 'localhost.crt'), key: path.join(fixtures, 'localhost.key') };

/**
 * A test CA (test/fixtures/test-ca.crt; its key was thrown away) and a
 * certificate it signed for the MTA-STS tests' hosts: mta-sts.{enforce,
 * mismatch, badcert, cached, testing, verify}.test and mx.sts.test
 * (test/fixtures/sts-hosts.{crt,key}; made with openssl, valid 100 years).
 */
export const TEST_CA_FILE = path.join(fixtures, 'test-ca.crt');
export const STS_HOSTS_TLS = { cert: path.join(fixtures, 'sts-hosts.crt'), key: path.join(fixtures, 'sts-hosts.key') };
