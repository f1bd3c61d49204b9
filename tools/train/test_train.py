"""CPU tests of the training recipe's pieces:  /work/venv-train/bin/python -m unittest tools/train/test_train.py"""

import os
import random
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import fast_scan  # noqa: E402
import train  # noqa: E402

CODE = [
    "function add(a, b) {\n  return a + b;\n}\n\nexport const x = add(1, 2);\n",
    "import fs from 'node:fs';\nconst data = fs.readFileSync('a.json', 'utf8');\nconsole.log(JSON.parse(data));\n",
    "class A {\n  constructor() {\n    this.items = [];\n  }\n  push(v) {\n    this.items.push(v);\n  }\n}\n",
] * 20


class FastScan(unittest.TestCase):
    def test_matches_transformers_chunk_scan(self):
        from transformers.models.nemotron_h import modeling_nemotron_h as m
        torch.manual_seed(0)
        for (b, T, h, p, n, g, cs) in [(2, 300, 4, 16, 8, 1, 64), (1, 64, 4, 8, 8, 2, 64), (1, 5, 2, 8, 4, 1, 16)]:
            x = torch.randn(b, T, h, p); dt = torch.randn(b, T, h); A = -torch.rand(h) * 2
            B = torch.randn(b, T, g, n); C = torch.randn(b, T, g, n); D = torch.randn(h); dtb = torch.randn(h)
            init = torch.randn(b, h, p, n)
            for kw in ({}, {"initial_states": init}):
                args = dict(chunk_size=cs, D=D, dt_bias=dtb, dt_softplus=True, dt_limit=(1e-4, float("inf")),
                            return_final_states=True, **kw)
                y1, s1 = m.mamba2_chunk_scan(x, dt, A, B, C, **args)
                y2, s2 = fast_scan.fast_chunk_scan(x, dt, A, B, C, **args)
                self.assertEqual(y1.shape, y2.shape)
                torch.testing.assert_close(y2, y1, rtol=1e-4, atol=1e-4)
                torch.testing.assert_close(s2, s1, rtol=1e-4, atol=1e-4)

    def test_install_and_restore(self):
        from transformers.models.nemotron_h import modeling_nemotron_h as m
        orig = m.mamba2_chunk_scan
        restore = fast_scan.install()
        self.assertIs(m.mamba2_chunk_scan, fast_scan.fast_chunk_scan)
        restore()
        self.assertIs(m.mamba2_chunk_scan, orig)


class Tokenizer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = train.build_tokenizer(CODE, 400, 1)

    def test_specials_first_and_single_ids(self):
        for i, s in enumerate(train.SPECIALS):
            self.assertEqual(self.tok.token_to_id(s), i)
        ids = self.tok.encode("<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>").ids
        self.assertEqual(ids[0], train.FIM_PREFIX)
        self.assertIn(train.FIM_SUFFIX, ids)
        self.assertEqual(ids[-1], train.FIM_MIDDLE)

    def test_ignore_merges_like_llama_cpp(self):
        import json
        # llama.cpp tokenizes "llama3" vocabularies with ignore_merges: a word found whole is one token
        self.assertTrue(json.loads(self.tok.to_str())["model"]["ignore_merges"])

    def test_roundtrip_and_llama3_split(self):
        for s in train.TOKENIZER_CHECK:
            self.assertEqual(self.tok.decode(self.tok.encode(s).ids, skip_special_tokens=False), s)
        pre = self.tok.pre_tokenizer.pre_tokenize_str("I'M 12345 foo\n\n  bar")
        pieces = [p for p, _ in pre]
        # llama3 regex: case-insensitive contraction, digits in groups of 3, newlines separate; ByteLevel maps ' ' -> 'Ġ'
        self.assertEqual(pieces[:5], ["I", "'M", "Ġ", "123", "45"])
        self.assertIn("Ċ", "".join(pieces))

    def test_tokenizer_check_file(self):
        import json, tempfile
        with tempfile.TemporaryDirectory() as d:
            train.tokenizer_check(self.tok, d)
            with open(os.path.join(d, "tokenizer-check.json")) as f:
                j = json.load(f)
            self.assertEqual(j["pre"], "llama3")
            self.assertEqual(len(j["cases"]), len(train.TOKENIZER_CHECK))
            self.assertTrue(all(c["roundtrip"] for c in j["cases"]))


class Data(unittest.TestCase):
    def test_fim_split_reassembles(self):
        rng = random.Random(3)
        for _ in range(500):
            t = CODE[rng.randrange(3)]
            p, m, s = train.fim_split(t, rng)
            self.assertEqual(p + m + s, t)

    def test_epoch_has_fim_and_plain(self):
        tok = train.build_tokenizer(CODE, 400, 1)
        stream = train.make_epoch(tok, CODE, random.Random(5), 256, 0.5).tolist()
        n_eot = stream.count(train.EOT)
        n_fim = stream.count(train.FIM_PREFIX)
        self.assertEqual(n_eot, len(CODE))
        self.assertGreater(n_fim, 10)
        self.assertLess(n_fim, len(CODE) - 10)
        self.assertEqual(stream.count(train.FIM_MIDDLE), n_fim)
        # PSM order within every FIM example
        i = stream.index(train.FIM_PREFIX)
        j = stream.index(train.FIM_SUFFIX, i)
        k = stream.index(train.FIM_MIDDLE, j)
        self.assertLess(k, stream.index(train.EOT, k))

    def test_model_sizes_quantizable(self):
        for name, c in train.CONFIGS.items():
            self.assertEqual(c["hidden_size"] % 256, 0, name)
            self.assertEqual(c["intermediate_size"] % 256, 0, name)
            self.assertEqual((c["mamba_num_heads"] * c["mamba_head_dim"]) % 256, 0, name)


class Evaluation(unittest.TestCase):
    def test_levenshtein_and_similarity(self):
        self.assertEqual(evaluate.levenshtein("kitten", "sitting"), 3)
        self.assertEqual(evaluate.levenshtein("", "abc"), 3)
        self.assertEqual(evaluate.edit_similarity("abc  ", "abc"), 1.0)
        self.assertAlmostEqual(evaluate.edit_similarity("abcd", "abxd"), 0.75)
        self.assertEqual(evaluate.edit_similarity("", "xy"), 0.0)

    def test_positions(self):
        rows = [{"package": "p", "path": f"f{i}.js", "text": t} for i, t in enumerate(CODE[:3])]
        pos = evaluate.sample_positions(rows, 50, 7)
        self.assertEqual(len(pos), 50)
        for p in pos:
            self.assertTrue(p["target"].strip())
            text = next(r["text"] for r in rows if r["path"] == p["path"])
            self.assertTrue(text.startswith(p["prefix"] + p["target"]))
            self.assertTrue(text.endswith(p["suffix"]))
            self.assertNotIn("\n", p["target"])
        self.assertEqual(pos, evaluate.sample_positions(rows, 50, 7))

    def test_indent_baseline(self):
        p = {"typed_in_line": "  ", "prev_indent": "    "}
        self.assertEqual(evaluate.baseline_indent(p, ";"), "  ;")
        p = {"typed_in_line": "  foo", "prev_indent": "    "}
        self.assertEqual(evaluate.baseline_indent(p, ";"), ";")

    def test_bigram(self):
        tok = train.build_tokenizer(CODE, 400, 1)
        bg = evaluate.Bigram(tok, CODE, 10_000_000)
        stop = set(evaluate.newline_token_ids(tok)) | {0}
        ids = tok.encode("  return a", add_special_tokens=False).ids
        out = bg.complete(tok, ids, stop)
        self.assertTrue(out.startswith(" + b"), out)
        self.assertNotIn("\n", out)
        # a last token never seen in training: no prediction
        self.assertEqual(bg.complete(tok, [tok.token_to_id("<|fim_pad|>")], stop), "")


if __name__ == "__main__":
    unittest.main()
