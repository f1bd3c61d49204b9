// The command palette actions on code: Explain (answered in the chat view), Fix, Document, Write Tests, Edit
// with Instruction and Translate (each streamed into a diff preview to accept or reject). Each works on the
// selection or the function around the cursor (target.ts), can be cancelled from its progress
// notification, and returns what it did (for tests and other extensions). Commands also take arguments —
// `{ uri, range: [l0, c0, l1, c1], instruction, mode, target, source, maxTokens, autoAccept }` — so that the
// code actions, the context menu and tests can run them without dialogs.
import * as path from 'path';
import * as vscode from 'vscode';
import type { ChatBackend } from '../chat/chatBackend';
import type { ChatContextTracker } from '../chat/chatContext';
import type { ChatController } from '../chat/chatController';
import { extractCode } from '../shared/commands/codeBlock';
import { docCommentEdit, lineStarts, replaceSelectionEdit, TextEdit } from '../shared/commands/edits';
import { docStyleFor, normalizeDocComment } from '../shared/commands/docStyle';
import { guessHumanLanguage, HUMAN_LANGUAGES, languageName, PROGRAMMING_LANGUAGES } from '../shared/commands/languages';
import {
  ActionId,
  ActionPrompt,
  DiagnosticInfo,
  documentPrompt,
  editPrompt,
  explainQuestion,
  fixPrompt,
  splitProse,
  surroundings,
  testsPrompt,
  translateCodePrompt,
  translateTextPrompt,
} from '../shared/commands/prompts';
import { importPath, planTests } from '../shared/commands/testFramework';
import { Proposal, ProposalManager } from './proposals';
import { codeTokens, ModelNotReadyError, runAction, RunSettings } from './runner';
import { describeTarget, resolveTarget, Target, targetEditor } from './target';
import { gatherWorkspaceFacts, workspaceRelative } from './workspaceFacts';
import { ChatTraceView } from './trace';

export interface ActionArgs {
  uri?: string | vscode.Uri;
  /** 0-based [startLine, startCharacter, endLine, endCharacter], or a Range. */
  range?: [number, number, number, number] | vscode.Range;
  instruction?: string;
  /** Translate: 'code' (to another programming language) or 'text' (comments and strings). */
  mode?: 'code' | 'text';
  /** Translate: the target language id (code) or human language (text). */
  target?: string;
  /** Translate text: the source human language (else guessed, or asked when unsure). */
  source?: string;
  /** Answer tokens (default from the chat settings and the code's length). */
  maxTokens?: number;
  /** Accept the change as soon as it is complete (automation, tests). */
  autoAccept?: boolean;
}

export interface ActionResult {
  action: ActionId;
  target: string;
  /** The diff's right side (a hybrid-copilot-edit: document). */
  proposal?: string;
  /** The proposed text of the whole file. */
  proposedText?: string;
  /** The user message sent to the model (context included). */
  prompt: string;
  answer: string;
  reasoning: string;
  stopReason: string;
  accepted?: boolean;
  warnings: string[];
}

export interface ActionDeps {
  backend: ChatBackend;
  /** The chat view's host side: Explain asks there. */
  chat: { controller: ChatController; context: ChatContextTracker; focus: () => Thenable<unknown> };
  log: vscode.LogOutputChannel;
  settings: () => RunSettings;
}

interface DiffSpec {
  action: ActionId;
  /** "Fix", "Document", … */
  verb: string;
  target: Target;
  prompt: ActionPrompt;
  expectedTokens: number;
  /** Where the change goes. */
  file: vscode.Uri;
  original: string;
  version?: number;
  newFile: boolean;
  title: string;
  /** The edit of `original` for the code so far. */
  toEdit: (code: string, final: boolean) => TextEdit;
  /** Warnings about the finished code (shown with the accept question). */
  check?: (code: string) => string[];
}

function parseArgs(raw: unknown): ActionArgs {
  if (raw instanceof vscode.Uri) return { uri: raw };
  return raw && typeof raw === 'object' ? (raw as ActionArgs) : {};
}

function toRange(r: ActionArgs['range']): vscode.Range | undefined {
  if (!r) return undefined;
  if (r instanceof vscode.Range) return r;
  return new vscode.Range(r[0], r[1], r[2], r[3]);
}

export function registerActionCommands(deps: ActionDeps): { disposables: vscode.Disposable[]; proposals: ProposalManager } {
  const proposals = new ProposalManager(deps.log);
  // Reasoning of the diff actions streams into the chat view as a turn of its own (kept in history).
  const trace = new ChatTraceView(deps.chat.controller, deps.chat.focus);

  async function target(args: ActionArgs, verb: string): Promise<Target | undefined> {
    const uri = typeof args.uri === 'string' ? vscode.Uri.parse(args.uri) : args.uri;
    const editor = await targetEditor(uri);
    if (!editor) {
      void vscode.window.showInformationMessage(`Hybrid Copilot: open a file and select the code to ${verb.toLowerCase()}.`);
      return undefined;
    }
    const t = await resolveTarget(editor, toRange(args.range));
    if (!t) void vscode.window.showInformationMessage(`Hybrid Copilot: select the code to ${verb.toLowerCase()} (no function was found around the cursor).`);
    return t;
  }

  function notReady(e: unknown): void {
    const message = (e as Error).message;
    deps.log.error(`commands: ${message}`);
    if (e instanceof ModelNotReadyError) {
      void vscode.window.showErrorMessage(`Hybrid Copilot: ${message}`, 'Select Model', 'Show Logs').then((c) => {
        if (c === 'Select Model') void vscode.commands.executeCommand('hybridCopilot.selectModel');
        if (c === 'Show Logs') deps.log.show();
      });
    } else {
      void vscode.window.showErrorMessage(`Hybrid Copilot: ${message}`, 'Show Logs').then((c) => c && deps.log.show());
    }
  }

  /** The diff flow shared by every action but Explain. */
  /** Whether the model can answer now; when not, says why (with Select Model) and returns false. */
  async function ready(): Promise<boolean> {
    const status = await deps.backend.status();
    if (!status.ready) notReady(new ModelNotReadyError(status.reason));
    return status.ready;
  }

  async function runDiff(spec: DiffSpec, args: ActionArgs): Promise<ActionResult | undefined> {
    if (!(await ready())) return undefined;
    const proposal = proposals.create({ target: spec.file, original: spec.original, version: spec.version, newFile: spec.newFile, title: spec.title });
    proposal.update(spec.toEdit('', false));
    await proposals.showDiff(proposal);
    const settings = deps.settings();
    const run = {
      ...settings,
      maxAnswerTokens: args.maxTokens ?? settings.maxAnswerTokens,
    };
    const expected = args.maxTokens !== undefined ? 0 : spec.expectedTokens;
    let lastCode = '';
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Hybrid Copilot: ${spec.verb} ${describeTarget(spec.target)}`, cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'waiting for the model…' });
        try {
          return await runAction({
            backend: deps.backend,
            prompt: spec.prompt,
            settings: run,
            expectedAnswerTokens: expected,
            title: spec.verb,
            detail: `${spec.target.snippet.path}:${spec.target.snippet.startLine}-${spec.target.snippet.endLine}`,
            trace,
            token,
            onReasoningTokens: (n) => progress.report({ message: `reasoning… ${n} tokens (Hybrid Copilot Reasoning output)` }),
            onAnswer: (answer) => {
              const code = extractCode(answer, false);
              if (!code || code.code === lastCode) return;
              lastCode = code.code;
              proposal.update(spec.toEdit(code.code, false));
              progress.report({ message: `writing… ${code.code.split('\n').length} lines` });
            },
          });
        } catch (e) {
          notReady(e);
          return undefined;
        }
      },
    );
    const base = { action: spec.action, target: spec.file.toString(), proposal: proposal.uri.toString(), prompt: spec.prompt.user, warnings: [] as string[] };
    if (!outcome) {
      await proposals.decide(proposal.uri, false);
      return { ...base, answer: '', reasoning: '', stopReason: 'error', accepted: false };
    }
    const { answer, reasoning, result } = outcome;
    const done = { ...base, answer, reasoning, stopReason: result.stopReason };
    if (result.stopReason === 'cancelled') {
      await proposals.decide(proposal.uri, false);
      vscode.window.setStatusBarMessage(`$(circle-slash) Hybrid Copilot: ${spec.verb} cancelled`, 4000);
      return { ...done, accepted: false };
    }
    const code = extractCode(answer, true);
    if (!code || !code.code.trim()) {
      await proposals.decide(proposal.uri, false);
      deps.log.warn(`commands: ${spec.verb}: the answer had no code (${result.stopReason}): ${JSON.stringify(answer.slice(0, 400))}`);
      void vscode.window.showWarningMessage(`Hybrid Copilot: the model's answer to "${spec.verb}" had no code (it ended: ${result.stopReason}).`);
      return { ...done, accepted: false };
    }
    proposal.update(spec.toEdit(code.code, true));
    proposal.state = 'ready';
    proposals.flush(proposal);
    const warnings = [...(spec.check?.(code.code) ?? [])];
    if (code.unfenced) warnings.push('the answer was not in the requested format (no code block): all of it was taken as code');
    if (result.stopReason === 'maxTokens') warnings.push('the answer reached its token limit and may be cut short');
    if (result.stopReason === 'timeLimit') warnings.push('the answer reached the time limit (hybridCopilot.requestTimeoutSeconds) and may be cut short');
    deps.log.info(
      `commands: ${spec.verb} ${spec.target.snippet.path}:${spec.target.snippet.startLine}-${spec.target.snippet.endLine}: ` +
        `${result.reasoningTokens} reasoning + ${result.answerTokens} answer tokens, ${result.stopReason}; first token ${Math.round(result.stats.firstTokenMs)} ms` +
        (warnings.length ? `; ${warnings.join('; ')}` : ''),
    );
    const accepted = args.autoAccept ? proposals.decide(proposal.uri, true) : ask(proposal, spec, warnings);
    if (args.autoAccept) return { ...done, proposedText: proposal.text, accepted: await accepted, warnings };
    return { ...done, proposedText: proposal.text, warnings };
  }

  /** The accept question (not awaited by the command: the editor title's buttons answer it too). */
  async function ask(p: Proposal, spec: DiffSpec, warnings: string[]): Promise<boolean> {
    const { added, removed } = p.changes();
    const name = path.basename(spec.file.path);
    const buttons = ['Accept', 'Reject', ...(trace.hasOutput ? ['Show Reasoning'] : [])];
    for (;;) {
      const choice = await Promise.race([
        vscode.window.showInformationMessage(
          `Hybrid Copilot: ${spec.verb} — ${spec.newFile && !spec.original ? `new file ${name}` : name} (+${added} −${removed} lines).` +
            (warnings.length ? ` Note: ${warnings.join('; ')}.` : ''),
          ...buttons,
        ),
        p.decided.then(() => 'decided' as const),
      ]);
      if (choice === 'decided' || p.state === 'accepted' || p.state === 'rejected') return p.state === 'accepted';
      if (choice === 'Show Reasoning') {
        trace.show();
        continue;
      }
      // Dismissed: the diff stays open with its Accept and Reject buttons.
      if (choice === undefined) return false;
      return proposals.decide(p.uri, choice === 'Accept');
    }
  }

  function snippetEdit(t: Target, original: string): (code: string) => TextEdit {
    const start = t.document.offsetAt(t.range.start);
    const end = t.document.offsetAt(t.range.end);
    return (code) => (code ? replaceSelectionEdit(original, start, end, code) : { start, end, text: original.slice(start, end) });
  }

  const commands: Record<string, (raw?: unknown) => Promise<ActionResult | undefined>> = {
    'hybridCopilot.explain': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Explain');
      if (!t) return undefined;
      const { controller, context } = deps.chat;
      if (!(await ready())) return undefined;
      if (controller.busy) {
        void vscode.window.showInformationMessage('Hybrid Copilot: an answer is still streaming in the chat; stop it first.');
        return undefined;
      }
      // The chat sends the selection as context: select what is explained, so the chip shows it too.
      t.editor.selection = new vscode.Selection(t.range.start, t.range.end);
      t.editor.revealRange(t.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      context.setEnabled('selection', true);
      await deps.chat.focus();
      const turn = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Hybrid Copilot: explaining' },
        () => controller.send(explainQuestion(t.snippet)),
      );
      if (!turn) return undefined;
      return {
        action: 'explain',
        target: t.document.uri.toString(),
        prompt: turn.prompt,
        answer: turn.answer,
        reasoning: turn.reasoning,
        stopReason: turn.stopReason ?? turn.status,
        warnings: turn.error ? [turn.error] : [],
      };
    },

    'hybridCopilot.fix': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Fix');
      if (!t) return undefined;
      const original = t.document.getText();
      const diagnostics: DiagnosticInfo[] = vscode.languages
        .getDiagnostics(t.document.uri)
        .filter((d) => d.range.intersection(t.range) !== undefined)
        .slice(0, 20)
        .map((d) => ({
          line: d.range.start.line + 1,
          severity: (['error', 'warning', 'info', 'hint'] as const)[d.severity],
          message: d.message,
          source: d.source,
          code: typeof d.code === 'object' ? String(d.code.value) : d.code !== undefined ? String(d.code) : undefined,
        }));
      const edit = snippetEdit(t, original);
      return runDiff(
        {
          action: 'fix',
          verb: 'Fix',
          target: t,
          prompt: fixPrompt(t.snippet, diagnostics, surroundings(original, t.range.start.line, t.range.end.line)),
          expectedTokens: codeTokens(t.snippet.code),
          file: t.document.uri,
          original,
          version: t.document.version,
          newFile: false,
          title: `${path.basename(t.document.uri.path)} ↔ Fix (Hybrid Copilot)`,
          toEdit: edit,
        },
        args,
      );
    },

    'hybridCopilot.document': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Document');
      if (!t) return undefined;
      const original = t.document.getText();
      const style = docStyleFor(t.document.languageId);
      // The declaration: the target's first non-blank line.
      let decl = t.range.start.line;
      while (decl < t.range.end.line && !t.document.lineAt(decl).text.trim()) decl++;
      const insertAt = lineStarts(original)[decl];
      return runDiff(
        {
          action: 'document',
          verb: 'Document',
          target: t,
          prompt: documentPrompt(t.snippet, style),
          expectedTokens: 200,
          file: t.document.uri,
          original,
          version: t.document.version,
          newFile: false,
          title: `${path.basename(t.document.uri.path)} ↔ doc comment (Hybrid Copilot)`,
          toEdit: (code) => (code ? docCommentEdit(original, decl, normalizeDocComment(code, style), style) : { start: insertAt, end: insertAt, text: '' }),
        },
        args,
      );
    },

    'hybridCopilot.writeTests': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Write tests for');
      if (!t) return undefined;
      const facts = await gatherWorkspaceFacts(t.document.uri, t.document.languageId);
      const { root, relative } = workspaceRelative(t.document.uri);
      const plan = planTests(relative, t.document.languageId, facts);
      const file = vscode.Uri.joinPath(root, plan.testPath);
      let original = '';
      let exists = false;
      try {
        original = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
        exists = true;
      } catch {
        exists = false;
      }
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
      if (open) original = open.getText();
      const extend = exists && plan.extend;
      const head = extend ? original.split('\n').slice(0, 60).join('\n') : undefined;
      const sep = !original ? '' : original.endsWith('\n\n') ? '' : original.endsWith('\n') ? '\n' : '\n\n';
      return runDiff(
        {
          action: 'tests',
          verb: 'Write tests for',
          target: t,
          prompt: testsPrompt(t.snippet, { ...plan, extend }, importPath(plan.testPath, relative, t.document.languageId), head),
          expectedTokens: codeTokens(t.snippet.code) * 2 + 300,
          file,
          original,
          version: open?.version,
          newFile: !exists,
          title: `${path.basename(file.path)} ↔ tests (${plan.framework}, Hybrid Copilot)`,
          toEdit: (code) =>
            extend || (exists && original)
              ? { start: original.length, end: original.length, text: code ? sep + code + '\n' : '' }
              : { start: 0, end: original.length, text: code ? code + '\n' : '' },
        },
        args,
      );
    },

    'hybridCopilot.editWithInstruction': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Edit');
      if (!t) return undefined;
      const instruction =
        args.instruction ??
        (await vscode.window.showInputBox({
          title: `Hybrid Copilot: edit ${describeTarget(t)}`,
          prompt: 'How should the code change?',
          placeHolder: 'e.g. use early returns; handle an empty list; rename x to count',
          ignoreFocusOut: true,
        }));
      if (!instruction?.trim()) return undefined;
      const original = t.document.getText();
      return runDiff(
        {
          action: 'edit',
          verb: 'Edit',
          target: t,
          prompt: editPrompt(t.snippet, instruction, surroundings(original, t.range.start.line, t.range.end.line)),
          expectedTokens: codeTokens(t.snippet.code),
          file: t.document.uri,
          original,
          version: t.document.version,
          newFile: false,
          title: `${path.basename(t.document.uri.path)} ↔ ${instruction.trim().slice(0, 40)} (Hybrid Copilot)`,
          toEdit: snippetEdit(t, original),
        },
        args,
      );
    },

    'hybridCopilot.translate': async (raw) => {
      const args = parseArgs(raw);
      const t = await target(args, 'Translate');
      if (!t) return undefined;
      const mode =
        args.mode ??
        (
          await vscode.window.showQuickPick(
            [
              { label: 'Code to another programming language', mode: 'code' as const, detail: `${languageName(t.document.languageId)} → a new file next to this one` },
              { label: 'Comments and strings to another human language', mode: 'text' as const, detail: 'the code itself stays as it is; shown as a diff' },
            ],
            { title: `Hybrid Copilot: translate ${describeTarget(t)}` },
          )
        )?.mode;
      if (!mode) return undefined;
      const original = t.document.getText();
      if (mode === 'code') {
        const targetId =
          args.target ??
          (
            await vscode.window.showQuickPick(
              PROGRAMMING_LANGUAGES.filter((l) => l.id !== t.document.languageId).map((l) => ({ label: l.name, id: l.id })),
              { title: `Translate ${languageName(t.document.languageId)} code to…` },
            )
          )?.id;
        if (!targetId) return undefined;
        const lang = PROGRAMMING_LANGUAGES.find((l) => l.id === targetId);
        const stem = path.basename(t.document.uri.path).replace(/\.[^.]+$/, '');
        const file = vscode.Uri.joinPath(t.document.uri, '..', `${stem}${lang?.ext ?? `.${targetId}`}`);
        let existing = '';
        let exists = false;
        try {
          existing = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
          exists = true;
        } catch {
          exists = false;
        }
        return runDiff(
          {
            action: 'translate',
            verb: `Translate to ${languageName(targetId)}`,
            target: t,
            prompt: translateCodePrompt(t.snippet, targetId),
            expectedTokens: codeTokens(t.snippet.code) * 1.3,
            file,
            original: existing,
            newFile: true,
            title: `${path.basename(file.path)} ↔ ${languageName(targetId)} translation${exists ? ' (replaces the file)' : ''} (Hybrid Copilot)`,
            toEdit: (code) => ({ start: 0, end: existing.length, text: code ? code + '\n' : existing }),
          },
          args,
        );
      }
      const prose = splitProse(t.snippet.code, t.document.languageId).prose;
      const guess = guessHumanLanguage(prose);
      let source = args.source ?? (guess.confident ? guess.language : undefined);
      if (!source) {
        source = (
          await vscode.window.showQuickPick([guess.language, ...HUMAN_LANGUAGES.filter((l) => l !== guess.language)], {
            title: 'Translate comments and strings from…',
            placeHolder: `Probably ${guess.language}`,
          })
        )?.toString();
        if (!source) return undefined;
      }
      const targetLanguage =
        args.target ??
        (await vscode.window.showQuickPick(
          HUMAN_LANGUAGES.filter((l) => l !== source),
          { title: `Translate comments and strings from ${source} to…` },
        ));
      if (!targetLanguage) return undefined;
      const before = splitProse(t.snippet.code, t.document.languageId).code;
      return runDiff(
        {
          action: 'translate',
          verb: `Translate ${source} → ${targetLanguage}`,
          target: t,
          prompt: translateTextPrompt(t.snippet, source, targetLanguage),
          expectedTokens: codeTokens(t.snippet.code) * 1.5,
          file: t.document.uri,
          original,
          version: t.document.version,
          newFile: false,
          title: `${path.basename(t.document.uri.path)} ↔ ${targetLanguage} comments (Hybrid Copilot)`,
          toEdit: snippetEdit(t, original),
          check: (code) =>
            splitProse(code, t.document.languageId).code === before ? [] : ['the model also changed code outside comments and strings: review the diff'],
        },
        args,
      );
    },
  };

  const disposables: vscode.Disposable[] = [
    proposals,
    trace,
    vscode.commands.registerCommand('hybridCopilot.showReasoning', () => trace.show()),
    ...Object.entries(commands).map(([id, fn]) =>
      vscode.commands.registerCommand(id, async (raw?: unknown) => {
        try {
          return await fn(raw);
        } catch (e) {
          notReady(e);
          return undefined;
        }
      }),
    ),
  ];
  return { disposables, proposals };
}
