import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activeExtension, runtimeInfo } from './util';

suite('runtime', () => {
  test('showRuntimeInfo returns addon, cpu, cuda and worker info', async () => {
    await activeExtension();
    const info = await runtimeInfo();
    assert.equal(typeof info.addonVersion, 'string', 'addonVersion is a string');
    assert.ok(info.addonVersion.length > 0, 'addonVersion is not empty');
    assert.ok(info.cpu && Array.isArray(info.cpu.features), 'cpu.features is an array');
    assert.ok('cuda' in info, 'cuda is reported');
    assert.ok(info.worker && typeof info.worker.pid === 'number', 'worker.pid is a number');
    assert.notEqual(info.worker.pid, process.pid, 'worker runs in its own process');
  });

  test('restartRuntime starts a new worker process', async () => {
    await activeExtension();
    const before = await runtimeInfo();
    await vscode.commands.executeCommand('hybridCopilot.restartRuntime');
    const after = await runtimeInfo();
    assert.equal(typeof after.worker.pid, 'number');
    assert.notEqual(after.worker.pid, before.worker.pid, 'worker pid changed after restart');
    assert.notEqual(after.worker.pid, process.pid);
  });
});
