// Which runtime workers to run and with which model: one model for inline completions
// (`hybridCopilot.completions.model`, a fill-in-the-middle model such as Granite 4.0 H) and one for chat,
// the code actions and VS Code's chat (`hybridCopilot.chat.model`, e.g. a Nemotron reasoning model). A role
// whose setting is empty uses `hybridCopilot.modelPath` (or the default model). When both roles end up on
// the same file there is one worker serving both (the model is in memory once, the state budget is whole);
// when they differ there are two workers, and the state memory budget is split between them so that the
// two together stay within `hybridCopilot.stateMemoryBudgetMB`.

export type ModelRole = 'completions' | 'chat';

export interface ModelRoleSettings {
  /** The resolved `hybridCopilot.modelPath` (or the default model): what an empty role setting uses. */
  modelPath: string;
  /** `hybridCopilot.completions.model`, as set (empty: modelPath). */
  completionsModel: string;
  /** `hybridCopilot.chat.model`, as set (empty: modelPath). */
  chatModel: string;
  stateMemoryBudgetMB: number;
}

export interface RuntimeAssignment {
  modelPath: string;
  stateMemoryBudgetMB: number;
  roles: ModelRole[];
}

export interface RuntimePlan {
  /** The worker of chat, the code actions and VS Code's chat; also completions when `completions` is absent. */
  main: RuntimeAssignment;
  /** A second worker for completions only, when its model differs from chat's. */
  completions?: RuntimeAssignment;
}

/** The smallest state budget a worker is given (the setting's own minimum). */
export const MIN_STATE_BUDGET_MB = 64;

/** Share of the state budget the completion worker gets when there are two (per-document checkpoints). */
export const COMPLETIONS_BUDGET_SHARE = 0.5;

/** A path as the user wrote it: `~` expanded, surrounding spaces removed. */
export function expandPath(p: string, home: string | undefined): string {
  const t = p.trim();
  return home ? t.replace(/^~(?=$|[\\/])/, home) : t;
}

/** Two paths name the same file (as far as the text tells: separators and a trailing slash aside). */
export function sameModelFile(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\\/g, '/').replace(/\/+/g, '/').replace(/\/$/, '');
  return norm(a) === norm(b);
}

export function planRuntimes(s: ModelRoleSettings): RuntimePlan {
  const completions = s.completionsModel.trim() || s.modelPath;
  const chat = s.chatModel.trim() || s.modelPath;
  const budget = Math.max(0, Math.floor(s.stateMemoryBudgetMB));
  if (!completions || !chat || sameModelFile(completions, chat)) {
    return { main: { modelPath: chat || completions, stateMemoryBudgetMB: budget, roles: ['chat', 'completions'] } };
  }
  let completionsMB = Math.round(budget * COMPLETIONS_BUDGET_SHARE);
  completionsMB = Math.min(Math.max(completionsMB, MIN_STATE_BUDGET_MB), Math.max(MIN_STATE_BUDGET_MB, budget - MIN_STATE_BUDGET_MB));
  const chatMB = Math.max(MIN_STATE_BUDGET_MB, budget - completionsMB);
  return {
    main: { modelPath: chat, stateMemoryBudgetMB: chatMB, roles: ['chat'] },
    completions: { modelPath: completions, stateMemoryBudgetMB: completionsMB, roles: ['completions'] },
  };
}

/** One line per worker, for logs and the status bar's tooltip. */
export function describePlan(plan: RuntimePlan): string[] {
  const file = (p: string) => p.split(/[\\/]/).pop() || '(none)';
  const line = (a: RuntimeAssignment) => `${a.roles.join(' + ')}: ${file(a.modelPath)} (state budget ${a.stateMemoryBudgetMB} MiB)`;
  return plan.completions ? [line(plan.main), line(plan.completions)] : [line(plan.main)];
}
