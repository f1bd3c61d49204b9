// Incremental tokenization (native/src/tokenizer/incremental.h) equals a full tokenization of the edited
// text after thousands of random edits on real source files, for every pre-tokenizer we support.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { hybridCli, repoRoot, runSync } from '../fixtures/hybrid-cli';
import { vocabFixtures, writeVocabGguf } from '../fixtures/tokenizer/vocabs';

const corpusDir = path.join(repoRoot, 'test', 'corpus', 'tokenizer');
const files = fs.readdirSync(corpusDir).filter((f) => /^code\.|\.html$|\.md$/.test(f)).map((f) => path.join(corpusDir, f));

for (const fixture of vocabFixtures()) {
  test(`incremental tokenization equals full tokenization under random edits: ${fixture.name}`, () => {
    const cli = hybridCli();
    assert.ok(cli, 'the hybrid CLI is not built');
    const gguf = writeVocabGguf(fixture);
    let checks = 0;
    let fraction = 0;
    files.forEach((file, i) => {
      const r = runSync(cli, ['edit-tokens', gguf, '--file', file, '--edits', '400', '--seed', String(i + 1), '--json']);
      assert.ok(r.stdout, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.mismatches, 0, `${path.basename(file)}: ${out.first_error}`);
      assert.equal(r.status, 0, r.stderr);
      checks += out.checks;
      fraction += out.tokenized_fraction / files.length;
    });
    assert.ok(checks >= 400 * files.length);
    // Random edits anywhere in the file invalidate the cache often; typing at one place keeps it (see
    // the completion benchmark). Reported, not asserted.
    console.log(`# ${fixture.name}: ${checks} edits on ${files.length} files, all equal; ${(fraction * 100).toFixed(1)}% of prefix bytes tokenized per request`);
  });
}
