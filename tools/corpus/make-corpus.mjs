#!/usr/bin/env node
// Builds the training corpus for the small built-in code model (issue 14).
//
// Collects hand-written JavaScript/TypeScript sources of permissively licensed npm packages
// (MIT, Apache-2.0, BSD-2-Clause, BSD-3-Clause, ISC) from node_modules folders, skips minified,
// bundled and generated files, dedupes by content hash, splits BY PACKAGE into train / held-out and
// writes gzipped JSONL files plus a manifest. No dependencies besides Node 20.
//
// Usage:
//   node tools/corpus/make-corpus.mjs [--out .train-data] [--node-modules DIR]... \
//        [--extra "pkg1 pkg2 ..."] [--heldout-percent 5] [--max-package-bytes 3000000] [--summary FILE]
// --extra installs those packages from the npm registry (npm install --ignore-scripts) into a temporary
// folder and adds its node_modules as another source.

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALLOWED = new Set(['MIT', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', 'ISC']);
const EXTENSIONS = ['.ts', '.tsx', '.js', '.mjs'];
const MAX_FILE_BYTES = 200_000;   // larger files are almost always generated (parsers, tables, bundles)
const MIN_FILE_BYTES = 200;       // tiny re-export stubs teach nothing
const MAX_LINE_CHARS = 300;       // minified / generated code has very long lines
const MAX_MEAN_LINE = 80;         // ... or a long average line

/** Parses "MIT", "(MIT OR Apache-2.0)", "(MIT AND ISC)": OR needs one allowed, AND needs all. Returns the
 * license to record, or null when the package is not usable. */
export function acceptLicense(raw) {
  if (raw == null) return null;
  let s = raw;
  if (typeof s === 'object') s = Array.isArray(s) ? s.map((x) => (x && x.type) || x).join(' OR ') : s.type;
  if (typeof s !== 'string') return null;
  s = s.trim().replace(/^\((.*)\)$/, '$1').trim();
  if (ALLOWED.has(s)) return s;
  if (/\bAND\b/.test(s)) {
    const parts = s.split(/\s+AND\s+/).map((x) => x.replace(/[()]/g, '').trim());
    return parts.every((p) => ALLOWED.has(p)) ? s : null;
  }
  if (/\bOR\b/.test(s)) {
    const parts = s.split(/\s+OR\s+/).map((x) => x.replace(/[()]/g, '').trim());
    const ok = parts.find((p) => ALLOWED.has(p));
    return ok ?? null;
  }
  return null;
}

/** Why a file is skipped (a string) or null when it is kept. */
export function rejectReason(relPath, text) {
  const base = path.basename(relPath);
  if (/\.d\.ts$/.test(base) || /\.d\.mts$/.test(base)) return 'declaration';
  if (/\.min\.m?js$/.test(base) || /[.-](bundle|umd|browser|esm\.browser|global|iife)\.m?js$/.test(base)) return 'minified-or-bundle';
  if (/(^|\/)(test|tests|__tests__|spec|fixtures?|benchmark|bench|example|examples|coverage)\//.test(relPath)) return 'test-or-fixture';
  if (text.length > MAX_FILE_BYTES) return 'too-large';
  if (text.length < MIN_FILE_BYTES) return 'too-small';
  if (text.includes('\u0000')) return 'binary';
  const lines = text.split('\n');
  let max = 0;
  for (const l of lines) if (l.length > max) max = l.length;
  if (max > MAX_LINE_CHARS) return 'long-lines';
  if (text.length / lines.length > MAX_MEAN_LINE) return 'long-lines';
  if (/__webpack_require__|webpackBootstrap|\/\*{6}\/|System\.register\(|__commonJS\(|__toESM\(/.test(text)) return 'generated-bundle';
  if (/^\s*\/\/# sourceMappingURL=data:/m.test(text)) return 'inline-sourcemap';
  if (/^(\/\/|\/\*|\s\*)\s*(@generated|Code generated|This file is (auto-?)?generated|DO NOT EDIT)/im.test(text.slice(0, 2000))) return 'generated';
  return null;
}

/** Stable split: a package goes to held-out when the first 4 bytes of sha256("split:" + name) fall in the percent. */
export function isHeldout(name, percent) {
  const h = crypto.createHash('sha256').update('split:' + name).digest();
  return (h.readUInt32BE(0) % 10000) < percent * 100;
}

function* findPackages(nodeModules) {
  let entries;
  try { entries = fs.readdirSync(nodeModules, { withFileTypes: true }); } catch { return; }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const p = path.join(nodeModules, e.name);
    if (e.name.startsWith('@')) { yield* findPackages(p); continue; }
    const pj = path.join(p, 'package.json');
    if (fs.existsSync(pj)) {
      yield p;
      yield* findPackages(path.join(p, 'node_modules'));
    }
  }
}

function* walkFiles(dir, rel = '') {
  let entries;
  try { entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }); } catch { return; }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? rel + '/' + e.name : e.name;
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      yield* walkFiles(dir, r);
    } else if (e.isFile() && EXTENSIONS.some((x) => e.name.endsWith(x))) {
      yield r;
    }
  }
}

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, '../..');
  const a = { out: path.join(root, '.train-data'), nodeModules: [], extra: '', heldoutPercent: 5, maxPackageBytes: 3_000_000,
    summary: path.join(here, 'SUMMARY.md'), root };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--out') { a.out = path.resolve(v); i++; }
    else if (k === '--node-modules') { a.nodeModules.push(path.resolve(v)); i++; }
    else if (k === '--extra') { a.extra = v; i++; }
    else if (k === '--heldout-percent') { a.heldoutPercent = Number(v); i++; }
    else if (k === '--max-package-bytes') { a.maxPackageBytes = Number(v); i++; }
    else if (k === '--summary') { a.summary = path.resolve(v); i++; }
    else { console.error('unknown argument ' + k); process.exit(2); }
  }
  if (a.nodeModules.length === 0) a.nodeModules.push(path.join(root, 'node_modules'));
  return a;
}

function main() {
  const args = parseArgs(process.argv);
  const sources = [...args.nodeModules];
  let tmp = null;
  if (args.extra.trim()) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-extra-'));
    fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'corpus-extra', private: true }));
    const pkgs = args.extra.trim().split(/\s+/);
    console.log(`installing ${pkgs.length} extra packages into ${tmp}`);
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...pkgs],
      { cwd: tmp, stdio: 'inherit' });
    sources.push(path.join(tmp, 'node_modules'));
  }

  const seenHash = new Set();
  const seenPkg = new Set();
  const skipped = {};
  const skippedPkgs = {};
  const records = [];
  for (const nm of sources) {
    for (const dir of findPackages(nm)) {
      let pj;
      try { pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')); } catch { continue; }
      if (!pj.name || !pj.version) continue;
      const key = pj.name + '@' + pj.version;
      if (seenPkg.has(key)) continue;
      seenPkg.add(key);
      const license = acceptLicense(pj.license ?? pj.licenses);
      if (!license) {
        const l = typeof pj.license === 'string' ? pj.license : JSON.stringify(pj.license ?? pj.licenses ?? null);
        skippedPkgs[l] = (skippedPkgs[l] || 0) + 1;
        continue;
      }
      let pkgBytes = 0;
      for (const rel of walkFiles(dir)) {
        let text;
        try { text = fs.readFileSync(path.join(dir, rel), 'utf8'); } catch { continue; }
        text = text.replace(/\r\n/g, '\n');
        const why = rejectReason(rel, text);
        if (why) { skipped[why] = (skipped[why] || 0) + 1; continue; }
        const sha256 = crypto.createHash('sha256').update(text).digest('hex');
        if (seenHash.has(sha256)) { skipped.duplicate = (skipped.duplicate || 0) + 1; continue; }
        if (pkgBytes + text.length > args.maxPackageBytes) { skipped['package-cap'] = (skipped['package-cap'] || 0) + 1; continue; }
        seenHash.add(sha256);
        pkgBytes += text.length;
        const split = isHeldout(pj.name, args.heldoutPercent) ? 'heldout' : 'train';
        records.push({ package: pj.name, version: pj.version, license, path: rel, sha256, bytes: Buffer.byteLength(text), split, text });
      }
    }
  }

  fs.mkdirSync(args.out, { recursive: true });
  const write = (file, rows) => {
    const body = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
    const gz = zlib.gzipSync(Buffer.from(body), { level: 9 });
    fs.writeFileSync(path.join(args.out, file), gz);
    return gz.length;
  };
  const strip = ({ text, ...m }) => m;
  const train = records.filter((r) => r.split === 'train');
  const held = records.filter((r) => r.split === 'heldout');
  const sizes = {
    'corpus-train.jsonl.gz': write('corpus-train.jsonl.gz', train.map(({ split, ...r }) => r)),
    'corpus-heldout.jsonl.gz': write('corpus-heldout.jsonl.gz', held.map(({ split, ...r }) => r)),
    'manifest.jsonl.gz': write('manifest.jsonl.gz', records.map(strip)),
  };
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });

  // Summary (committed; no corpus text).
  const byLicense = {};
  const byPkg = {};
  for (const r of records) {
    const l = (byLicense[r.license] ||= { files: 0, bytes: 0, packages: new Set() });
    l.files++; l.bytes += r.bytes; l.packages.add(r.package);
    const p = (byPkg[r.package] ||= { files: 0, bytes: 0, license: r.license, version: r.version, split: r.split });
    p.files++; p.bytes += r.bytes;
  }
  const sum = (rs) => rs.reduce((s, r) => s + r.bytes, 0);
  const pkgCount = (rs) => new Set(rs.map((r) => r.package)).size;
  const mb = (b) => (b / 1048576).toFixed(2);
  const lines = [];
  lines.push('# Corpus summary (generated by tools/corpus/make-corpus.mjs)', '');
  lines.push(`Sources: ${sources.map((s) => (tmp && s.startsWith(tmp) ? 'a temporary `npm install` from the registry' : path.relative(args.root, s) || s)).join(', ')}${args.extra.trim() ? ` (extra: ${args.extra.trim()})` : ''}.`);
  lines.push(`Licenses accepted: ${[...ALLOWED].join(', ')} (SPDX OR: one allowed alternative suffices; AND: all must be allowed).`);
  lines.push(`Extensions: ${EXTENSIONS.join(', ')}; \`.d.ts\` skipped (declarations, mostly emitted by tsc, repeat the API without code).`);
  lines.push(`Skipped: minified/bundles, files > ${MAX_FILE_BYTES} B or < ${MIN_FILE_BYTES} B, any line > ${MAX_LINE_CHARS} chars or mean line > ${MAX_MEAN_LINE}, webpack/esbuild bundles, generated markers, test/fixture/example folders; at most ${args.maxPackageBytes} B per package; duplicates by sha256 of the text (CRLF normalized to LF).`);
  lines.push(`Split by package name (sha256("split:"+name), ${args.heldoutPercent}% held out): held-out packages never appear in training.`, '');
  lines.push('| split | packages | files | MiB (raw) |', '| --- | ---: | ---: | ---: |');
  lines.push(`| train | ${pkgCount(train)} | ${train.length} | ${mb(sum(train))} |`);
  lines.push(`| held-out | ${pkgCount(held)} | ${held.length} | ${mb(sum(held))} |`);
  lines.push(`| total | ${pkgCount(records)} | ${records.length} | ${mb(sum(records))} |`, '');
  lines.push('Compressed outputs (in `.train-data/`, not committed): ' + Object.entries(sizes).map(([k, v]) => `${k} ${mb(v)} MiB`).join(', ') + '.', '');
  lines.push('## Per license', '', '| license | packages | files | MiB |', '| --- | ---: | ---: | ---: |');
  for (const [k, v] of Object.entries(byLicense).sort((a, b) => b[1].bytes - a[1].bytes)) lines.push(`| ${k} | ${v.packages.size} | ${v.files} | ${mb(v.bytes)} |`);
  lines.push('', '## Packages skipped for their license', '', '| license field | packages |', '| --- | ---: |');
  for (const [k, v] of Object.entries(skippedPkgs).sort((a, b) => b[1] - a[1])) lines.push(`| ${k.replace(/\|/g, '\\|')} | ${v} |`);
  lines.push('', '## Files skipped', '', '| reason | files |', '| --- | ---: |');
  for (const [k, v] of Object.entries(skipped).sort((a, b) => b[1] - a[1])) lines.push(`| ${k} | ${v} |`);
  lines.push('', '## Top 40 packages by bytes', '', '| package | version | license | split | files | KiB |', '| --- | --- | --- | --- | ---: | ---: |');
  for (const [k, v] of Object.entries(byPkg).sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 40)) lines.push(`| ${k} | ${v.version} | ${v.license} | ${v.split} | ${v.files} | ${(v.bytes / 1024).toFixed(0)} |`);
  lines.push('', '## Held-out packages', '', Object.entries(byPkg).filter(([, v]) => v.split === 'heldout').map(([k, v]) => `${k}@${v.version} (${v.files} files)`).sort().join(', '), '');
  fs.writeFileSync(args.summary, lines.join('\n'));
  console.log(`train: ${pkgCount(train)} packages, ${train.length} files, ${mb(sum(train))} MiB; held-out: ${pkgCount(held)} packages, ${held.length} files, ${mb(sum(held))} MiB`);
  console.log('written: ' + Object.entries(sizes).map(([k, v]) => `${k} ${mb(v)} MiB`).join(', '));
  console.log('skipped files: ' + JSON.stringify(skipped));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
