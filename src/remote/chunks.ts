// What the OpenAI-compatible servers put in their streamed JSON chunks, read leniently: vLLM, SGLang and
// llama-server all send `chat.completion.chunk` objects whose choices[0].delta carries `content` and, with
// a reasoning parser, `reasoning_content` (vLLM before 0.10, SGLang, llama-server --reasoning-format) or
// `reasoning` (vLLM 0.10+, some proxies); text completions carry choices[0].text. A last chunk may hold only
// `usage` (choices: []), llama-server adds `timings`; an error mid-stream arrives as {"error": {...}}.
// Pure; unit-tested on recorded streams (test/fixtures/sse/).

export interface ChunkUsage {
  promptTokens?: number;
  completionTokens?: number;
  /** vLLM/SGLang: reasoning tokens, when reported. */
  reasoningTokens?: number;
}

export interface ChunkView {
  reasoning: string;
  content: string;
  /** choices[0].finish_reason when set ("stop", "length", "abort", …). */
  finishReason?: string;
  usage?: ChunkUsage;
  /** The server reported an error inside the stream. */
  error?: string;
}

export class MalformedChunkError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads one `data:` payload (not "[DONE]"); throws MalformedChunkError for what is not a chunk. */
export function readChunk(data: string, kind: 'chat' | 'completion'): ChunkView {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw new MalformedChunkError(`not JSON: ${JSON.stringify(data.slice(0, 120))}`);
  }
  if (!isObject(json)) throw new MalformedChunkError(`not a JSON object: ${JSON.stringify(data.slice(0, 120))}`);
  const view: ChunkView = { reasoning: '', content: '' };
  if (json.error !== undefined && json.error !== null) {
    const e = json.error;
    view.error = isObject(e) ? str(e.message) || JSON.stringify(e).slice(0, 300) : String(e);
    return view;
  }
  const usage = json.usage;
  if (isObject(usage)) {
    const details = isObject(usage.completion_tokens_details) ? usage.completion_tokens_details : {};
    view.usage = {
      promptTokens: num(usage.prompt_tokens),
      completionTokens: num(usage.completion_tokens),
      reasoningTokens: num(details.reasoning_tokens) ?? num(usage.reasoning_tokens),
    };
  }
  const choices = json.choices;
  if (choices === undefined || choices === null) {
    if (view.usage || isObject(json.timings)) return view;
    throw new MalformedChunkError(`a chunk without choices: ${JSON.stringify(data.slice(0, 120))}`);
  }
  if (!Array.isArray(choices)) throw new MalformedChunkError('`choices` is not an array');
  const c = choices.find((x) => isObject(x) && (x.index === undefined || x.index === 0)) ?? choices[0];
  if (c === undefined) return view; // the usage chunk: choices []
  if (!isObject(c)) throw new MalformedChunkError('a choice is not an object');
  if (typeof c.finish_reason === 'string') view.finishReason = c.finish_reason;
  if (kind === 'completion') {
    view.content = str(c.text);
    return view;
  }
  const delta = isObject(c.delta) ? c.delta : isObject(c.message) ? c.message : undefined;
  if (delta) {
    view.content = str(delta.content);
    view.reasoning = str(delta.reasoning_content) || str(delta.reasoning);
  } else if (typeof c.text === 'string') {
    view.content = c.text;
  }
  return view;
}

/** An OpenAI finish_reason as the runtime's stop reason. */
export function stopReasonOf(finishReason: string | undefined): 'eog' | 'maxTokens' | 'stop' {
  if (finishReason === 'length') return 'maxTokens';
  return 'eog';
}
