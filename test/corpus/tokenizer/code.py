"""Byte-level BPE merges, written the plain way: a teaching example."""
from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Iterable

WORD = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\w+| ?\d+| ?[^\s\w\d]+|\s+(?!\S)|\s+")


@dataclass
class Bpe:
    merges: dict[tuple[str, str], int] = field(default_factory=dict)
    cache: dict[str, list[str]] = field(default_factory=dict)

    def encode_word(self, word: str) -> list[str]:
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.merges.get(p, float("inf")), i) for i, p in enumerate(zip(parts, parts[1:]))]
            rank, i = min(ranked)
            if rank == float("inf"):
                break
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        self.cache[word] = parts
        return parts

    def encode(self, text: str) -> Iterable[str]:
        for m in WORD.finditer(text):
            yield from self.encode_word(m.group(0))


def train(corpus: str, n_merges: int = 100) -> Bpe:
	counts = collections.Counter(m.group(0) for m in WORD.finditer(corpus))
	words = {tuple(w): c for w, c in counts.items()}
	bpe = Bpe()
	for rank in range(n_merges):
		pairs = collections.Counter()
		for w, c in words.items():
			for p in zip(w, w[1:]):
				pairs[p] += c
		if not pairs:
			break
		best = max(pairs, key=lambda p: (pairs[p], p))
		bpe.merges[best] = rank
		words = {_merge(w, best): c for w, c in words.items()}
	return bpe


def _merge(w: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(w):
        if i + 1 < len(w) and (w[i], w[i + 1]) == pair:
            out.append(w[i] + w[i + 1]); i += 2
        else:
            out.append(w[i]); i += 1
    return tuple(out)


if __name__ == "__main__":
    b = train("low lower lowest newer wider " * 10, 20)
    print(f"{len(b.merges)=}", list(b.encode("lowest newest")), sep="\n")
