import * as assert from 'node:assert/strict';
import { EXTENSION_ID, activeExtension } from './util';

suite('extension', () => {
  test('is present and activates', async () => {
    const ext = await activeExtension();
    assert.equal(ext.id, EXTENSION_ID);
    assert.equal(ext.isActive, true);
  });
});
