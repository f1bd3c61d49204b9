// `hybrid serve` (dist/serve.js; `npm run serve -- --model PATH [--port N]`, bin/hybrid-serve): the runtime
// behind an OpenAI-compatible API on 127.0.0.1 with a random bearer token, printed at the start and written
// to --token-file (mode 0600) when asked. Another address needs an explicit --host and gets a warning.
import * as fs from 'fs';
import * as path from 'path';
import { Logger, RuntimeClient } from '../runtime/client';
import type { Device } from '../shared/protocol';
import { WorkerEngine } from './engine';
import { HybridServer, isLoopback } from './server';

const USAGE = `usage: hybrid serve --model PATH [--port N] [--host ADDR] [--token-file PATH] [--device auto|cuda|cpu]
                    [--threads N] [--context N] [--max-tokens N] [--thinking-budget N] [--max-body-bytes N] [--verbose]
Serves the model on http://127.0.0.1:PORT/v1 (OpenAI-compatible: /v1/models, /v1/chat/completions,
/v1/completions) with a random bearer token, printed below. --port 0 picks a free port. --host with an
address other than loopback exposes the server to the network (a warning says so).
Environment: HYBRID_SERVE_TOKEN sets the token instead of a random one.`;

interface Args {
  model: string;
  port: number;
  host: string;
  hostGiven: boolean;
  tokenFile?: string;
  device: Device;
  threads: number;
  context: number;
  maxTokens: number;
  thinkingBudget: number;
  maxBodyBytes: number;
  verbose: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    model: process.env.HYBRID_COPILOT_MODEL ?? '',
    port: 8080,
    host: '127.0.0.1',
    hostGiven: false,
    device: 'auto',
    threads: 0,
    context: 16384,
    maxTokens: 1024,
    thinkingBudget: 2048,
    maxBodyBytes: 8 * 1024 * 1024,
    verbose: false,
  };
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max) fail(`${name} takes an integer from ${min} to ${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) fail(`${k} needs a value`);
      return x;
    };
    switch (k) {
      case '--model': a.model = v(); break;
      case '--port': a.port = int(k, v(), 0, 65535); break;
      case '--host': a.host = v(); a.hostGiven = true; break;
      case '--token-file': a.tokenFile = v(); break;
      case '--device': {
        const d = v();
        if (d !== 'auto' && d !== 'cuda' && d !== 'cpu') fail('--device takes auto, cuda or cpu');
        a.device = d as Device;
        break;
      }
      case '--threads': a.threads = int(k, v(), 0, 1024); break;
      case '--context': a.context = int(k, v(), 512, 1 << 24); break;
      case '--max-tokens': a.maxTokens = int(k, v(), 1, 1 << 20); break;
      case '--thinking-budget': a.thinkingBudget = int(k, v(), 0, 1 << 20); break;
      case '--max-body-bytes': a.maxBodyBytes = int(k, v(), 1024, 1 << 30); break;
      case '--verbose': a.verbose = true; break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: fail(`unknown argument ${k}`);
    }
  }
  if (!a.model) fail('--model PATH is required');
  if (!fs.existsSync(a.model)) fail(`the model file ${a.model} does not exist`);
  return a;
}

function fail(message: string): never {
  process.stderr.write(`hybrid serve: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!isLoopback(args.host)) {
    if (!args.hostGiven) fail('refusing to bind a non-loopback address without --host');
    process.stderr.write(
      `hybrid serve: WARNING: binding ${args.host}: anyone who can reach this address and has the token can use the model. ` +
        'The traffic is plain HTTP (put a TLS proxy in front for a network).\n',
    );
  }
  const say = (level: string) => (m: string) => {
    if (args.verbose || level === 'warn' || level === 'error') process.stderr.write(`[${level}] ${m}\n`);
  };
  const logger: Logger = { trace: () => undefined, debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error') };
  const client = new RuntimeClient({
    workerPath: path.join(__dirname, 'worker.js'),
    settings: () => ({
      modelPath: path.resolve(args.model),
      device: args.device,
      threads: args.threads,
      contextLength: args.context,
      stateMemoryBudgetMB: 512,
      logLevel: args.verbose ? 'debug' : 'warn',
    }),
    logger,
    onModelLoad: (r) => {
      if (!r.ok) process.stderr.write(`hybrid serve: the model ${r.path} could not be loaded: ${r.error}\n`);
    },
  });
  const info = await client.start();
  if (info.model.load.state !== 'loaded') {
    await client.dispose();
    fail(`the model ${args.model} is not loaded (${info.model.load.state})`);
  }
  const server = new HybridServer({
    engine: new WorkerEngine({ client, contextLength: args.context, defaultMaxTokens: args.maxTokens, defaultThinkingBudget: args.thinkingBudget }),
    token: process.env.HYBRID_SERVE_TOKEN || undefined,
    host: args.host,
    port: args.port,
    maxBodyBytes: args.maxBodyBytes,
    log: args.verbose ? (l) => process.stderr.write(`[http] ${l}\n`) : undefined,
  });
  const where = await server.listen();
  if (args.tokenFile) {
    fs.writeFileSync(args.tokenFile, server.token + '\n', { mode: 0o600 });
    fs.chmodSync(args.tokenFile, 0o600);
  }
  const device = info.device.using === 'cuda' ? `GPU ${info.cuda.devices[0]?.name ?? ''}`.trim() : `CPU (${info.cpu.logicalCores} threads)`;
  process.stdout.write(
    `hybrid serve: model ${path.basename(args.model)} on ${device}\n` +
      `listening ${where.url}\n` +
      `token ${server.token}\n` +
      (args.tokenFile ? `token written to ${args.tokenFile} (mode 0600)\n` : '') +
      `try: curl -H "Authorization: Bearer $TOKEN" ${where.url}/models\n`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    await client.dispose();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((e) => {
  process.stderr.write(`hybrid serve: ${(e as Error).message}\n`);
  process.exit(1);
});
