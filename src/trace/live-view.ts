// Colour for the live transcript on a terminal (ANSI SGR): the client's lines
// in cyan, the server's in green (red for a 4xx/5xx), minimta's decisions in
// yellow, annotations dimmed. The text itself is already escaped.

import type { TranscriptLine } from './transcript.js';

const SGR = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33', cyan: '36' } as const;

const paint = (code: string, text: string): string => `\x1b[${code}m${text}\x1b[0m`;

export function colourLine(line: TranscriptLine): string {
  switch (line.kind) {
    case 'header': return paint(SGR.bold, line.text);
    case 'client': return paint(SGR.cyan, line.text);
    case 'server': return paint(/ S: [45]\d\d/.test(line.text) ? SGR.red : SGR.green, line.text);
    case 'note':
    case 'tls': return paint(SGR.yellow, line.text);
    case 'annotation': return paint(SGR.dim, line.text);
  }
}
