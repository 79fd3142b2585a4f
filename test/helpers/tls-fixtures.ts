// The test certificate for localhost (also mx.minimta.test and 127.0.0.1),
// self-signed, valid for a hundred years: test/fixtures/localhost.{crt,key}.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export const TEST_TLS = { cert: path.join(fixtures, 'localhost.crt'), key: path.join(fixtures, 'localhost.key') };
