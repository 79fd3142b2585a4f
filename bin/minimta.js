#!/usr/bin/env node
// The `minimta` command. An installed package runs the JavaScript compiled at
// pack time (dist/, no dependencies); a clone without dist/ runs the
// TypeScript sources through tsx's loader, in this same process.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
