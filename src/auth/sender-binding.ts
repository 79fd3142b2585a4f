// Sender binding (auth.senders): which MAIL FROM addresses an authenticated
// user may use. RFC 6409 §6.1 lets a submission server check that the
// reverse-path belongs to the user who authenticated; this is Postfix's
// reject_sender_login_mismatch with smtpd_sender_login_maps.
//
// When the table is set, it is the whole truth: a user may use the addresses
// and domains listed for them and nothing else (a user not in the table may
// use none). The null reverse-path <> is refused too: a person submitting
// mail has no delivery status notification to send; bounces come from MTAs
// (RFC 5321 §4.5.5, RFC 6409 §6.1). Without the table every sender is allowed.

import { domainOf } from '../protocol/shared/address.js';

/** User → "local@domain" addresses and bare domains, lowercased (as the config check leaves them). */
export type SenderTable = Readonly<Record<string, readonly string[]>>;

/** May `user` use `sender` ('' for <>) in MAIL FROM? */
export function senderOwned(table: SenderTable, user: string, sender: string): boolean {
  if (sender === '') return false;
  const owned = Object.hasOwn(table, user) ? table[user]! : [];
  const address = sender.toLowerCase();
  const domain = domainOf(address);
  return owned.some((entry) => (entry.includes('@') ? entry === address : entry === domain));
}
