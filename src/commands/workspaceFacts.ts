// What Write tests needs to know about the workspace: its files (a sample), the nearest package.json, the
// Python test configuration, and the first lines of a few existing test files (their imports tell the
// framework and style).
import * as path from 'path';
import * as vscode from 'vscode';
import type { WorkspaceFacts } from '../shared/commands/testFramework';

const EXCLUDE = '{**/node_modules/**,**/.git/**,**/out/**,**/dist/**,**/build/**,**/target/**,**/.venv/**,**/venv/**,**/__pycache__/**}';
const TEST_FILE = /(\.(test|spec)\.[cm]?[jt]sx?$|(^|\/)test_[^/]*\.py$|_test\.(py|go|rb|cpp|cc|c)$|_spec\.rb$|Tests?\.(java|kt|cs|swift|php)$)/;

async function readText(uri: vscode.Uri): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined;
  }
}

/** The workspace folder holding `source`, and the source's path relative to it ('/'-separated). */
export function workspaceRelative(source: vscode.Uri): { root: vscode.Uri; relative: string } {
  const folder = vscode.workspace.getWorkspaceFolder(source);
  if (folder) return { root: folder.uri, relative: path.posix.relative(folder.uri.path, source.path) };
  return { root: source.with({ path: path.posix.dirname(source.path) }), relative: path.posix.basename(source.path) };
}

export async function gatherWorkspaceFacts(source: vscode.Uri, languageId: string): Promise<WorkspaceFacts> {
  const { root, relative } = workspaceRelative(source);
  const folder = vscode.workspace.getWorkspaceFolder(source);
  const uris = folder ? await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*'), EXCLUDE, 5000) : [];
  const files = uris.map((u) => path.posix.relative(root.path, u.path));
  const facts: { -readonly [K in keyof WorkspaceFacts]: WorkspaceFacts[K] } = { files };
  // The nearest package.json above the source.
  for (let dir = path.posix.dirname(relative); ; dir = path.posix.dirname(dir)) {
    const rel = dir === '.' || dir === '' ? 'package.json' : `${dir}/package.json`;
    if (files.includes(rel) || (!folder && rel === 'package.json')) {
      const text = await readText(vscode.Uri.joinPath(root, rel));
      if (text) {
        try {
          const pkg = JSON.parse(text) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; scripts?: Record<string, string> };
          facts.packageDeps = { ...pkg.dependencies, ...pkg.devDependencies };
          facts.testScript = pkg.scripts?.test;
        } catch {
          // not JSON: ignore
        }
        break;
      }
    }
    if (dir === '.' || dir === '' || dir === '/') break;
  }
  if (languageId === 'python') {
    const names = files.filter((f) => /^(pyproject\.toml|setup\.cfg|tox\.ini|pytest\.ini|requirements[^/]*\.txt)$/.test(f));
    facts.pythonConfig = (await Promise.all(names.map((n) => readText(vscode.Uri.joinPath(root, n))))).join('\n');
  }
  const samples = files.filter((f) => TEST_FILE.test(f)).slice(0, 3);
  facts.testSamples = (await Promise.all(samples.map((f) => readText(vscode.Uri.joinPath(root, f))))).map((t) => (t ?? '').split('\n').slice(0, 30).join('\n'));
  return facts;
}
