// The web inbox: the message list, kept live by the event stream, and one
// message at a time as text, HTML (in an empty sandbox), headers, raw, or
// its SMTP transcript when tracing was on.
// Plain DOM; every piece of message content goes in as text, never as markup.

const token = new URLSearchParams(location.hash.slice(1)).get('token');
const authHeaders = token ? { authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);
let selected;

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { ...authHeaders, ...init.headers } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.json()).error}`);
  return path.endsWith('/raw') ? response.text() : response.json();
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function refreshList() {
  const messages = await api('/api/messages');
  const list = $('messages');
  list.replaceChildren(...messages.map((m) => {
    const item = element('li');
    item.dataset.id = m.id;
    item.classList.toggle('selected', m.id === selected);
    item.append(
      element('div', 'subject', m.subject ?? '(no subject)'),
      element('div', 'meta', `${m.from || '<>'} → ${m.to.join(', ')}`),
      element('div', 'meta', `${new Date(m.arrivedAt).toLocaleString()} · ${m.size} bytes · ${m.state}`),
    );
    item.addEventListener('click', () => show(m.id));
    return item;
  }));
  $('empty').hidden = messages.length > 0;
  if (selected && !messages.some((m) => m.id === selected)) { selected = undefined; $('detail').hidden = true; }
}

function showView(name) {
  for (const view of document.querySelectorAll('.view')) view.classList.toggle('active', view.id === `view-${name}`);
  for (const button of document.querySelectorAll('nav button')) button.classList.toggle('active', button.dataset.view === name);
}

async function show(id) {
  selected = id;
  for (const item of $('messages').children) item.classList.toggle('selected', item.dataset.id === id);
  const [message, raw] = await Promise.all([api(`/api/messages/${id}`), api(`/api/messages/${id}/raw`)]);
  $('detail-subject').textContent = message.subject ?? '(no subject)';
  $('view-text').textContent = message.text ?? '(no text part)';
  $('view-html').srcdoc = message.html ?? '<p>(no HTML part)</p>';
  $('view-headers').tBodies[0].replaceChildren(...message.headers.map((h) => {
    const row = element('tr');
    row.append(element('td', '', h.name), element('td', '', h.value));
    return row;
  }));
  $('view-raw').textContent = raw;
  $('attachments').replaceChildren(...message.attachments.map((a) =>
    element('li', '', `${a.filename ?? '(unnamed)'} — ${a.contentType}, ${a.size} bytes`)));
  $('detail').hidden = false;
  showView(message.html !== undefined ? 'html' : 'text');
  await showTranscript(id);
}

/** The Transcript tab appears only for a message that has one stored (404 otherwise). */
async function showTranscript(id) {
  $('transcript-button').hidden = true;
  $('view-transcript').textContent = '';
  const response = await fetch(`/api/messages/${encodeURIComponent(id)}/transcript`, { headers: authHeaders });
  if (!response.ok || selected !== id) return;
  $('view-transcript').textContent = (await response.json()).text;
  $('transcript-button').hidden = false;
}

function listen() {
  const events = new EventSource(`/api/events${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  events.addEventListener('open', () => { $('status').textContent = 'live'; refreshList(); });
  events.addEventListener('error', () => { $('status').textContent = 'reconnecting…'; });
  for (const type of ['received', 'deleted', 'delivered', 'bounced']) {
    events.addEventListener(type, () => refreshList());
  }
}

for (const button of document.querySelectorAll('nav button')) {
  button.addEventListener('click', () => showView(button.dataset.view));
}
$('delete-all').addEventListener('click', async () => { await api('/api/messages', { method: 'DELETE' }); await refreshList(); });
refreshList().catch((err) => { $('status').textContent = String(err.message); });
listen();
