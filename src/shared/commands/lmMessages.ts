// The Language Model Chat Provider's request, in the chat prompt builder's terms: VS Code hands over a list
// of messages (user and assistant, in any order, with text, tool-call and tool-result parts); the model's
// chat template wants a system message, alternating user/assistant turns and a final user message. Here the
// list is normalized (adjacent messages of one role merged, tool parts written out as text, a trailing
// assistant message dropped) into the prior turns and the last user message buildChatPrompt() takes. Also the
// token estimate used where no exact count is available (a remote backend).

export type LmRole = 'user' | 'assistant' | 'system';

export interface LmPart {
  kind: 'text' | 'toolCall' | 'toolResult' | 'other';
  text: string;
}

export interface LmMessage {
  role: LmRole;
  parts: readonly LmPart[];
}

export interface LmConversation {
  system?: string;
  history: { user: string; answer: string }[];
  text: string;
}

function messageText(m: LmMessage): string {
  return m.parts
    .map((p) => {
      switch (p.kind) {
        case 'text':
          return p.text;
        case 'toolCall':
          return `[tool call: ${p.text}]`;
        case 'toolResult':
          return `[tool result: ${p.text}]`;
        default:
          return '';
      }
    })
    .filter((t) => t.length > 0)
    .join('\n');
}

export function toConversation(messages: readonly LmMessage[]): LmConversation {
  const system: string[] = [];
  const turns: { role: 'user' | 'assistant'; text: string }[] = [];
  for (const m of messages) {
    const text = messageText(m);
    if (m.role === 'system') {
      if (text) system.push(text);
      continue;
    }
    const last = turns[turns.length - 1];
    if (last && last.role === m.role) last.text = [last.text, text].filter(Boolean).join('\n\n');
    else turns.push({ role: m.role, text });
  }
  // The model answers a user message: an assistant message at the end (a prefill) is not supported.
  while (turns.length && turns[turns.length - 1].role === 'assistant') turns.pop();
  if (turns.length && turns[0].role === 'assistant') turns.unshift({ role: 'user', text: '' });
  const last = turns.pop();
  const history: { user: string; answer: string }[] = [];
  for (let i = 0; i + 1 < turns.length; i += 2) history.push({ user: turns[i].text, answer: turns[i + 1].text });
  return { system: system.length ? system.join('\n\n') : undefined, history, text: last?.text ?? '' };
}

/**
 * Tokens of a text, estimated, for when the backend cannot count exactly (remote endpoints; the local worker
 * has a tokenize request): UTF-8 bytes over 3 (byte-level BPE vocabularies of 131k entries give ~3.5-4.5 bytes a token on English and code), an
 * overestimate on purpose: a caller budgeting its context never overflows it. The chat view's
 * maxTokensFor() uses the same rule.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(new TextEncoder().encode(text).length / 3);
}
