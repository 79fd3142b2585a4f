// The addresses in a To:/Cc:/Bcc: field (RFC 5322 §3.4), for `sendmail -t`.
//
//   address-list = address *("," address)
//   address      = mailbox / group
//   mailbox      = name-addr / addr-spec        "Ann <a@x>", "a@x", "a@x (Ann)"
//   group        = display-name ":" [mailbox-list] ";"
//
// Only the addr-specs are wanted: display names and comments are dropped; a
// group's name and punctuation are skipped and its members taken, as Postfix
// does ("undisclosed-recipients:;" gives none). Whether each result is a valid
// address is for parsePath to judge.

/** The addr-spec of each mailbox in a field body (already unfolded), in order. */
export function parseAddressList(value: string): string[] {
  const scanner = new AddressScanner(value);
  return scanner.run();
}

class AddressScanner {
  private readonly found: string[] = [];
  /** The unquoted, comment-free text of the current mailbox, whitespace dropped. */
  private bare = '';
  /** The text between < and > of the current mailbox, if it had one. */
  private angle: string | undefined;
  private i = 0;

  constructor(private readonly text: string) {}

  run(): string[] {
    while (this.i < this.text.length) {
      const c = this.text[this.i]!;
      switch (c) {
        case '"': this.bare += this.quoted(); break;
        case '(': this.skipComment(); break;
        case '[': this.bare += this.domainLiteral(); break;
        case '<': this.angle = this.angleAddr(); break;
        case ',': this.endMailbox(); this.i++; break;
        // "name:" opens a group: what came before was its display name.
        case ':': this.bare = ''; this.angle = undefined; this.i++; break;
        case ';': this.endMailbox(); this.i++; break;
        default:
          if (!/\s/.test(c)) this.bare += c;
          this.i++;
      }
    }
    this.endMailbox();
    return this.found;
  }

  private endMailbox(): void {
    const address = this.angle ?? this.bare;
    if (address !== '') this.found.push(address);
    this.bare = '';
    this.angle = undefined;
  }

  /** A quoted-string with its quotes, escapes kept (RFC 5322 §3.2.4). */
  private quoted(): string {
    const start = this.i;
    for (this.i++; this.i < this.text.length; this.i++) {
      if (this.text[this.i] === '\\') this.i++;
      else if (this.text[this.i] === '"') break;
    }
    this.i++;
    return this.text.slice(start, this.i);
  }

  /** Comments nest (RFC 5322 §3.2.2). */
  private skipComment(): void {
    let depth = 0;
    for (; this.i < this.text.length; this.i++) {
      const c = this.text[this.i];
      if (c === '\\') this.i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    this.i++;
  }

  /** "[...]": a domain literal may hold ':' (IPv6), which must not open a group. */
  private domainLiteral(): string {
    const end = this.text.indexOf(']', this.i);
    const stop = end === -1 ? this.text.length : end + 1;
    const literal = this.text.slice(this.i, stop);
    this.i = stop;
    return literal;
  }

  /** The inside of <...>, quoted strings kept whole and whitespace outside them dropped. */
  private angleAddr(): string {
    let inside = '';
    for (this.i++; this.i < this.text.length; ) {
      const c = this.text[this.i]!;
      if (c === '>') {
        this.i++;
        break;
      }
      if (c === '"') inside += this.quoted();
      else if (c === '(') this.skipComment();
      else {
        if (!/\s/.test(c)) inside += c;
        this.i++;
      }
    }
    return inside;
  }
}
