# Independent DKIM verification for the tests, with Debian's python3-dkim
# (the library behind its dkimverify command). Reads JSON on stdin:
#   {"records": {"sel._domainkey.example.org": "v=DKIM1; ..."}, "messages": ["<base64>", ...]}
# The key records reach dkim.verify through its dnsfunc, instead of from the
# network. Writes one JSON line per message:
#   {"passed": true, "lines": ["pass d=... s=... a=...", ...]}
# where passed means at least one signature and every one passes. Messages
# are batched because importing dkim takes a good part of a second.
import base64
import json
import sys

import dkim

request = json.load(sys.stdin)
records = {name.lower(): text for (name, text) in request['records'].items()}


def dnsfunc(name, timeout=5):
    text = records.get(name.decode().rstrip('.').lower())
    return text.encode() if text is not None else None


def verdict(message):
    verifier = dkim.DKIM(message)
    signatures = [value for (name, value) in verifier.headers if name.lower() == b'dkim-signature']
    if not signatures:
        return {'passed': False, 'lines': ['fail: no DKIM-Signature']}
    lines = []
    ok = True
    for index, value in enumerate(signatures):
        tags = dkim.util.parse_tag_value(value)
        what = 'd=%s s=%s a=%s' % (tags[b'd'].decode(), tags[b's'].decode(), tags[b'a'].decode())
        try:
            passed = verifier.verify(idx=index, dnsfunc=dnsfunc)
        except dkim.DKIMException as err:
            passed = False
            what += ' (%s)' % err
        lines.append('%s %s' % ('pass' if passed else 'fail', what))
        ok = ok and passed
    return {'passed': ok, 'lines': lines}


for encoded in request['messages']:
    print(json.dumps(verdict(base64.b64decode(encoded))))
