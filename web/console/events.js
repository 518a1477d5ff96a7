// Server-sent events over fetch(). EventSource cannot send an
// Authorization header, so the stream is read with fetch() and a
// ReadableStream, and parsed here by the rules of the HTML standard's
// event-stream format: "field: value" lines, a blank line dispatches,
// lines starting with ':' are comments (the server's heartbeat), id sets
// the last event id and retry the reconnection delay.
//
// On a dropped connection the stream reconnects after the server's retry
// delay (doubling up to 30 s while it keeps failing) and sends
// Last-Event-ID, so the server replays what was missed from its ring. A
// stream silent for longer than WATCHDOG_MS (the server sends a comment
// every 15 s) is taken for dead and reopened. 401 and 403 end it: a
// refused session will not become valid by retrying.

const WATCHDOG_MS = 40000;
const MAX_DELAY_MS = 30000;

// Feed text chunks; calls onEvent({type, data, id}) for each complete event.
export class EventParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.sawCR = false;
    this.type = '';
    this.data = [];
    this.lastId = '';
    this.retry = null;
  }

  push(text) {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.sawCR) {
        this.sawCR = false;
        if (c === '\n') { start = i + 1; continue; } // the "\n" of a "\r\n" split across chunks
      }
      if (c === '\r' || c === '\n') {
        this.line(this.buf + text.slice(start, i));
        this.buf = '';
        start = i + 1;
        this.sawCR = c === '\r';
      }
    }
    this.buf += text.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent({ type: this.type || 'message', data: this.data.join('\n'), id: this.lastId });
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

// A live stream of url's events, with the bearer token from token().
// onEvent(type, data object, id); onState('connecting'|'live'|'reconnecting'|'refused'|'stopped', detail).
export class EventStream {
  constructor({ url, token, onEvent, onState }) {
    this.url = url;
    this.token = token;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.lastId = '';
    this.delay = 2000;
    this.stopped = true;
    this.ctl = null;
    this.opened = null;
  }

  // Start; the promise resolves once the stream is open (or has failed once).
  start() {
    this.stopped = false;
    this.opened = new Promise((resolve) => { this.resolveOpened = resolve; });
    this.run();
    return this.opened;
  }

  stop() {
    this.stopped = true;
    if (this.ctl) this.ctl.abort();
    this.onState('stopped');
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      this.onState(failures ? 'reconnecting' : 'connecting');
      const ok = await this.once();
      if (this.resolveOpened) { this.resolveOpened(ok); this.resolveOpened = null; }
      if (this.stopped || ok === 'refused') break;
      failures = ok === 'live' ? 1 : failures + 1;
      const wait = Math.min(MAX_DELAY_MS, this.delay * 2 ** Math.max(0, failures - 1));
      this.onState('reconnecting', `retrying in ${Math.round(wait / 1000)} s`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  // One connection: 'live' if it opened (and later ended), 'failed', or 'refused'.
  async once() {
    const ctl = new AbortController();
    this.ctl = ctl;
    let watchdog = 0;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctl.abort(), WATCHDOG_MS);
    };
    const parser = new EventParser((ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { return; }
      this.onEvent(ev.type, data, ev.id);
    });
    let opened = false;
    try {
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${this.token()}` };
      if (this.lastId) headers['Last-Event-ID'] = this.lastId;
      arm();
      const res = await fetch(this.url, { headers, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401 || res.status === 403) {
        this.onState('refused', `${res.status}`);
        return 'refused';
      }
      if (!res.ok || !res.body) return 'failed';
      opened = true;
      this.onState('live');
      if (this.resolveOpened) { this.resolveOpened('live'); this.resolveOpened = null; }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.push(value);
        if (parser.lastId) this.lastId = parser.lastId;
        if (parser.retry !== null) this.delay = parser.retry;
      }
    } catch {
      /* aborted, network gone: reconnect */
    } finally {
      clearTimeout(watchdog);
    }
    return opened ? 'live' : 'failed';
  }
}
