// Messages from the chat webview are untrusted: only the declared messages, with exactly their fields and
// sane sizes, pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_WEBVIEW_TEXT, parseWebviewMessage, WebviewMessage } from '../../src/shared/webviewProtocol';

test('webview messages: every declared message passes as sent', () => {
  const ok: WebviewMessage[] = [
    { type: 'ready' },
    { type: 'command', command: 'showLogs' },
    { type: 'send', text: 'Explain this\nplease' },
    { type: 'stop' },
    { type: 'newChat' },
    { type: 'openChat', id: 'chat-abc-123' },
    { type: 'deleteChat', id: 'chat-abc-123' },
    { type: 'setThinking', enabled: false },
    { type: 'setBudget', budget: 0 },
    { type: 'setBudget', budget: 65536 },
    { type: 'toggleChip', id: 'selection', enabled: false },
    { type: 'copy', text: '' },
    { type: 'insertCode', code: 'x = 1\n' },
    { type: 'applyCode', code: 'x = 1\n', language: 'python' },
    { type: 'applyCode', code: 'x' },
    { type: 'firstPaint', turnId: 'turn-1', ms: 12 },
  ];
  for (const m of ok) assert.deepEqual(parseWebviewMessage(m), m);
});

test('webview messages: malformed ones are refused, naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [{ type: 'send', text: '' }, /message\.text: must not be empty/],
    [{ type: 'send', text: 'x'.repeat(MAX_WEBVIEW_TEXT + 1) }, /message\.text: string longer/],
    [{ type: 'send' }, /message\.text: expected a string, got undefined/],
    [{ type: 'send', text: 'hi', html: '<b>' }, /message\.html: unknown field/],
    [{ type: 'setBudget', budget: -1 }, /message\.budget: must be >= 0/],
    [{ type: 'setBudget', budget: 1.5 }, /message\.budget: expected an integer/],
    [{ type: 'setBudget', budget: 1e9 }, /message\.budget: must be <= 65536/],
    [{ type: 'setThinking', enabled: 'yes' }, /message\.enabled: expected a boolean/],
    [{ type: 'toggleChip', id: 'workspace', enabled: true }, /message\.id: expected one of file\|selection/],
    [{ type: 'openChat', id: '' }, /message\.id: must not be empty/],
    [{ type: 'openChat', id: 'x'.repeat(129) }, /message\.id: string longer/],
    [{ type: 'command', command: 'workbench.action.terminal.new' }, /message\.command/],
    [{ type: 'applyCode', code: 1 }, /message\.code: expected a string/],
    [{ type: 'firstPaint', turnId: 't', ms: -5 }, /message\.ms/],
    [{ type: 'runtime' }, /unknown type "runtime"/],
    [{ type: 'hasOwnProperty' }, /unknown type/],
    [{ type: 'constructor' }, /unknown type/],
    [null, /unknown type/],
    [[{ type: 'ready' }], /unknown type/],
    ['send', /unknown type/],
    [{ type: 'ready', __proto__: { evil: 1 } }, /^(?!)/],
  ];
  for (const [raw, re] of bad.slice(0, -1)) assert.throws(() => parseWebviewMessage(raw), re, JSON.stringify(raw)?.slice(0, 80));
  // an inherited field is not an own field: the message passes, without it
  assert.deepEqual(parseWebviewMessage(Object.assign(Object.create({ evil: 1 }), { type: 'ready' })), { type: 'ready' });
  const withOwnProto = JSON.parse('{"type":"ready","__proto__":{"x":1}}');
  assert.throws(() => parseWebviewMessage(withOwnProto), /message\.__proto__: unknown field/);
});
