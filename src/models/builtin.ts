// The built-in model: a small Nemotron-H-style code model trained by the project (tools/train/), converted
// by its own converter (tools/convert/) and shipped in the repository at BUILTIN_MODEL_REL with a model
// card beside it. Pure Node (no vscode import): which model `npm start` runs, and where the picker lists
// the built-in model (first, as "built-in (small)").
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Relative to the repository / extension root. */
export const BUILTIN_MODEL_REL = path.join('models', 'builtin', 'hybrid-code-small-q8_0.gguf');
export const BUILTIN_CARD_REL = path.join('models', 'builtin', 'MODEL_CARD.md');
export const BUILTIN_LABEL = 'built-in (small)';
/** The random-weights test model `npm start` generates when nothing better is there. */
export const RANDOM_DEFAULT_REL = path.join('models', 'default.gguf');

export function builtinModelPath(root: string): string {
  return path.join(root, BUILTIN_MODEL_REL);
}

export type StartModelKind = 'given' | 'builtin' | 'random-default';

export interface StartModelChoice {
  path: string;
  kind: StartModelKind;
}

/**
 * The model `npm start` opens: the one the user named (--model or HYBRID_COPILOT_MODEL), else the built-in
 * model when its file is there, else the random-weights default (generated when missing).
 */
export function chooseStartModel(o: { root: string; given?: string; exists?: (p: string) => boolean }): StartModelChoice {
  const exists = o.exists ?? ((p: string) => fs.existsSync(p));
  if (o.given) return { path: path.resolve(o.given), kind: 'given' };
  const builtin = builtinModelPath(o.root);
  if (exists(builtin)) return { path: builtin, kind: 'builtin' };
  return { path: path.join(o.root, RANDOM_DEFAULT_REL), kind: 'random-default' };
}

/** A built-in model file wherever the repository or extension lives (…/models/builtin/<name>). */
export function isBuiltinModel(file: string): boolean {
  return path.resolve(file).endsWith(path.sep + BUILTIN_MODEL_REL);
}

/**
 * The picker's list with the built-in model first: moved to the front when listed already, else added (via
 * `describe`) from the first of `candidates` (e.g. the extension's copy, the configured model) that is a
 * built-in model file and exists; it lives in models/builtin/, below the bundled folder the store scans.
 * Other entries keep their order.
 */
export async function withBuiltinFirst<T extends { path: string }>(
  models: T[],
  candidates: Array<string | undefined>,
  describe: (file: string) => Promise<T>,
  exists: (p: string) => boolean = (p) => fs.existsSync(p),
): Promise<T[]> {
  const i = models.findIndex((m) => isBuiltinModel(m.path));
  if (i >= 0) return [models[i], ...models.slice(0, i), ...models.slice(i + 1)];
  const file = candidates.find((c): c is string => !!c && isBuiltinModel(c) && exists(c));
  if (!file) return models;
  return [await describe(file), ...models];
}
