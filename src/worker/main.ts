// The runtime worker: a child process of the extension host that owns the native addon and all model
// memory. It speaks the typed protocol of src/shared/protocol.ts over Node's IPC channel; what each method
// does lives in service.ts. Every request's params are validated before dispatch; a malformed request gets
// an error reply and the worker lives on; a malformed notification is logged and dropped.
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode, methods, paramValidators } from '../shared/protocol';
import { ValidationError } from '../shared/validate';
import { defaultAddonPath, isInputError } from './addon';
import { RpcError, WorkerService } from './service';

if (!process.send) {
  process.stderr.write('hybrid worker: must be started by the extension with an IPC channel\n');
  process.exit(2);
}

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const service = new WorkerService(
  {
    notify: (method, params) => void connection.sendNotification(method, params),
    exit: (code) => process.exit(code),
  },
  process.env.HYBRID_ADDON_PATH || defaultAddonPath(__dirname),
);

function toResponseError(method: string, e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof RpcError) return new ResponseError(e.code, e.message);
  if (e instanceof ValidationError) return new ResponseError(ErrorCode.InvalidParams, `${method}: ${e.message}`);
  const message = e instanceof Error ? e.message : String(e);
  if (isInputError(e)) return new ResponseError(ErrorCode.BadInput, message);
  service.log('error', `${method} failed: ${e instanceof Error && e.stack ? e.stack : message}`);
  return new ResponseError(ErrorCode.Internal, `${method} failed in the runtime worker: ${message}`);
}

for (const method of methods) {
  connection.onRequest(method, async (raw: unknown) => {
    try {
      const params = paramValidators[method](raw ?? {}, 'params');
      return await (service.handlers[method] as (p: unknown) => unknown)(params);
    } catch (e) {
      throw toResponseError(method, e);
    }
  });
}
connection.onRequest((method: string) => {
  throw new ResponseError(ErrorCode.MethodNotFound, `unknown method: ${String(method).slice(0, 100)}`);
});
connection.onNotification((method: string) => {
  service.log('warn', `ignored an unknown notification: ${String(method).slice(0, 100)}`);
});

// The host is our only reason to live: when the IPC channel closes, exit (no orphaned model memory).
process.on('disconnect', () => process.exit(0));
connection.listen();
