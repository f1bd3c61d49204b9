// The host <-> runtime worker protocol, declared once: method name -> params and result types, the
// notifications each way, and a validator for every message that crosses the process boundary (the worker
// checks each request's params on arrival, the host checks each notification). Both ends import this file.
// Carried by vscode-jsonrpc over Node's IPC channel.
//
// Streaming requests (complete, chat, bench with `stream`) carry a host-chosen `id`; their output arrives
// as `stream` notifications with that id, all of them before the response (one ordered channel), and
// `cancel {id}` stops them within one decode step. A cancelled stream still resolves, with stopReason
// "cancelled" and what was generated until then.
import { arrayOf, bool, Check, int, num, object, oneOf, optional, str } from './validate';

export type Device = 'auto' | 'cuda' | 'cpu';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** Largest document the worker mirrors (UTF-16 code units); VS Code itself stops syncing at 50 MB. */
export const MAX_DOCUMENT_CHARS = 64 * 1024 * 1024;
const MAX_URI = 8192;
const MAX_ID = 2 ** 31 - 1;

export interface InitializeParams {
  /** GGUF file the host will ask to load, or empty for none (info only; loading is `loadModel`). */
  modelPath?: string;
  device: Device;
  threads: number;
  contextLength: number;
  stateMemoryBudgetMB: number;
  /** Lowest level of the worker's `log` lines (default info). */
  logLevel?: LogLevel;
  /**
   * Longest a streaming request (complete, chat, bench) may run once started, in ms; past it the request
   * stops with stopReason "timeLimit" and what it generated so far (0 or absent: no limit). A request's own
   * `timeoutMs` may shorten it.
   */
  requestTimeoutMs?: number;
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  freeMemory: number;
}

/** What `hybrid --version --json` and the addon's systemInfo() report (native/src/core/system_info.cpp). */
export interface NativeSystemInfo {
  version: string;
  build: string;
  cpu: { arch: string; brand: string; logicalCores: number; features: string[] };
  cuda: {
    compiled: boolean;
    archs: string;
    runtimeVersion: number;
    driverVersion: number;
    status: string;
    devices: CudaDeviceInfo[];
  };
}

/** What the addon's Model.info() reports about a loaded model (native/addon/generation.h model_info_json). */
export interface ModelInfo {
  path: string;
  fileSize: number;
  weightBytes: number;
  architecture: string;
  name: string | null;
  loadMs: number;
  /** CPU engine threads (0 when the model runs on CUDA). */
  threads: number;
  maxBatch: number;
  /**
   * Where the model runs: what the device setting asked, what was used and why (on a fallback, why CUDA was
   * not usable or what did not fit), the device's name; on CUDA the device memory of the weights, of the
   * engine, and the budget of checkpoints kept in device memory (beyond it they go to pinned host memory).
   */
  device: {
    requested: Device;
    using: 'cpu' | 'cuda';
    reason: string;
    name: string;
    stateBudgetBytes: number;
    weightDeviceBytes?: number;
    engineDeviceBytes?: number;
    snapshotDeviceBudget?: number;
    snapshotHostBudget?: number;
  };
  hparams: {
    contextLength: number;
    embeddingLength: number;
    blockCount: number;
    vocabSize: number;
    normEps: number;
    tiedOutput: boolean;
    pattern: string;
    mamba2Layers: number;
    attentionLayers: number;
    mlpLayers: number;
    headDim: number;
    ssm: { convKernel: number; innerSize: number; stateSize: number; headCount: number; groupCount: number };
  };
  /** Bytes of one sequence's Mamba-2 state: what a checkpoint copies. */
  recurrentStateBytes: number;
  tokenizer:
    | { present: false; error: string }
    | {
        present: true;
        model: string;
        pre: string;
        size: number;
        addBos: boolean;
        addEos: boolean;
        bos: number | null;
        eos: number | null;
        eot: number | null;
        /** The special tokens' texts (for chat templates that write bos_token / eos_token). */
        bosText: string | null;
        eosText: string | null;
        eotText: string | null;
        fimPrefix: number | null;
        fimSuffix: number | null;
        fimMiddle: number | null;
        eog: number[];
        thinkOpen: number | null;
        thinkClose: number | null;
      };
  chatTemplate: string | null;
}

export type ModelLoadState =
  | { state: 'none' }
  | { state: 'loading'; path: string }
  | { state: 'loaded'; info: ModelInfo }
  | { state: 'failed'; path: string; error: string };

export interface RuntimeInfo {
  addonVersion: string;
  addonPath: string;
  system: NativeSystemInfo;
  /** Convenience copies of system.cpu / system.cuda for displays. */
  cpu: NativeSystemInfo['cpu'];
  cuda: NativeSystemInfo['cuda'];
  device: { requested: Device; using: 'cpu' | 'cuda'; reason: string };
  /** status: whether the configured file exists; load: what the worker did with it. */
  model: { path: string; status: 'none' | 'found' | 'missing'; sizeBytes?: number; load: ModelLoadState };
  worker: { pid: number; node: string; uptimeMs: number; rssBytes: number };
  documents: DocumentSummary[];
  jobs: { running: number; queued: number; completed: number };
}

export interface DocumentSummary {
  uri: string;
  languageId: string;
  version: number;
  length: number;
  /** The first UTF-16 offset changed since a request last read the document (-1: nothing changed). */
  staleFrom: number;
  /** 32-bit FNV-1a of the text's UTF-16 code units, hex: compare the mirror with the editor's text. */
  hash: string;
  session?: { tokens: number; checkpoints: number; checkpointBytes: number; kvBytes: number };
}

export interface LoadModelParams {
  path: string;
  /** When set, `progress` notifications with this id report the load. */
  progressId?: number;
}

// ---- documents: the editor's open text documents, mirrored as edits ----

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
/** vscode.TextDocumentContentChangeEvent: applied in order, offsets in UTF-16 code units. */
export interface ContentChange {
  range: Range;
  rangeOffset: number;
  rangeLength: number;
  text: string;
}
export interface OpenDocumentParams {
  uri: string;
  languageId: string;
  version: number;
  text: string;
}
export interface EditDocumentParams {
  uri: string;
  /** The document's version after these changes. */
  version: number;
  changes: ContentChange[];
}
export interface DocumentResult {
  uri: string;
  version: number;
  length: number;
}

// ---- generation ----

export interface SamplingParams {
  /** 0: greedy (the default). */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
}

/** timeLimit: the request ran past its time limit (InitializeParams.requestTimeoutMs or its own timeoutMs). */
export type StopReason = 'eog' | 'maxTokens' | 'stop' | 'cancelled' | 'superseded' | 'timeLimit';

export interface GenerationStats {
  promptTokens: number;
  /** Prompt tokens left out to fit the context. */
  truncatedTokens: number;
  generatedTokens: number;
  /** Of the prompt: tokens the document's session already held, re-read from a checkpoint, read. */
  keptTokens: number;
  rereadTokens: number;
  readTokens: number;
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
  /** From the request's arrival in the worker to its first token. */
  firstTokenMs: number;
  totalMs: number;
}

export interface CompleteParams {
  id: number;
  uri: string;
  /** The document version the request is for; the worker refuses another (DocumentOutOfSync). */
  version: number;
  /** The cursor, in UTF-16 code units. */
  offset: number;
  maxTokens: number;
  sampling?: SamplingParams;
  /** Generation ends before the first of these strings (not included in the text). */
  stop?: string[];
  /** Tokens of text after the cursor read as the FIM suffix (models with FIM tokens; default 256). */
  suffixTokens?: number;
  /**
   * Context placed before the document (e.g. the file's path and language as comments). It starts the
   * session and changes only on a rename, so it never invalidates the document's state.
   */
  header?: string;
  /** Time limit of this request once it runs, in ms (the shorter of this and the worker's wins). */
  timeoutMs?: number;
}
export interface CompleteResult {
  id: number;
  text: string;
  stopReason: StopReason;
  stats: GenerationStats;
}

export interface ThinkingParams {
  /** The prompt already opened the reasoning block (e.g. the template ends with "<think>\n"). */
  startsInside: boolean;
  open: string;
  close: string;
  /** Reasoning tokens at most (0: no limit); then `inject` (default close + "\n") is fed as if generated. */
  budget: number;
  inject?: string;
}
export interface ChatParams {
  id: number;
  /** The rendered chat template; special token texts in it are parsed as tokens. */
  prompt: string;
  maxTokens: number;
  addBos?: boolean;
  sampling?: SamplingParams;
  stop?: string[];
  thinking?: ThinkingParams;
  /** Time limit of this request once it runs, in ms (the shorter of this and the worker's wins). */
  timeoutMs?: number;
}

/** Tokens of a text as the loaded model's tokenizer reads it (exact counts for context budgets). */
export interface TokenizeParams {
  text: string;
  /** Read special token texts ("<|im_start|>") as the tokens they name, as a chat prompt is read. */
  parseSpecial?: boolean;
  /** Return the token ids too (else only the count). */
  ids?: boolean;
}
export interface TokenizeResult {
  count: number;
  ids?: number[];
}
export interface ChatResult {
  id: number;
  reasoning: string;
  answer: string;
  reasoningTokens: number;
  answerTokens: number;
  /** The thinking budget ended the reasoning: the worker fed `thinking.inject` as if generated (always set by the worker). */
  budgetReached?: boolean;
  stopReason: StopReason;
  stats: GenerationStats;
}

export interface BenchParams {
  id: number;
  promptTokens: number;
  genTokens: number;
  /** Send every generated token as a `stream` notification (measures streaming overhead). */
  stream: boolean;
}
export interface BenchResult {
  id: number;
  promptTokens: number;
  genTokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTps: number;
  decodeTps: number;
  threads: number;
}

export interface RequestMap {
  initialize: { params: InitializeParams; result: RuntimeInfo };
  loadModel: { params: LoadModelParams; result: ModelInfo };
  info: { params: Record<string, never>; result: RuntimeInfo };
  ping: { params: { seq: number }; result: { seq: number; pid: number } };
  openDocument: { params: OpenDocumentParams; result: DocumentResult };
  editDocument: { params: EditDocumentParams; result: DocumentResult };
  closeDocument: { params: { uri: string }; result: { uri: string; closed: boolean } };
  complete: { params: CompleteParams; result: CompleteResult };
  chat: { params: ChatParams; result: ChatResult };
  cancel: { params: { id: number }; result: { id: number; found: boolean } };
  bench: { params: BenchParams; result: BenchResult };
  tokenize: { params: TokenizeParams; result: TokenizeResult };
  shutdown: { params: Record<string, never>; result: null };
}
export type Method = keyof RequestMap;
/** Requests that stream `stream` notifications under their params' id. */
export type StreamMethod = 'complete' | 'chat' | 'bench';

// ---- notifications, worker -> host ----

export type StreamPartKind = 'text' | 'reasoning' | 'answer';
export interface StreamPart {
  kind: StreamPartKind;
  text: string;
}

export interface MemoryReport {
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** The model file, memory-mapped. */
  modelBytes: number;
  sessions: number;
  /** KV caches and checkpoints of all document sessions (as of their last use). */
  sessionBytes: number;
  documents: number;
  documentChars: number;
}

export interface NotificationMap {
  log: { level: LogLevel; message: string };
  progress: { id: number; stage: string; done: number; total: number; message: string };
  /** Output of a streaming request, in order; `tokens`: tokens these parts came from. */
  stream: { id: number; parts: StreamPart[]; tokens: number };
  memory: MemoryReport;
}
export type Notification = keyof NotificationMap;

// ---- validators ----

const empty = object({}) as Check<Record<string, never>>;
const count = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
const id = int({ min: 0, max: MAX_ID });
const uri = str({ maxLength: MAX_URI, minLength: 1 });
const position = object({ line: count, character: count });
const stopStrings = optional(arrayOf(str({ maxLength: 256, minLength: 1 }), { maxLength: 16 }));
const sampling = optional(
  object({
    temperature: optional(num({ min: 0, max: 100 })),
    topK: optional(int({ min: 0, max: 1 << 20 })),
    topP: optional(num({ min: 0, max: 1 })),
    minP: optional(num({ min: 0, max: 1 })),
    repeatPenalty: optional(num({ min: 0, max: 100 })),
    presencePenalty: optional(num({ min: -100, max: 100 })),
    frequencyPenalty: optional(num({ min: -100, max: 100 })),
    seed: optional(int({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  }),
);
const maxTokens = int({ min: 0, max: 1 << 20 });
/** Request time limits: up to a day. */
const timeoutMs = int({ min: 0, max: 86_400_000 });
/** Text of one tokenize request (synchronous in the worker: ~1 s for the largest). */
export const MAX_TOKENIZE_CHARS = 16 * 1024 * 1024;

/** Validators of every request's params: the worker runs them before dispatch. */
export const paramValidators: { [M in Method]: Check<RequestMap[M]['params']> } = {
  initialize: object({
    modelPath: optional(str({ maxLength: 4096 })),
    device: oneOf('auto', 'cuda', 'cpu'),
    threads: int({ min: 0, max: 1024 }),
    contextLength: int({ min: 16, max: 1 << 24 }),
    stateMemoryBudgetMB: int({ min: 0, max: 1 << 24 }),
    logLevel: optional(oneOf(...LOG_LEVELS)),
    requestTimeoutMs: optional(timeoutMs),
  }),
  loadModel: object({ path: str({ maxLength: 4096, minLength: 1 }), progressId: optional(id) }),
  info: empty,
  ping: object({ seq: int() }),
  openDocument: object({
    uri,
    languageId: str({ maxLength: 256 }),
    version: int(),
    text: str({ maxLength: MAX_DOCUMENT_CHARS }),
  }),
  editDocument: object({
    uri,
    version: int(),
    changes: arrayOf(
      object({
        range: object({ start: position, end: position }),
        rangeOffset: count,
        rangeLength: count,
        text: str({ maxLength: MAX_DOCUMENT_CHARS }),
      }),
      { maxLength: 100_000 },
    ),
  }),
  closeDocument: object({ uri }),
  complete: object({
    id,
    uri,
    version: int(),
    offset: count,
    maxTokens,
    sampling,
    stop: stopStrings,
    suffixTokens: optional(int({ min: 0, max: 1 << 16 })),
    header: optional(str({ maxLength: 4096 })),
    timeoutMs: optional(timeoutMs),
  }),
  chat: object({
    id,
    prompt: str({ maxLength: MAX_DOCUMENT_CHARS }),
    maxTokens,
    addBos: optional(bool),
    sampling,
    stop: stopStrings,
    thinking: optional(
      object({
        startsInside: bool,
        open: str({ maxLength: 64, minLength: 1 }),
        close: str({ maxLength: 64, minLength: 1 }),
        budget: int({ min: 0, max: 1 << 20 }),
        inject: optional(str({ maxLength: 256 })),
      }),
    ),
    timeoutMs: optional(timeoutMs),
  }),
  cancel: object({ id }),
  bench: object({
    id,
    promptTokens: int({ min: 1, max: 1 << 20 }),
    genTokens: int({ min: 1, max: 1 << 20 }),
    stream: bool,
  }),
  tokenize: object({ text: str({ maxLength: MAX_TOKENIZE_CHARS }), parseSpecial: optional(bool), ids: optional(bool) }),
  shutdown: empty,
};

export const methods = Object.keys(paramValidators) as Method[];

/** Validators of every notification's params: the host runs them on arrival. */
export const notificationValidators: { [N in Notification]: Check<NotificationMap[N]> } = {
  log: object({ level: oneOf(...LOG_LEVELS), message: str({ maxLength: 1 << 20 }) }),
  progress: object({ id, stage: str({ maxLength: 64 }), done: num(), total: num(), message: str({ maxLength: 4096 }) }),
  stream: object({
    id,
    parts: arrayOf(object({ kind: oneOf('text', 'reasoning', 'answer'), text: str() }), { maxLength: 1 << 16 }),
    tokens: count,
  }),
  memory: object({
    rssBytes: num(),
    heapUsedBytes: num(),
    externalBytes: num(),
    modelBytes: num(),
    sessions: count,
    sessionBytes: num(),
    documents: count,
    documentChars: num(),
  }),
};

export const notifications = Object.keys(notificationValidators) as Notification[];

/** JSON-RPC error codes of this protocol (vscode-jsonrpc's ErrorCodes.InvalidParams is -32602). */
export const ErrorCode = {
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  NotInitialized: -32002,
  Cancelled: -32800,
  /** No model is loaded (none configured, or its load failed: the message says which). */
  NoModel: -32010,
  /** The request names a document the worker does not hold: open it first. */
  DocumentNotOpen: -32011,
  /** The worker's copy of the document is at another version, or an edit does not fit it: re-open it. */
  DocumentOutOfSync: -32012,
  /** Bad input for the model: a corrupt model file, a prompt that does not fit (message for the user). */
  BadInput: -32013,
  /** Host side: the worker died while the request was in flight. */
  WorkerCrashed: -32090,
  /** Host side: the supervisor gave up restarting the worker. */
  RuntimeStopped: -32091,
} as const;

