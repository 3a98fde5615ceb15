"""Synthetic tasks built from the explainer's own examples, plus the adding problem.

- :class:`MemoryTask`: "Tom bir kedidir. <d distractor words> Tom'un en sevdiği yemek balıktır."
  The last word (the favourite food) follows only from the animal named d words earlier.
- :func:`adding_batch`: Hochreiter & Schmidhuber 1997, experiment 4 (as in Le, Jaitly & Hinton
  2015): a sum of two marked numbers among T.
- :class:`TreeOrFruitTask`: "Elma ağaçları uzundur": "Elma" is a tree or a fruit, decided only
  by the sentence's last word, so a left-to-right tagger cannot know it when it reads "Elma".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from rnnkit.data.batch import SequenceBatch

NAMES = ["Tom", "Ali", "Ayşe", "Can", "Elif", "Mert", "Zeynep", "Deniz"]
ANIMAL_FOOD = {"kedi": "balık", "köpek": "kemik", "tavşan": "havuç", "fare": "peynir",
               "kuş": "tohum", "inek": "ot", "maymun": "muz", "ayı": "bal"}
DISTRACTORS = ("bugün hava çok güzel ve sokakta çocuklar oynuyor akşam yağmur yağabilir "
               "pazar günü annesi onu parka götürdü orada bir top buldu sonra eve döndü "
               "komşular bahçede çay içti kitap okudu pencere açıktı rüzgar esti ağaçlar "
               "sallandı şehir kalabalık otobüs geç geldi").split()


@dataclass(frozen=True)
class MemoryTask:
    """Word-level sentences; the model reads up to "yemek" and must name the food."""

    def __post_init__(self) -> None:
        words = ["<pad>", *NAMES, "bir", *ANIMAL_FOOD, "dır", ".", "'un", "en", "sevdiği",
                 "yemek", *DISTRACTORS]
        object.__setattr__(self, "vocab", {w: i for i, w in enumerate(dict.fromkeys(words))})
        object.__setattr__(self, "foods", list(dict.fromkeys(ANIMAL_FOOD.values())))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def num_classes(self) -> int:
        return len(self.foods)

    def sentence(self, name: str, animal: str, filler: list[str]) -> list[str]:
        """The words read, up to the prediction point: the food comes next."""
        return [name, "bir", animal, "dır", ".", *filler, name, "'un", "en", "sevdiği", "yemek"]

    def distance(self, d: int) -> int:
        """Words between the animal and the prediction point, for d distractors."""
        return d + 8

    def batch(self, size: int, d: int, g: torch.Generator) -> SequenceBatch:
        """``size`` sentences with ``d`` distractor words each: ids (B, d+10), food ids (B,)."""
        animals = list(ANIMAL_FOOD)
        rows, labels = [], []
        for _ in range(size):
            name = NAMES[int(torch.randint(len(NAMES), (1,), generator=g))]
            animal = animals[int(torch.randint(len(animals), (1,), generator=g))]
            idx = torch.randint(len(DISTRACTORS), (d,), generator=g).tolist()
            words = self.sentence(name, animal, [DISTRACTORS[i] for i in idx])
            rows.append([self.vocab[w] for w in words])
            labels.append(self.foods.index(ANIMAL_FOOD[animal]))
        return SequenceBatch(torch.tensor(rows), torch.tensor(labels))


def adding_batch(size: int, T: int, g: torch.Generator) -> SequenceBatch:
    """x (B, T, 2): values U(0, 1) and a marker channel with one 1 in each half; y = sum (B, 1).

    Predicting the mean 1.0 gives MSE ~ 1/6 ~ 0.167; below 0.01 needs both marked values.
    """
    values = torch.rand(size, T, generator=g)
    first = torch.randint(0, T // 2, (size,), generator=g)
    second = torch.randint(T // 2, T, (size,), generator=g)
    marks = torch.zeros(size, T)
    rows = torch.arange(size)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = torch.stack([values, marks], dim=-1)                          # (B, T, 2)
    return SequenceBatch(x, (values * marks).sum(1, keepdim=True))    # (B, 1)


TREES = ["elma", "armut", "kiraz", "erik", "ayva", "incir"]
TREE_ENDINGS = ["uzundur", "yeşildir", "yaşlıdır", "gölgelidir"]    # the trees are tall ...
FRUIT_ENDINGS = ["tatlıdır", "sulu", "ekşidir", "olgundur"]         # the fruit is sweet ...
MIDDLE = ["bahçedeki", "köydeki", "bu", "şu", "yaşlı", "genç", "büyük", "küçük", "dağdaki",
          "evin", "yanındaki", "her", "yıl", "çok"]
TAGS = ["O", "AĞAÇ", "MEYVE"]


@dataclass(frozen=True)
class TreeOrFruitTask:
    """"<X> <middle words> <ending>": every X is tagged AĞAÇ (tree) or MEYVE (fruit) by the
    ending, which comes ``middle`` words later; every other word is tagged O."""

    middle: int = 4   # words between the ambiguous word and the ending that resolves it

    def __post_init__(self) -> None:
        words = ["<pad>", *TREES, *TREE_ENDINGS, *FRUIT_ENDINGS, *MIDDLE]
        object.__setattr__(self, "vocab", {w: i for i, w in enumerate(words)})

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def batch(self, size: int, g: torch.Generator) -> SequenceBatch:
        """ids (B, middle + 2) and tags (B, middle + 2); tag ids index TAGS."""
        rows, tags = [], []
        for _ in range(size):
            tree = TREES[int(torch.randint(len(TREES), (1,), generator=g))]
            is_tree = bool(torch.randint(2, (1,), generator=g))
            endings = TREE_ENDINGS if is_tree else FRUIT_ENDINGS
            ending = endings[int(torch.randint(len(endings), (1,), generator=g))]
            middle = [MIDDLE[i] for i in torch.randint(len(MIDDLE), (self.middle,),
                                                       generator=g).tolist()]
            words = [tree, *middle, ending]
            rows.append([self.vocab[w] for w in words])
            tags.append([1 if is_tree else 2] + [0] * (len(words) - 1))
        return SequenceBatch(torch.tensor(rows), torch.tensor(tags))


def forever(make, *args) -> Iterator[SequenceBatch]:
    """Batches without end from ``make(*args)`` (the Trainer takes as many as it needs)."""
    while True:
        yield make(*args)



