// The host <-> chat webview message protocol, declared once. Messages from the webview are untrusted:
// the host validates each one (parseWebviewMessage) and ignores anything else. Messages to the webview are
// the host's own; the webview still renders every text in them as text or through the sanitizer.
import type { ChatTurn, Conversation, ConversationSummary } from './chatSession';
import { bool, Check, int, object, oneOf, optional, str } from './validate';

export type RuntimeStateName = 'starting' | 'ready' | 'restarting' | 'stopped' | 'failed';

export interface RuntimeSummary {
  state: RuntimeStateName;
  detail?: string;
  device?: string;
  model?: string;
  addonVersion?: string;
}

/** Whether chat can run now; `detail` says why not and what to do. */
export interface ChatAvailability {
  ready: boolean;
  detail: string;
  /** The model can think (its template or vocabulary has think tags): show the reasoning controls. */
  reasoning?: boolean;
}

export interface ChatSettings {
  thinking: boolean;
  thinkingBudget: number;
  /** Fold the trace when the answer starts. */
  foldTrace: boolean;
}

export interface ContextChip {
  id: 'file' | 'selection';
  label: string;
  /** Tooltip: full path, lines. */
  detail: string;
  enabled: boolean;
}

/** Host -> webview. */
export type HostMessage =
  | { type: 'runtime'; runtime: RuntimeSummary }
  | { type: 'availability'; availability: ChatAvailability }
  | { type: 'settings'; settings: ChatSettings }
  | { type: 'context'; chips: ContextChip[] }
  | { type: 'conversation'; conversation: Conversation }
  | { type: 'history'; items: ConversationSummary[] }
  /** A new turn (user message shown, assistant waiting). */
  | { type: 'turnStart'; conversationId: string; turn: ChatTurn }
  /** Streamed output of the turn; counts so far. */
  | {
      type: 'turnParts';
      turnId: string;
      parts: { kind: 'reasoning' | 'answer'; text: string }[];
      reasoningTokens: number;
      answerTokens: number;
    }
  | { type: 'turnEnd'; turn: ChatTurn }
  | { type: 'notice'; level: 'info' | 'error'; message: string };

export type WebviewCommand = 'showRuntimeInfo' | 'restartRuntime' | 'showLogs';

/** Webview -> host. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'command'; command: WebviewCommand }
  | { type: 'send'; text: string }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'openChat'; id: string }
  | { type: 'deleteChat'; id: string }
  | { type: 'setThinking'; enabled: boolean }
  | { type: 'setBudget'; budget: number }
  | { type: 'toggleChip'; id: 'file' | 'selection'; enabled: boolean }
  | { type: 'copy'; text: string }
  | { type: 'insertCode'; code: string }
  | { type: 'applyCode'; code: string; language?: string }
  /** The view painted a turn's first streamed text: `ms` after the Enter key (performance.now() in the view). */
  | { type: 'firstPaint'; turnId: string; ms: number };

/** Largest text the webview may send (a message, a code block to copy or apply). */
export const MAX_WEBVIEW_TEXT = 1 << 20;
const id = str({ minLength: 1, maxLength: 128 });
const text = str({ maxLength: MAX_WEBVIEW_TEXT });

const validators: { [T in WebviewMessage['type']]: Check<Extract<WebviewMessage, { type: T }>> } = {
  ready: object({ type: oneOf('ready') }),
  command: object({ type: oneOf('command'), command: oneOf('showRuntimeInfo', 'restartRuntime', 'showLogs') }),
  send: object({ type: oneOf('send'), text: str({ minLength: 1, maxLength: MAX_WEBVIEW_TEXT }) }),
  stop: object({ type: oneOf('stop') }),
  newChat: object({ type: oneOf('newChat') }),
  openChat: object({ type: oneOf('openChat'), id }),
  deleteChat: object({ type: oneOf('deleteChat'), id }),
  setThinking: object({ type: oneOf('setThinking'), enabled: bool }),
  setBudget: object({ type: oneOf('setBudget'), budget: int({ min: 0, max: 65536 }) }),
  toggleChip: object({ type: oneOf('toggleChip'), id: oneOf('file', 'selection'), enabled: bool }),
  copy: object({ type: oneOf('copy'), text }),
  insertCode: object({ type: oneOf('insertCode'), code: text }),
  applyCode: object({ type: oneOf('applyCode'), code: text, language: optional(str({ maxLength: 64 })) }),
  firstPaint: object({ type: oneOf('firstPaint'), turnId: id, ms: int({ min: 0, max: 3_600_000 }) }),
};

/** Returns the message when it is well-formed, otherwise throws a ValidationError naming the field. */
export function parseWebviewMessage(raw: unknown): WebviewMessage {
  const type = (raw as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(validators, type)) {
    throw new Error(`webview message: unknown type ${JSON.stringify(type)?.slice(0, 40)}`);
  }
  return (validators[type as WebviewMessage['type']] as Check<WebviewMessage>)(raw, 'message');
}
