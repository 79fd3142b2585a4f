# Independent DKIM verification for the tests, with Debian's python3-dkim
# (the library behind its dkimverify command). The key records come from the
# JSON file named in argv[1] ({"sel._domainkey.example.org": "v=DKIM1; ..."})
# through dkim's dnsfunc, instead of from the network.
# Reads the message on stdin; prints one line per signature
# ("pass d=… s=… a=…" or "fail …"); exits 0 only when there is at least one
# signature and every one passes.
import json
import sys

import dkim

records = json.load(open(sys.argv[1]))


def dnsfunc(name, timeout=5):
    text = records.get(name.decode().rstrip('.').lower())
    return text.encode() if text is not None else None


message = sys.stdin.buffer.read()
verifier = dkim.DKIM(message)
signatures = [value for (name, value) in verifier.headers if name.lower() == b'dkim-signature']
if not signatures:
    print('fail: no DKIM-Signature')
    sys.exit(1)
ok = True
for index, value in enumerate(signatures):
    tags = dkim.util.parse_tag_value(value)
    what = 'd=%s s=%s a=%s' % (tags[b'd'].decode(), tags[b's'].decode(), tags[b'a'].decode())
    try:
        passed = verifier.verify(idx=index, dnsfunc=dnsfunc)
    except dkim.DKIMException as err:
        passed = False
        what += ' (%s)' % err
    print('%s %s' % ('pass' if passed else 'fail', what))
    ok = ok and passed
sys.exit(0 if ok else 1)
