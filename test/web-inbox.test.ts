import { expect } from 'chai';
import { startMinimta, type Minimta } from '../src/index.js';
import { HeadlessChromium } from './helpers/headless-chromium.js';
import { WireClient } from './helpers/wire-client.js';

/** The web inbox in a real headless chromium: it renders, and updates live when mail arrives. */
describe('web inbox in headless chromium', function () {
  this.timeout(180_000);
  let minimta: Minimta;
  let browser: HeadlessChromium;

  before(async () => {
    browser = await HeadlessChromium.start();
    minimta = await startMinimta({ http: { token: 'inbox-token' }, config: { trace: { enabled: true } } });
  });
  after(async () => {
    await minimta?.close();
    await browser?.close();
  });

  it('shows the empty list, then a message that arrives, with its text, headers and HTML in an empty sandbox', async () => {
    const page = await browser.open(`${minimta.http!.url}/#token=inbox-token`);
    await browser.waitFor(page, `document.getElementById('status').textContent === 'live'`);
    expect(await browser.evaluate(page, `!document.getElementById('empty').hidden`)).to.equal(true);
    expect(await browser.evaluate(page, `document.querySelectorAll('#messages li').length`)).to.equal(0);

    const client = await WireClient.connect(minimta.port);
    await client.reply();
    await client.command('EHLO app.test');
    const body = [
      'Subject: Your receipt',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Thank you, plain.',
      '--b',
      'Content-Type: text/html',
      '',
      '<p id="thanks">Thank you, HTML.</p><script>parent.document.title = "escaped"</script>',
      '--b--',
      '',
    ].join('\r\n');
    const reply = await client.sendMail('shop@app.test', ['buyer@example.net'], body);
    expect(reply.code).to.equal(250);
    expect(await client.command('QUIT')).to.match(/^221/);
    client.close();
    // The arrival's transcript is stored once the session has ended: wait for it (bounded).
    const queueId = /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
    for (let i = 0; ; i++) {
      const response = await fetch(`${minimta.http!.url}/api/messages/${queueId}/transcript`, { headers: { authorization: 'Bearer inbox-token' } });
      await response.arrayBuffer();
      if (response.ok) break;
      if (i > 250) throw new Error('no stored transcript within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }

    const subject = await browser.waitFor<string>(page, `document.querySelector('#messages li .subject')?.textContent`);
    expect(subject).to.equal('Your receipt');
    expect(await browser.evaluate(page, `document.getElementById('empty').hidden`)).to.equal(true);
    expect(await browser.evaluate(page, `document.querySelector('#messages li .meta').textContent`)).to.equal('shop@app.test → buyer@example.net');

    await browser.evaluate(page, `document.querySelector('#messages li').click()`);
    await browser.waitFor(page, `document.getElementById('detail-subject').textContent === 'Your receipt'`);
    const frame = await browser.evaluate<{ sandbox: string; srcdoc: string; visible: boolean }>(page, `(() => {
      const f = document.getElementById('view-html');
      return { sandbox: f.getAttribute('sandbox'), srcdoc: f.srcdoc, visible: f.classList.contains('active') };
    })()`);
    expect(frame).to.deep.equal({
      sandbox: '',
      srcdoc: '<p id="thanks">Thank you, HTML.</p><script>parent.document.title = "escaped"</script>',
      visible: true,
    });
    expect(await browser.evaluate(page, `document.getElementById('view-text').textContent`)).to.equal('Thank you, plain.');
    expect(await browser.evaluate(page, `[...document.querySelectorAll('#view-headers td:first-child')].map((td) => td.textContent)`))
      .to.deep.equal(['Received', 'Subject', 'MIME-Version', 'Content-Type']);
    expect(await browser.evaluate(page, `document.getElementById('view-raw').textContent.startsWith('Received: ')`)).to.equal(true);
    // Traced on arrival: the Transcript tab shows the annotated SMTP session.
    await browser.waitFor(page, `!document.getElementById('transcript-button').hidden`);
    await browser.evaluate(page, `document.getElementById('transcript-button').click()`);
    expect(await browser.evaluate(page, `document.getElementById('view-transcript').classList.contains('active')`)).to.equal(true);
    expect(await browser.evaluate<string>(page, `document.getElementById('view-transcript').textContent`))
      .to.contain('EHLO app.test').and.to.contain('MAIL FROM:<shop@app.test>').and.to.contain(queueId);
    // The message's script ran nowhere: the sandbox has no allow-scripts.
    expect(await browser.evaluate(page, 'document.title')).to.equal('minimta inbox');
  });
});
