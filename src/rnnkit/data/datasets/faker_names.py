"""First names by locale, read from the person providers of the ``faker`` package as files.

``faker/providers/person/<locale>/__init__.py`` defines ``first_names_male``,
``first_names_female`` (and in some locales ``_unisex`` / ``_nonbinary``) as tuples, lists or
``OrderedDict``s of ``(name, weight)``. The file is parsed with :mod:`ast`, never imported or
executed: every string constant assigned to a ``first_names*`` name is a first name.

For classification (:func:`names_by_locale`), a name that occurs in two or more of the chosen
locales (``Anna``, ``Maria``) is dropped everywhere, so each remaining name has one true locale.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from rnnkit.data.datasets.dataset import Split
from rnnkit.errors import RnnkitError

# 14 Latin-script locales with >= 100 first names each once shared names are dropped (faker
# 40.x: 5,974 names, from 107 fr_FR to 1,479 tr_TR). A different script (ru_RU, ja_JP) would
# make the task a script detector.
LOCALES = ("da_DK", "de_DE", "en_US", "fi_FI", "fr_FR", "id_ID", "it_IT", "lv_LV", "nl_NL",
           "pt_BR", "ro_RO", "sk_SK", "sv_SE", "tr_TR")


def first_names(provider_file: str | Path) -> set[str]:
    """Every first name a Faker person provider file defines."""
    tree = ast.parse(Path(provider_file).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not any(t.startswith("first_names") for t in targets):
            continue
        for leaf in ast.walk(node.value):
            if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) and leaf.value:
                names.add(leaf.value.strip())
    return {n for n in names if n}


def names_by_locale(person_dir: str | Path, locales=LOCALES) -> Split:
    """(name, locale) examples, names shared by two or more locales removed, sorted order."""
    person_dir = Path(person_dir)
    per_locale = {}
    for locale in locales:
        path = person_dir / locale / "__init__.py"
        if not path.is_file():
            raise RnnkitError(f"faker has no person provider for locale {locale!r} ({path})")
        per_locale[locale] = first_names(path)
    counts = Counter(n for names in per_locale.values() for n in names)
    pairs = sorted((n, loc) for loc, names in per_locale.items() for n in names if counts[n] == 1)
    return Split(tuple(n for n, _ in pairs), tuple(loc for _, loc in pairs))
