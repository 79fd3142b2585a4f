import { expect } from 'chai';
import { matchesAny, parseCidr } from '../src/policy/cidr.js';

describe('cidr: relay.networks matching', () => {
  const blocks = ['127.0.0.0/8', '192.0.2.128/25', '2001:db8::/32', '::1'].map(parseCidr);
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.255.1.2', true], ['128.0.0.1', false],
    ['192.0.2.200', true], ['192.0.2.127', false],
    ['::ffff:127.0.0.1', true], ['::ffff:10.0.0.1', false],
    ['2001:db8:1::5', true], ['2001:db9::1', false], ['::1', true], ['::2', false],
  ];
  for (const [ip, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} ${ip}`, () => expect(matchesAny(ip, blocks)).to.equal(expected));
  }

  it('refuses malformed blocks', () => {
    for (const bad of ['300.0.0.0/8', '10.0.0.0/33', 'host/8', '::/129']) expect(() => parseCidr(bad), bad).to.throw();
  });
});
