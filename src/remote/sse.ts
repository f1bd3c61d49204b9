// A Server-Sent Events parser as the WHATWG HTML standard defines it (§9.2 "Server-sent events", the
// event-stream interpretation): the bytes are UTF-8 (a leading BOM is dropped), lines end with CRLF, LF or
// CR, a line starting with ':' is a comment, `field: value` loses one space after the colon, `data` lines
// are joined with "\n", `event` names the event (default "message"), `id` sets the last event id (not when
// it holds NUL), `retry` (digits only) the reconnection time, an empty line dispatches the event (none when
// no data was given), other fields are ignored. Chunks may split the stream anywhere, also inside a UTF-8
// sequence or between the CR and LF of one line ending. Pure: no I/O, no timers.

export interface SseEvent {
  /** The `event` field, or "message". */
  event: string;
  /** The `data` lines joined with "\n". */
  data: string;
  /** The last event id in force when it was dispatched ('' when none). */
  id: string;
  /** The `retry` value in force, when one was given (ms). */
  retry?: number;
}

export interface SseEndState {
  /** An event had data but its terminating blank line never came (discarded, as the standard says). */
  unterminated: boolean;
  /** Bytes of a last line without any line ending (part of that unterminated event, or a partial line). */
  partialLine: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
  private line = '';
  /** The last chunk ended with CR: an LF starting the next one belongs to that line ending. */
  private afterCR = false;
  private data = '';
  private hasData = false;
  private eventType = '';
  private lastId = '';
  private retry: number | undefined;
  private ended = false;
  /** Events dispatched so far. */
  count = 0;

  constructor(
    private readonly onEvent: (e: SseEvent) => void,
    private readonly onComment?: (text: string) => void,
  ) {}

  /** Feeds the next bytes (or already-decoded text) of the stream. */
  push(chunk: Uint8Array | string): void {
    if (this.ended) throw new Error('SseParser: push() after end()');
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    this.feed(text);
  }

  /** The stream ended: an event without its blank line is dropped; says what was left over. */
  end(): SseEndState {
    if (!this.ended) {
      this.feed(this.decoder.decode());
      this.ended = true;
    }
    const state = { unterminated: this.hasData || this.line !== '', partialLine: this.line };
    this.line = '';
    this.data = '';
    this.hasData = false;
    return state;
  }

  private feed(text: string): void {
    let i = 0;
    if (this.afterCR && text.length > 0) {
      if (text.charCodeAt(0) === 10) i = 1;
      this.afterCR = false;
    }
    while (i < text.length) {
      const cr = text.indexOf('\r', i);
      const lf = text.indexOf('\n', i);
      let end: number;
      if (cr < 0 && lf < 0) {
        this.line += text.slice(i);
        return;
      } else if (cr < 0 || (lf >= 0 && lf < cr)) {
        end = lf;
        this.line += text.slice(i, end);
        i = end + 1;
      } else {
        end = cr;
        this.line += text.slice(i, end);
        if (end + 1 < text.length) i = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        else {
          i = end + 1;
          this.afterCR = true;
        }
      }
      const line = this.line;
      this.line = '';
      this.processLine(line);
    }
  }

  private processLine(line: string): void {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 0xfeff && this.count === 0 && !this.hasData) line = line.slice(1); // a BOM the decoder left
    if (line.startsWith(':')) {
      this.onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data += value + '\n';
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // ignored, as the standard says
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      this.eventType = '';
      return;
    }
    const e: SseEvent = { event: this.eventType || 'message', data: this.data.slice(0, -1), id: this.lastId };
    if (this.retry !== undefined) e.retry = this.retry;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.count++;
    this.onEvent(e);
  }
}

/** All events of a whole stream given as chunks (tests, fixtures). */
export function parseSse(chunks: Iterable<Uint8Array | string>): { events: SseEvent[]; comments: string[]; end: SseEndState } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const p = new SseParser((e) => events.push(e), (c) => comments.push(c));
  for (const c of chunks) p.push(c);
  return { events, comments, end: p.end() };
}
