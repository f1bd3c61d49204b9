// Loads the native addon (native/build/Release/hybrid_addon.node) into the worker process and types its
// API (native/addon/addon.cpp). Only the worker ever loads it: a crash in native code takes down this
// process, never the extension host.
import * as fs from 'fs';
import * as path from 'path';

export interface NativeAddon {
  version(): string;
  /** JSON: NativeSystemInfo. */
  systemInfo(): string;
  /** Loads on a libuv thread; onProgress(stage, done, total) runs on the JS thread. Errors: code "EINPUT" for a bad file. */
  loadModel(
    path: string,
    /** device: "auto"/"cuda" put the model on CUDA device 0 when usable, else the CPU (info().device says which and why). */
    options: { threads: number; maxBatch?: number; stateBudgetBytes?: number; device?: 'auto' | 'cuda' | 'cpu' },
    onProgress?: (stage: string, done: number, total: number) => void,
  ): Promise<NativeModel>;
}

export interface NativeSessionOptions {
  contextLength: number;
  checkpointStride?: number;
  checkpointDense?: number;
  checkpointBudgetBytes?: number;
  checkpoints?: boolean;
}

/** A document's session: its tokens, KV caches and Mamba-2 checkpoints live natively. */
export interface NativeSession {
  dispose(): void;
}

export type NativePromptPart =
  | { token: number }
  | { tokens: Int32Array | number[]; maxTokens?: number; keep?: 'head' | 'tail' }
  // `document`: the document's text up to the cursor, tokenized incrementally against the session's last one.
  | { text: string; parseSpecial?: boolean; maxTokens?: number; keep?: 'head' | 'tail'; document?: boolean };

export interface NativeGenerateRequest {
  /** Read into the session (kept for the next request); with no session, into a scratch one. */
  prompt: NativePromptPart[];
  /** Read only in a fork of the session (dropped after the request): FIM suffix and middle token. */
  continuation?: NativePromptPart[];
  session?: NativeSession;
  addBos?: boolean;
  maxTokens: number;
  /** Context of the scratch session when there is no `session`. */
  contextLength?: number;
  truncateAlign?: number;
  sampling?: {
    temperature?: number;
    topK?: number;
    topP?: number;
    minP?: number;
    repeatPenalty?: number;
    presencePenalty?: number;
    frequencyPenalty?: number;
    penaltyLastN?: number;
    seed?: number;
  };
  stopAtEog?: boolean;
  renderSpecial?: boolean;
  reasoning?: { budget: number; close: string; inject: string };
  prefillChunk?: number;
  /** Pin a session checkpoint this many tokens before the prompt's end (typing changes the last tokens). */
  pinTail?: number;
}

export interface NativeGenerateResult {
  stopReason: 'eog' | 'maxTokens' | 'cancelled';
  promptTokens: number;
  truncatedTokens: number;
  generatedTokens: number;
  injectedTokens: number;
  waitMs: number;
  tokenizeMs: number;
  prefillMs: number;
  decodeMs: number;
  firstTokenMs: number;
  keptTokens: number;
  rereadTokens: number;
  readTokens: number;
  sessionTokens: number;
  checkpoints: number;
  checkpointBytes: number;
  kvBytes: number;
}

export interface NativeJob {
  /** Resolves after every chunk was delivered; rejects for a bad request (code "EINPUT"). */
  readonly done: Promise<NativeGenerateResult>;
  /** Stops the generation before its next model evaluation. Safe to call at any time, more than once. */
  cancel(): void;
}

export interface NativeModel {
  /** JSON: ModelInfo. */
  info(): string;
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(tokens: Int32Array | number[], options?: { special?: boolean }): string;
  createSession(options: NativeSessionOptions): NativeSession;
  /** onChunk(token, text) for each generated token, in order (token -1: held bytes flushed at the end). */
  generate(request: NativeGenerateRequest, onChunk?: (token: number, text: string) => void): NativeJob;
  dispose(): void;
}

/** Where the addon lives relative to the bundled worker (dist/worker.js) or the compiled sources (out/src/worker/). */
export function defaultAddonPath(fromDir: string): string {
  const candidates = [
    path.resolve(fromDir, '..', 'native', 'build', 'Release', 'hybrid_addon.node'),
    path.resolve(fromDir, '..', '..', '..', 'native', 'build', 'Release', 'hybrid_addon.node'),
  ];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

export function loadAddon(addonPath: string): NativeAddon {
  if (!fs.existsSync(addonPath)) {
    throw new Error(`native addon not found at ${addonPath}: build it with \`npm run build\``);
  }
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(addonPath);
  } catch (e) {
    throw new Error(`native addon at ${addonPath} failed to load: ${(e as Error).message}`);
  }
  const addon = mod as Partial<NativeAddon>;
  const missing = (['version', 'systemInfo', 'loadModel'] as const).filter((k) => typeof addon[k] !== 'function');
  if (missing.length > 0) {
    throw new Error(`native addon at ${addonPath} does not export ${missing.join(', ')}: rebuild it with \`npm run build:native\``);
  }
  return addon as NativeAddon;
}

/** True for an error the addon marks as bad input (its message is for the user). */
export function isInputError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'EINPUT';
}
