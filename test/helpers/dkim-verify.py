# Independent DKIM verification for the tests, with Debian's python3-dkim
# (the library behind its dkimverify command). Reads one JSON request per
# line on stdin:
#   {"records": {"sel._domainkey.example.org": "v=DKIM1; ..."}, "messages": ["<base64>", ...]}
# The key records reach dkim.verify through its dnsfunc, instead of from the
# network. Answers each request with one JSON line, a verdict per message:
#   [{"passed": true, "lines": ["pass d=... s=... a=...", ...]}, ...]
# where passed means at least one signature and every one passes. One
# process serves a whole test run: importing dkim takes a good part of a second.
import base64
import json
import sys

import dkim

records = {}


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


for line in sys.stdin:
    request = json.loads(line)
    records = {name.lower(): text for (name, text) in request['records'].items()}
    verdicts = []
    for encoded in request['messages']:
        try:
            verdicts.append(verdict(base64.b64decode(encoded)))
        except Exception as err:  # a message dkim cannot even parse fails, and the next one is still checked
            verdicts.append({'passed': False, 'lines': ['fail: %s' % err]})
    print(json.dumps(verdicts), flush=True)
