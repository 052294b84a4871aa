"""The built-in model's vocabulary: prompt -> token ids, with the words it does not know reported by name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from engine.sdpixl.builtin.model import PAD, START

# Words that carry no picture (the training captions never contain them): dropped, never reported as unknown.
STOPWORDS = frozenset("a an the of with and or in on at to for by from its it is as this that".split())
NEAREST = 3  # nearest known words offered for an unknown one


def prompt_words(prompt: str) -> list[str]:
    """Lower-case alphanumeric words of a prompt, stop words dropped (the training captions' tokenisation)."""
    return [w for w in re.split(r"[^a-z0-9]+", prompt.lower()) if w and w not in STOPWORDS]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: 1 each)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class Encoded:
    """A prompt as the model reads it: token ids (START first, padded), the words used and those left out."""

    ids: list[int]
    known: list[str]
    unknown: list[str]


class Vocabulary:
    """The words of the training captions (index 0 padding, 1 the start token)."""

    def __init__(self, words: list[str], max_words: int) -> None:
        self.words = list(words)
        self.max_words = max_words
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def load(cls, path: str | Path, max_words: int) -> "Vocabulary":
        """Read ``vocab.json`` (a JSON list of words)."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), max_words)

    def __len__(self) -> int:
        """Number of real words (padding and start token not counted)."""
        return len(self.words) - 2

    def __contains__(self, word: str) -> bool:
        return self.lookup(word) is not None

    def lookup(self, word: str) -> str | None:
        """The known form of ``word``: itself, or its singular for a simple plural ("apples" -> "apple")."""
        if word in self.index and self.index[word] > START:
            return word
        for suffix, repl in (("ies", "y"), ("es", ""), ("s", "")):
            if word.endswith(suffix) and word[: -len(suffix)] + repl in self.index:
                return word[: -len(suffix)] + repl
        return None

    def nearest(self, word: str, n: int = NEAREST) -> list[str]:
        """The ``n`` known words closest to ``word`` by edit distance (ties: shorter, then alphabetical)."""
        known = self.words[START + 1:]
        return sorted(known, key=lambda w: (edit_distance(word, w), len(w), w))[:n]

    def encode(self, prompt: str) -> Encoded:
        """Token ids for ``prompt`` (unknown words left out, at most ``max_words`` words)."""
        known, unknown = [], []
        for w in prompt_words(prompt):
            k = self.lookup(w)
            if k is None:
                unknown.append(w)
            elif k not in known:
                known.append(k)
        known = known[: self.max_words]
        ids = [START] + [self.index[w] for w in known]
        return Encoded(ids + [PAD] * (self.max_words + 1 - len(ids)), known, unknown)

    def unknown_message(self, unknown: list[str]) -> str:
        """"the built-in model knows N words; 'zeppelin' is not one of them (nearest: ...)"."""
        quoted = [f"'{w}'" for w in unknown]
        if len(unknown) == 1:
            return (f"the built-in model knows {len(self)} words; {quoted[0]} is not one of them "
                    f"(nearest: {', '.join(self.nearest(unknown[0]))})")
        near = "; ".join(f"to {q}: {', '.join(self.nearest(w))}" for q, w in zip(quoted, unknown))
        return (f"the built-in model knows {len(self)} words; {', '.join(quoted[:-1])} and {quoted[-1]} are not "
                f"among them (nearest {near})")
