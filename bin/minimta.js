#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `npx minimta …` works from a
// clone after `npm install`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
