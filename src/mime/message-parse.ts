// A message as a person reads it: the header fields, the text and the HTML
// body, and the attachments. Walks the MIME tree (RFC 2045, RFC 2046):
// multipart/alternative gives text and HTML, multipart/mixed and /related
// add parts, a part with a file name or `Content-Disposition: attachment` is
// an attachment. The first text/plain and the first text/html that are not
// attachments are the message's text and HTML.

import {
  decodeCharset, headerValue, parseHeaderFields, parseParameterized, splitEntity, type HeaderField,
} from './header-fields.js';

export interface Attachment {
  filename?: string;
  contentType: string;
  /** Bytes after the transfer encoding is undone. */
  size: number;
  contentId?: string;
  disposition: 'attachment' | 'inline';
}

export interface ParsedMail {
  headers: HeaderField[];
  subject?: string;
  text?: string;
  html?: string;
  attachments: Attachment[];
}

/** Deep enough for any real message; deeper nesting is read as opaque parts. */
const MAX_DEPTH = 20;

export function parseMail(bytes: Buffer): ParsedMail {
  const { head, body } = splitEntity(bytes);
  const headers = parseHeaderFields(head);
  const mail: ParsedMail = { headers, subject: headerValue(headers, 'subject'), attachments: [] };
  walk(headers, body, mail, 0);
  return mail;
}

function walk(headers: HeaderField[], body: Buffer, mail: ParsedMail, depth: number): void {
  // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii.
  const type = parseParameterized(headerValue(headers, 'content-type') ?? 'text/plain');
  const disposition = parseParameterized(headerValue(headers, 'content-disposition') ?? '');
  const boundary = type.params.boundary;
  if (type.value.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    for (const part of splitParts(body, boundary)) {
      const entity = splitEntity(part);
      walk(parseHeaderFields(entity.head), entity.body, mail, depth + 1);
    }
    return;
  }
  const content = decodeTransfer(body, headerValue(headers, 'content-transfer-encoding'));
  const filename = disposition.params.filename ?? type.params.name;
  const isAttachment = disposition.value === 'attachment' || filename !== undefined;
  if (!isAttachment && type.value === 'text/plain' && mail.text === undefined) {
    mail.text = decodeCharset(content, type.params.charset);
  } else if (!isAttachment && type.value === 'text/html' && mail.html === undefined) {
    mail.html = decodeCharset(content, type.params.charset);
  } else {
    const contentId = headerValue(headers, 'content-id')?.replace(/^<|>$/g, '');
    mail.attachments.push({
      ...(filename !== undefined ? { filename } : {}),
      contentType: type.value || 'application/octet-stream',
      size: content.length,
      ...(contentId ? { contentId } : {}),
      disposition: disposition.value === 'inline' ? 'inline' : 'attachment',
    });
  }
}

/** RFC 2046 §5.1.1: parts between "--boundary" lines, up to "--boundary--". */
function splitParts(body: Buffer, boundary: string): Buffer[] {
  const lines = body.toString('latin1').split(/\r?\n/);
  const parts: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}--`) { if (current) parts.push(current); current = undefined; break; }
    if (trimmed === `--${boundary}`) { if (current) parts.push(current); current = []; continue; }
    current?.push(line);
  }
  if (current) parts.push(current);
  return parts.map((part) => Buffer.from(part.join('\r\n'), 'latin1'));
}

/** RFC 2045 §6: base64 and quoted-printable are undone; 7bit, 8bit and binary are as they are. */
function decodeTransfer(body: Buffer, encoding = '7bit'): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return Buffer.from(body.toString('latin1')
        .replace(/[ \t]+(?=\r?\n)/g, '')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    default:
      return body;
  }
}
