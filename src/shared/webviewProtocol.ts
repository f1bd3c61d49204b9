// The host <-> chat webview message protocol, declared once. Messages from the webview are untrusted:
// the host validates each one (parseWebviewMessage) and ignores anything else.
import { Check, object, oneOf } from './validate';

export type RuntimeStateName = 'starting' | 'ready' | 'restarting' | 'stopped' | 'failed';

export interface RuntimeSummary {
  state: RuntimeStateName;
  detail?: string;
  device?: string;
  model?: string;
  addonVersion?: string;
}

/** Host -> webview. */
export type HostMessage = { type: 'runtime'; runtime: RuntimeSummary };

/** Webview -> host. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'command'; command: 'showRuntimeInfo' | 'restartRuntime' | 'showLogs' };

const validators: Record<WebviewMessage['type'], Check<WebviewMessage>> = {
  ready: object({ type: oneOf('ready') }) as Check<WebviewMessage>,
  command: object({
    type: oneOf('command'),
    command: oneOf('showRuntimeInfo', 'restartRuntime', 'showLogs'),
  }) as Check<WebviewMessage>,
};

/** Returns the message when it is well-formed, otherwise throws a ValidationError naming the field. */
export function parseWebviewMessage(raw: unknown): WebviewMessage {
  const type = (raw as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(validators, type)) {
    throw new Error(`webview message: unknown type ${JSON.stringify(type)?.slice(0, 40)}`);
  }
  return validators[type as WebviewMessage['type']](raw, 'message');
}
