"""The tagger: one tag per real token, padding-invariant, characters for unseen words, and a
bidirectional tagger that solves what a left-to-right one cannot."""

import numpy as np
import pytest
import torch

from rnnkit.data.codec import UNSEEN, TagCodec
from rnnkit.data.padded import IGNORE, PaddedBatches, pad_batch
from rnnkit.models.tagger import Tagger, TaggerConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer
from rnnkit.train.losses import tag_loss


def test_codec_packs_word_and_character_ids():
    codec = TagCodec.fit([("The", "dog")], [("DET", "NOUN")], max_word_len=3)
    x = codec.encode(["the", "doggo", "zebra"])
    assert x.shape == (3, 4)
    assert x[0, 0] == x[0, 0] and x[2, 0] == 1               # "zebra" is an unknown word
    assert (x[1, 1:] > 1).all() and x[2, 1] == 1              # 'z' is an unknown character
    assert codec.encode_tags(["DET", "ADJ"]).tolist() == [codec.labels.index("DET"), UNSEEN]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tags_do_not_depend_on_padding(cell):
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(num_tags=4, vocab_size=30, char_vocab_size=20, word_embed=8,
                                char_embed=4, char_hidden=4, hidden_size=8, cell=cell)).eval()
    seqs = [torch.cat([torch.randint(2, 30, (n, 1)), torch.randint(1, 20, (n, 5))], -1)
            for n in (6, 2)]
    batch = pad_batch(seqs, [torch.zeros(6, dtype=torch.long), torch.zeros(2, dtype=torch.long)])
    assert batch.targets[1, 2:].eq(IGNORE).all()
    together, _ = model(batch.inputs, lengths=batch.lengths)
    alone, _ = model(seqs[1][None], lengths=torch.tensor([2]))
    assert torch.allclose(together[1, :2], alone[0], atol=1e-5)


def _next_token_task(n=300, seed=0):
    """Tag of token t = whether token t+1 is 'a': only the right context tells."""
    rng = np.random.default_rng(seed)
    inputs, targets = [], []
    for _ in range(n):
        T = int(rng.integers(3, 9))
        words = rng.integers(2, 6, size=T)                       # id 2 is 'a'
        tags = np.append(words[1:] == 2, False).astype(np.int64)
        chars = np.ones((T, 2), dtype=np.int64)
        inputs.append(torch.from_numpy(np.concatenate([words[:, None], chars], 1)))
        targets.append(torch.from_numpy(tags))
    return inputs, targets


def _accuracy(bidirectional: bool) -> float:
    inputs, targets = _next_token_task()
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(num_tags=2, vocab_size=6, char_vocab_size=3, word_embed=8,
                                char_hidden=0, hidden_size=12, bidirectional=bidirectional,
                                dropout=0.0, word_dropout=0.0))
    Trainer(model, TrainConfig(steps=120, lr=1e-2, warmup_steps=10, eval_every=0),
            tag_loss).fit(PaddedBatches(inputs, targets, 32), progress=False)
    model.eval()
    b = pad_batch(inputs, targets)
    keep = b.targets != IGNORE
    right = (model(b.inputs, lengths=b.lengths)[0].argmax(-1) == b.targets) & keep
    return float(right.sum() / keep.sum())


def test_bidirectional_tagger_reads_the_right_context():
    assert _accuracy(True) > 0.97
    assert _accuracy(False) < 0.85
