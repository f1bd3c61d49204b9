// Reads the extension's settings (package.json `contributes.configuration`) into typed values.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Device, InitializeParams } from './shared/protocol';
import { BUILTIN_MODEL_REL } from './models/builtin';
import { expandPath, planRuntimes, type RuntimeAssignment, type RuntimePlan } from './shared/runtimePlan';

export const SECTION = 'hybridCopilot';

/**
 * The model file to load: the setting, else HYBRID_COPILOT_MODEL, else the built-in model shipped with the
 * extension (`models/builtin/`, see its MODEL_CARD.md), else `<extension>/models/default.gguf`.
 */
export function resolveModelPath(extensionPath: string): string {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>('modelPath', '').trim();
  if (configured) return configured.replace(/^~(?=$|\/)/, process.env.HOME ?? '~');
  if (process.env.HYBRID_COPILOT_MODEL) return process.env.HYBRID_COPILOT_MODEL;
  for (const candidate of [path.join(extensionPath, BUILTIN_MODEL_REL), path.join(extensionPath, 'models', 'default.gguf')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return '';
}

export function runtimeSettings(extensionPath: string): InitializeParams {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    modelPath: resolveModelPath(extensionPath),
    device: c.get<Device>('device', 'auto'),
    threads: c.get<number>('threads', 0),
    contextLength: c.get<number>('contextLength', 16384),
    stateMemoryBudgetMB: c.get<number>('stateMemoryBudgetMB', 2048),
    // 0: no limit; the protocol takes at most a day.
    requestTimeoutMs: Math.round(Math.min(Math.max(c.get<number>('requestTimeoutSeconds', 600), 0), 86_400) * 1000),
  };
}

/**
 * Which workers run with which model: `hybridCopilot.completions.model` and `hybridCopilot.chat.model` (empty:
 * modelPath); two workers sharing the state budget when they name different files (shared/runtimePlan.ts).
 */
export function runtimePlan(extensionPath: string): RuntimePlan {
  const c = vscode.workspace.getConfiguration(SECTION);
  return planRuntimes({
    modelPath: resolveModelPath(extensionPath),
    completionsModel: expandPath(c.get<string>('completions.model', ''), process.env.HOME),
    chatModel: expandPath(c.get<string>('chat.model', ''), process.env.HOME),
    stateMemoryBudgetMB: c.get<number>('stateMemoryBudgetMB', 2048),
  });
}

/** The worker settings of one assignment of the plan: its model and its share of the state budget. */
export function workerSettings(extensionPath: string, assignment: (plan: RuntimePlan) => RuntimeAssignment): InitializeParams {
  const a = assignment(runtimePlan(extensionPath));
  return { ...runtimeSettings(extensionPath), modelPath: a.modelPath, stateMemoryBudgetMB: a.stateMemoryBudgetMB };
}

/** Settings whose change needs a new worker (the model and its memory live there). */
export const RUNTIME_SETTINGS = ['modelPath', 'completions.model', 'chat.model', 'device', 'threads', 'contextLength', 'stateMemoryBudgetMB', 'requestTimeoutSeconds'].map(
  (k) => `${SECTION}.${k}`,
);
