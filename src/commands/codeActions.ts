// The actions in the lightbulb: Fix and Explain where the language tools report a problem (quick fixes);
// Explain, Document, Edit and Translate comments on a selection (refactor-rewrite). Each runs the command
// with the range, so no dialog asks for it again.
import * as vscode from 'vscode';
import type { ActionArgs } from './actionCommands';

export class ActionCodeActionProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix, vscode.CodeActionKind.RefactorRewrite];

  provideCodeActions(document: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    if (['hybrid-copilot-edit', 'hybrid-copilot-proposal', 'output', 'git', 'vscode-chat-code-block'].includes(document.uri.scheme)) return [];
    const wants = (kind: vscode.CodeActionKind) => !context.only || context.only.contains(kind) || kind.contains(context.only);
    const out: vscode.CodeAction[] = [];
    const args = (r: vscode.Range, extra: Partial<ActionArgs> = {}): ActionArgs[] => [
      { uri: document.uri.toString(), range: [r.start.line, r.start.character, r.end.line, r.end.character], ...extra },
    ];
    const problems = context.diagnostics.filter((d) => d.severity <= vscode.DiagnosticSeverity.Warning);
    if (problems.length && wants(vscode.CodeActionKind.QuickFix)) {
      // The problem's lines, whole: the model sees the statement, not a token.
      const first = Math.min(...problems.map((d) => d.range.start.line));
      const last = Math.max(...problems.map((d) => d.range.end.line));
      const lines = range.isEmpty ? new vscode.Range(first, 0, last, document.lineAt(last).text.length) : range;
      const fix = new vscode.CodeAction('Fix with Hybrid Copilot', vscode.CodeActionKind.QuickFix);
      fix.command = { command: 'hybridCopilot.fix', title: 'Fix with Hybrid Copilot', arguments: args(range.isEmpty ? functionOrLines(lines) : lines) };
      fix.diagnostics = problems;
      const explain = new vscode.CodeAction('Explain with Hybrid Copilot', vscode.CodeActionKind.QuickFix);
      explain.command = { command: 'hybridCopilot.explain', title: 'Explain with Hybrid Copilot', arguments: args(lines) };
      explain.diagnostics = problems;
      out.push(fix, explain);
    }
    if (!range.isEmpty && wants(vscode.CodeActionKind.RefactorRewrite)) {
      const rewrite = (title: string, command: string, extra: Partial<ActionArgs> = {}) => {
        const a = new vscode.CodeAction(title, vscode.CodeActionKind.RefactorRewrite);
        a.command = { command, title, arguments: args(range, extra) };
        return a;
      };
      out.push(
        rewrite('Edit with Hybrid Copilot…', 'hybridCopilot.editWithInstruction'),
        rewrite('Document with Hybrid Copilot', 'hybridCopilot.document'),
        rewrite('Explain with Hybrid Copilot', 'hybridCopilot.explain'),
        rewrite('Translate comments with Hybrid Copilot…', 'hybridCopilot.translate', { mode: 'text' }),
      );
    }
    return out;
  }
}

/**
 * An empty range marks "the function around the problem": passed as an empty range at the problem's line,
 * the command resolves the enclosing function itself.
 */
function functionOrLines(lines: vscode.Range): vscode.Range {
  return new vscode.Range(lines.start, lines.start);
}

export function registerActionCodeActions(): vscode.Disposable {
  return vscode.languages.registerCodeActionsProvider({ scheme: '*' }, new ActionCodeActionProvider(), {
    providedCodeActionKinds: ActionCodeActionProvider.kinds,
  });
}
