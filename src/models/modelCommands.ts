// Model management in the command palette: Select Model (the GGUF files found, with size, architecture,
// quantization and whether they fit the GPU or memory), Add Model File, Download Model (the catalogue or any
// https URL; progress with bytes, rate and time left; cancel; resume; SHA-256 check), Delete Model, Run
// Benchmark. Switching model changes hybridCopilot.modelPath, which restarts the runtime with the new file.
// Every command takes optional arguments so that tests and other extensions run it without dialogs, and
// returns what it did.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { resolveModelPath, SECTION } from '../config';
import type { RuntimeClient } from '../runtime/client';
import { formatBytes } from '../shared/format';
import { CATALOG, CatalogEntry, checkDownloadUrl, fileNameFromUrl } from '../shared/models/catalog';
import { progressLine } from '../shared/models/download';
import { MemoryFacts, modelFit } from '../shared/models/fit';
import { formatParameters, SUPPORTED_ARCHITECTURES } from '../shared/models/gguf';
import type { BenchResult, RuntimeInfo } from '../shared/protocol';
import { DownloadError, downloadFile, partialBytes } from './downloader';
import { deleteDownloadedModel, describeModel, listModels, ModelFile } from './modelStore';
import { BUILTIN_LABEL, builtinModelPath, isBuiltinModel, withBuiltinFirst } from './builtin';

const ADDED_KEY = 'hybridCopilot.models.added';

export interface ModelDeps {
  context: vscode.ExtensionContext;
  runtime: RuntimeClient;
  log: vscode.LogOutputChannel;
}

export function modelsDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'models');
}

/** Sets hybridCopilot.modelPath where it is set now (a workspace value would hide a user-level change). */
export async function setModelPath(value: string | undefined): Promise<void> {
  const c = vscode.workspace.getConfiguration(SECTION);
  const where = c.inspect<string>('modelPath');
  const target =
    where?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : where?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await c.update('modelPath', value, target);
}

export function registerModelCommands(deps: ModelDeps): vscode.Disposable[] {
  const { context, runtime, log } = deps;
  const downloadDir = modelsDir(context);
  const added = () => context.globalState.get<string[]>(ADDED_KEY, []);
  const addPath = async (p: string) => {
    const list = added().filter((x) => x !== p);
    await context.globalState.update(ADDED_KEY, [p, ...list].slice(0, 50));
  };

  /** GPU and memory facts: the runtime's device list when it answers quickly, the OS's memory figures. */
  async function memory(): Promise<MemoryFacts> {
    let info: RuntimeInfo | undefined;
    if (runtime.currentState === 'ready') {
      info = await Promise.race([runtime.request('info', {}).catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1500))]);
    }
    return { gpus: info?.cuda.devices ?? [], ramTotal: os.totalmem(), ramFree: os.freemem() };
  }

  function describe(m: ModelFile, mem: MemoryFacts): { description: string; detail: string } {
    if (!m.summary) return { description: formatBytes(m.sizeBytes), detail: `$(warning) not readable as GGUF: ${m.error}` };
    const s = m.summary;
    const description = [s.quantization, formatBytes(m.sizeBytes), s.architecture, formatParameters(s.parameters)].join(' · ');
    const fit = modelFit(m.sizeBytes, mem);
    const icon = { gpu: '$(pass)', cpu: '$(pass)', tight: '$(warning)', no: '$(error)' }[fit.verdict];
    const detail = m.supported ? `${icon} ${fit.label}` : `$(error) architecture ${s.architecture} is not supported yet (${s.name ?? m.name})`;
    return { description, detail: `${detail} — ${m.path}` };
  }

  async function switchTo(file: string): Promise<string> {
    const current = resolveModelPath(context.extensionPath);
    if (path.resolve(current) === path.resolve(file)) return file;
    const m = await describeModel(file, 'added');
    if (!m.summary) throw new Error(`${file} is not a usable GGUF file: ${m.error}`);
    if (!m.supported) {
      const go = await vscode.window.showWarningMessage(
        `Hybrid Copilot runs ${SUPPORTED_ARCHITECTURES.join(', ')} models; ${path.basename(file)} is ${m.summary.architecture}. Load it anyway?`,
        { modal: true },
        'Load',
      );
      if (go !== 'Load') return current;
    }
    log.info(`models: switching to ${file} (${m.summary.architecture}, ${m.summary.quantization}, ${formatBytes(m.sizeBytes)}); the runtime restarts`);
    await setModelPath(file);
    return file;
  }

  const selectModel = async (args?: { path?: string }): Promise<string | undefined> => {
    if (args?.path) return switchTo(args.path);
    const [listed, mem] = await Promise.all([listModels({ downloadDir, bundledDir: path.join(context.extensionPath, 'models'), added: added() }), memory()]);
    const current = resolveModelPath(context.extensionPath);
    // The built-in model first, as "built-in (small)" (src/models/builtin.ts).
    const models = await withBuiltinFirst(listed, [builtinModelPath(context.extensionPath), current], (f) => describeModel(f, 'bundled'));
    const currentMissing = current && !models.some((m) => path.resolve(m.path) === path.resolve(current));
    type Item = vscode.QuickPickItem & { run: () => Promise<string | undefined> };
    const items: Item[] = models.map((m) => {
      const d = describe(m, mem);
      const isCurrent = path.resolve(m.path) === path.resolve(current);
      return {
        label: `${isCurrent ? '$(check) ' : ''}${isBuiltinModel(m.path) ? BUILTIN_LABEL : m.summary?.name ?? m.name}`,
        description: d.description,
        detail: `${m.origin === 'downloaded' ? 'downloaded' : m.origin === 'bundled' ? 'bundled' : 'your file'}: ${d.detail}`,
        run: () => switchTo(m.path),
      };
    });
    if (currentMissing) items.unshift({ label: `$(warning) ${path.basename(current)}`, description: 'configured, but the file is missing', detail: current, run: async () => undefined });
    items.push(
      { label: '', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined },
      { label: '$(folder-opened) Add a GGUF file…', run: () => addModelFile() },
      { label: '$(cloud-download) Download a model…', run: () => downloadModel() },
    );
    const pick = await vscode.window.showQuickPick(items, { title: 'Hybrid Copilot: select the model', matchOnDescription: true, matchOnDetail: true });
    return pick?.run();
  };

  const addModelFile = async (args?: { path?: string; use?: boolean }): Promise<string | undefined> => {
    let file = args?.path;
    if (!file) {
      const picked = await vscode.window.showOpenDialog({ title: 'Hybrid Copilot: a GGUF model file', canSelectMany: false, filters: { 'GGUF models': ['gguf'] } });
      file = picked?.[0]?.fsPath;
    }
    if (!file) return undefined;
    const m = await describeModel(file, 'added');
    if (!m.summary) {
      void vscode.window.showErrorMessage(`Hybrid Copilot: ${path.basename(file)} is not a GGUF model file: ${m.error}`);
      return undefined;
    }
    await addPath(file);
    const use = args?.use ?? (await vscode.window.showInformationMessage(`Added ${path.basename(file)} (${m.summary.architecture}, ${m.summary.quantization}).`, 'Use It Now')) === 'Use It Now';
    return use ? switchTo(file) : file;
  };

  const downloadModel = async (args?: { id?: string; url?: string; sha256?: string; fileName?: string; use?: boolean }): Promise<string | undefined> => {
    let entry: Pick<CatalogEntry, 'url' | 'fileName' | 'sha256' | 'label'> & { sizeBytes?: number } | undefined;
    if (args?.id) entry = CATALOG.find((e) => e.id === args.id);
    else if (args?.url) {
      const fileName = args.fileName ?? fileNameFromUrl(args.url);
      if (!fileName) throw new Error(`cannot name the file from ${args.url}: pass fileName`);
      entry = { url: args.url, fileName, sha256: args.sha256, label: fileName };
    } else {
      const mem = await memory();
      type Item = vscode.QuickPickItem & { entry?: CatalogEntry; custom?: boolean };
      const items: Item[] = CATALOG.map((e) => {
        const dest = path.join(downloadDir, e.fileName);
        const done = fs.existsSync(dest);
        const part = done ? 0 : partialBytes(dest, e.url);
        const fit = modelFit(e.sizeBytes, mem);
        return {
          label: `${done ? '$(check) ' : part ? '$(debug-pause) ' : ''}${e.label}`,
          description: `${e.approximate ? '≈' : ''}${formatBytes(e.sizeBytes)}${done ? ' · downloaded' : part ? ` · ${formatBytes(part)} so far: resumes` : ''}`,
          detail: `${e.description}; ${fit.label}${e.sha256 ? '' : '; checked against the SHA-256 Hugging Face states'}`,
          entry: e,
        };
      });
      items.push({ label: '$(link) Download from a URL…', custom: true });
      const pick = await vscode.window.showQuickPick(items, { title: 'Hybrid Copilot: download a model', matchOnDetail: true });
      if (!pick) return undefined;
      if (pick.custom) {
        const url = await vscode.window.showInputBox({
          title: 'Hybrid Copilot: download a GGUF file',
          prompt: 'An https URL of a .gguf file (e.g. https://huggingface.co/<repo>/resolve/<revision>/<file>.gguf)',
          ignoreFocusOut: true,
          validateInput: (v) => checkDownloadUrl(v.trim()) ?? (fileNameFromUrl(v.trim()) ? undefined : 'the URL must end in a .gguf file name'),
        });
        if (!url) return undefined;
        const fileName = fileNameFromUrl(url.trim())!;
        entry = { url: url.trim(), fileName, label: fileName };
      } else entry = pick.entry;
    }
    if (!entry) throw new Error(`no catalogue entry ${args?.id}`);
    const dest = path.join(downloadDir, entry.fileName);
    if (fs.existsSync(dest)) {
      const use = args?.use ?? (await vscode.window.showInformationMessage(`${entry.fileName} is already downloaded.`, 'Use It Now')) === 'Use It Now';
      return use ? switchTo(dest) : dest;
    }
    const e = entry;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${e.fileName}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        let lastPct = 0;
        let lastReport = 0;
        try {
          return await downloadFile({
            url: e.url,
            dest,
            sha256: e.sha256,
            signal: abort.signal,
            log: (line) => log.info(`models: ${line}`),
            onProgress: (p) => {
              const now = Date.now();
              if (now - lastReport < 250 && p.received !== p.total) return;
              lastReport = now;
              const pct = p.total ? (p.received / p.total) * 100 : 0;
              progress.report({ increment: pct - lastPct, message: progressLine(p.received, p.total, p.rate, p.eta) });
              lastPct = pct;
            },
          });
        } catch (err) {
          if (err instanceof DownloadError && err.kind === 'cancelled') {
            const have = partialBytes(dest, e.url);
            log.info(`models: download of ${e.fileName} cancelled at ${formatBytes(have)}`);
            void vscode.window.showInformationMessage(`Hybrid Copilot: download cancelled at ${formatBytes(have)}; run Download Model again to resume.`);
            return undefined;
          }
          throw err;
        } finally {
          sub.dispose();
        }
      },
    );
    if (!result) return undefined;
    const use =
      args?.use ??
      (await vscode.window.showInformationMessage(
        `Downloaded ${e.fileName} (${formatBytes(result.bytes)}${result.checksum !== 'none' ? ', SHA-256 verified' : ', no checksum known'}).`,
        'Use It Now',
      )) === 'Use It Now';
    return use ? switchTo(dest) : dest;
  };

  const deleteModel = async (args?: { path?: string; confirm?: boolean }): Promise<string | undefined> => {
    let file = args?.path;
    if (!file) {
      const models = await listModels({ downloadDir, added: [] });
      const partials = fs.existsSync(downloadDir) ? fs.readdirSync(downloadDir).filter((n) => n.endsWith('.gguf.part')) : [];
      const items = [
        ...models.map((m) => ({ label: m.summary?.name ?? m.name, description: formatBytes(m.sizeBytes), detail: m.path, file: m.path })),
        ...partials.map((n) => ({ label: `${n} (partial download)`, description: formatBytes(fs.statSync(path.join(downloadDir, n)).size), detail: path.join(downloadDir, n), file: path.join(downloadDir, n.slice(0, -5)) })),
      ];
      if (!items.length) {
        void vscode.window.showInformationMessage('Hybrid Copilot: no downloaded models to delete (your own files are not deleted here).');
        return undefined;
      }
      file = (await vscode.window.showQuickPick(items, { title: 'Hybrid Copilot: delete a downloaded model' }))?.file;
      if (!file) return undefined;
    }
    if (args?.confirm !== false) {
      const ok = await vscode.window.showWarningMessage(`Delete ${path.basename(file)} from the disk?`, { modal: true }, 'Delete');
      if (ok !== 'Delete') return undefined;
    }
    if (path.resolve(resolveModelPath(context.extensionPath)) === path.resolve(file)) {
      log.info(`models: ${file} is the current model: unsetting hybridCopilot.modelPath first`);
      await setModelPath(undefined);
    }
    deleteDownloadedModel(file, downloadDir);
    log.info(`models: deleted ${file}`);
    return file;
  };

  const runBenchmark = async (args?: { promptTokens?: number; genTokens?: number }): Promise<BenchResult | undefined> => {
    const promptTokens = args?.promptTokens ?? 512;
    const genTokens = args?.genTokens ?? 64;
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Hybrid Copilot: benchmark (${promptTokens} prompt + ${genTokens} generated tokens)`, cancellable: true },
      (_p, token) => runtime.stream('bench', { promptTokens, genTokens, stream: false }, () => undefined, token),
    );
    const line =
      `benchmark: prefill ${r.prefillTps.toFixed(1)} tok/s (${r.promptTokens} tokens in ${Math.round(r.prefillMs)} ms), ` +
      `decode ${r.decodeTps.toFixed(1)} tok/s (${r.genTokens} tokens in ${Math.round(r.decodeMs)} ms), ${r.threads} threads`;
    log.info(line);
    void vscode.window.showInformationMessage(`Hybrid Copilot ${line}`, 'Show Logs').then((c) => c && log.show(true));
    return r;
  };

  const wrap =
    <A, R>(name: string, fn: (a?: A) => Promise<R>) =>
    async (a?: A): Promise<R | undefined> => {
      try {
        return await fn(a);
      } catch (e) {
        const message = `Hybrid Copilot: ${name} failed: ${(e as Error).message}`;
        log.error(message);
        void vscode.window.showErrorMessage(message, 'Show Logs').then((c) => c && log.show());
        if (args(a)?.throwErrors) throw e;
        return undefined;
      }
    };
  const args = (a: unknown) => (a && typeof a === 'object' ? (a as { throwErrors?: boolean }) : undefined);

  return [
    vscode.commands.registerCommand('hybridCopilot.selectModel', wrap('Select Model', selectModel)),
    vscode.commands.registerCommand('hybridCopilot.addModelFile', wrap('Add Model File', addModelFile)),
    vscode.commands.registerCommand('hybridCopilot.downloadModel', wrap('Download Model', downloadModel)),
    vscode.commands.registerCommand('hybridCopilot.deleteModel', wrap('Delete Model', deleteModel)),
    vscode.commands.registerCommand('hybridCopilot.runBenchmark', wrap('Run Benchmark', runBenchmark)),
  ];
}
