// The runtime worker: a child process of the extension host that owns the native addon and all model
// memory. It speaks the typed protocol of src/shared/protocol.ts over Node's IPC channel. Every request's
// params are validated before dispatch; a malformed request gets an error reply and the worker lives on.
import * as fs from 'fs';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import {
  ErrorCode,
  InitializeParams,
  Method,
  methods,
  NativeSystemInfo,
  NotificationMap,
  paramValidators,
  RequestMap,
  RuntimeInfo,
} from '../shared/protocol';
import { ValidationError } from '../shared/validate';
import { defaultAddonPath, loadAddon, NativeAddon } from './addon';

if (!process.send) {
  process.stderr.write('hybrid worker: must be started by the extension with an IPC channel\n');
  process.exit(2);
}

const startedAt = Date.now();
const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const addonPath = process.env.HYBRID_ADDON_PATH || defaultAddonPath(__dirname);

let addon: NativeAddon | undefined;
let settings: InitializeParams | undefined;

function log(level: NotificationMap['log']['level'], message: string): void {
  void connection.sendNotification('log', { level, message });
}

function runtimeInfo(): RuntimeInfo {
  if (!addon || !settings) throw new ResponseError(ErrorCode.NotInitialized, 'the worker is not initialized');
  const system = JSON.parse(addon.systemInfo()) as NativeSystemInfo;
  const cudaUsable = system.cuda.devices.length > 0;
  const using = settings.device !== 'cpu' && cudaUsable ? 'cuda' : 'cpu';
  const reason =
    settings.device === 'cpu'
      ? 'the device setting is "cpu"'
      : cudaUsable
        ? `CUDA device 0: ${system.cuda.devices[0].name}`
        : `falling back to the CPU: ${system.cuda.status}`;
  const modelPath = settings.modelPath ?? '';
  let model: RuntimeInfo['model'] = { path: modelPath, status: 'none' };
  if (modelPath) {
    try {
      model = { path: modelPath, status: 'found', sizeBytes: fs.statSync(modelPath).size };
    } catch {
      model = { path: modelPath, status: 'missing' };
    }
  }
  return {
    addonVersion: addon.version(),
    addonPath,
    system,
    cpu: system.cpu,
    cuda: system.cuda,
    device: { requested: settings.device, using, reason },
    model,
    worker: {
      pid: process.pid,
      node: process.version,
      uptimeMs: Date.now() - startedAt,
      rssBytes: process.memoryUsage().rss,
    },
  };
}

type Handlers = { [M in Method]: (params: RequestMap[M]['params']) => Promise<RequestMap[M]['result']> | RequestMap[M]['result'] };

const handlers: Handlers = {
  initialize(params) {
    settings = params;
    if (!addon) {
      const t0 = Date.now();
      addon = loadAddon(addonPath);
      log('info', `native addon ${addon.version()} loaded from ${addonPath} in ${Date.now() - t0} ms`);
    }
    const info = runtimeInfo();
    log('info', `device: ${info.device.using} (${info.device.reason})`);
    if (info.model.status === 'missing') log('warn', `model file not found: ${info.model.path}`);
    return info;
  },
  info: () => runtimeInfo(),
  ping: (params) => ({ seq: params.seq, pid: process.pid }),
  shutdown() {
    setImmediate(() => process.exit(0));
    return null;
  },
};

for (const method of methods) {
  connection.onRequest(method, async (raw: unknown) => {
    let params: unknown;
    try {
      params = paramValidators[method](raw ?? {}, 'params');
    } catch (e) {
      if (e instanceof ValidationError) throw new ResponseError(ErrorCode.InvalidParams, `${method}: ${e.message}`);
      throw e;
    }
    try {
      return await (handlers[method] as (p: unknown) => unknown)(params);
    } catch (e) {
      if (e instanceof ResponseError) throw e;
      const message = e instanceof Error ? e.message : String(e);
      log('error', `${method} failed: ${message}`);
      throw new ResponseError(ErrorCode.Internal, message);
    }
  });
}
connection.onRequest((method: string) => {
  throw new ResponseError(-32601, `unknown method: ${method}`);
});

// The host is our only reason to live: when the IPC channel closes, exit (no orphaned model memory).
process.on('disconnect', () => process.exit(0));
connection.listen();
