// The import rules of docs/architecture.md, checked on the source: the ones
// a change is most likely to break without noticing.

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve('src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

/** Each file under src/, with the files it imports (as paths relative to src/). */
const IMPORTS = sourceFiles(SRC).map((file) => {
  const text = readFileSync(file, 'utf8');
  const targets = [...text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)]
    .map((m) => relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  return { file: relative(SRC, file), targets };
});

/** Imports from files under `from` into any of `forbidden`, as "file -> target". */
function crossings(from: string, forbidden: string[]): string[] {
  return IMPORTS.filter(({ file }) => file.startsWith(from))
    .flatMap(({ file, targets }) => targets.filter((t) => forbidden.some((f) => t.startsWith(f))).map((t) => `${file} -> ${t}`));
}

describe('architecture: which part may import which (docs/architecture.md)', () => {
  it('finds the sources it checks', () => {
    expect(IMPORTS.some(({ file }) => file === 'protocol/server/session.ts')).to.equal(true);
  });

  it('nothing in protocol/ imports the queue, the policy, DNS, the config, control, the CLI or the wiring', () => {
    const outer = ['queue/', 'policy/', 'dns/', 'config.ts', 'config-types.ts', 'control/', 'cli/', 'mta.ts', 'main.ts', 'index.ts', 'inbox/', 'testing/'];
    expect(crossings('protocol/', outer)).to.deep.equal([]);
  });

  it('the SMTP server and the SMTP client do not import each other', () => {
    expect(crossings('protocol/server/', ['protocol/client/'])).to.deep.equal([]);
    expect(crossings('protocol/client/', ['protocol/server/'])).to.deep.equal([]);
  });

  it('the vocabulary (reply-codes, protocol/shared) imports only itself', () => {
    const isVocabulary = (path: string) => path.startsWith('reply-codes/') || path.startsWith('protocol/shared/');
    const outside = IMPORTS.filter(({ file }) => isVocabulary(file))
      .flatMap(({ file, targets }) => targets.filter((t) => !isVocabulary(t)).map((t) => `${file} -> ${t}`));
    expect(outside).to.deep.equal([]);
  });
});
