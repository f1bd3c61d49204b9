// The host <-> runtime worker protocol, declared once: method name -> params and result types, plus a
// validator for every params object (checked by the worker on arrival) . Both ends import this file.
// Carried by vscode-jsonrpc over Node's IPC channel.
import { Check, int, object, oneOf, optional, str } from './validate';

export type Device = 'auto' | 'cuda' | 'cpu';

export interface InitializeParams {
  /** GGUF file to load, or empty for none (the worker then only reports system info). */
  modelPath?: string;
  device: Device;
  threads: number;
  contextLength: number;
  stateMemoryBudgetMB: number;
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

export interface RuntimeInfo {
  addonVersion: string;
  addonPath: string;
  system: NativeSystemInfo;
  /** Convenience copies of system.cpu / system.cuda for displays. */
  cpu: NativeSystemInfo['cpu'];
  cuda: NativeSystemInfo['cuda'];
  device: { requested: Device; using: 'cpu' | 'cuda'; reason: string };
  model: { path: string; status: 'none' | 'found' | 'missing'; sizeBytes?: number };
  worker: { pid: number; node: string; uptimeMs: number; rssBytes: number };
}

export interface RequestMap {
  initialize: { params: InitializeParams; result: RuntimeInfo };
  info: { params: Record<string, never>; result: RuntimeInfo };
  ping: { params: { seq: number }; result: { seq: number; pid: number } };
  shutdown: { params: Record<string, never>; result: null };
}
export type Method = keyof RequestMap;

export interface NotificationMap {
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string };
}

const empty = object({});

/** Validators of every request's params: the worker runs them before dispatch. */
export const paramValidators: { [M in Method]: Check<RequestMap[M]['params']> } = {
  initialize: object({
    modelPath: optional(str({ maxLength: 4096 })),
    device: oneOf('auto', 'cuda', 'cpu'),
    threads: int({ min: 0, max: 1024 }),
    contextLength: int({ min: 16, max: 1 << 24 }),
    stateMemoryBudgetMB: int({ min: 0, max: 1 << 24 }),
  }),
  info: empty as Check<Record<string, never>>,
  ping: object({ seq: int() }),
  shutdown: empty as Check<Record<string, never>>,
};

export const methods = Object.keys(paramValidators) as Method[];

/** JSON-RPC error codes used by the worker (vscode-jsonrpc's ErrorCodes.InvalidParams is -32602). */
export const ErrorCode = {
  InvalidParams: -32602,
  Internal: -32603,
  NotInitialized: -32002,
  Cancelled: -32800,
} as const;
