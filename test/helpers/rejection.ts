// "code enhanced" of the ReplyError a parser throws, for table-driven tests.

import { expect } from 'chai';
import { ReplyError } from '../../src/reply-codes/index.js';

export function rejection(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ReplyError);
    const { code, enhanced } = (error as ReplyError).reply;
    return `${code} ${enhanced}`;
  }
  expect.fail('expected a ReplyError, but the input was accepted');
}
