// The web inbox: plain HTML, CSS and JS from the package's web/ folder (no
// framework, no CDN), served by the HTTP API's listener.

import { readFile } from 'node:fs/promises';

const WEB_DIR = new URL('../../web/', import.meta.url);

/** URL path → file in web/ and its type; nothing else is served. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inbox.js': { file: 'inbox.js', type: 'text/javascript; charset=utf-8' },
  '/inbox.css': { file: 'inbox.css', type: 'text/css; charset=utf-8' },
};

export async function staticFile(path: string): Promise<{ body: Buffer; type: string } | undefined> {
  const entry = FILES[path];
  if (!entry) return undefined;
  return { body: await readFile(new URL(entry.file, WEB_DIR)), type: entry.type };
}
