// The _mta-sts.<domain> TXT record (RFC 8461 §3.1): "v=STSv1; id=…;". It says
// a domain has a policy, and which version: a new id means fetch it again.

/** RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT). */
const ID = /^[A-Za-z0-9]{1,32}$/;

/**
 * The policy id from the TXT records at _mta-sts.<domain>, or undefined when
 * there is no usable record. Records not starting with "v=STSv1;" are ignored;
 * anything but exactly one left, or a bad one, means no policy (§3.1).
 */
export function stsRecordId(records: readonly string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1\s*;/.test(r));
  if (sts.length !== 1) return undefined;
  let id: string | undefined;
  for (const field of sts[0]!.split(';')) {
    const eq = field.indexOf('=');
    if (eq < 0) {
      if (field.trim() !== '') return undefined;
      continue;
    }
    const name = field.slice(0, eq).trim();
    const value = field.slice(eq + 1).trim();
    if (name === 'id') id = value;
  }
  return id !== undefined && ID.test(id) ? id : undefined;
}

export function stsRecordName(domain: string): string {
  return `_mta-sts.${domain}`;
}
