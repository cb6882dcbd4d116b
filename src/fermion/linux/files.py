"""Files an agent renders for a daemon (dnsmasq's hosts/opts, haproxy's config)."""

from __future__ import annotations

import os
from pathlib import Path


def replace_if_different(path: str | os.PathLike, text: str, *, mode: int = 0o644) -> bool:
    """Make ``path`` hold exactly ``text``; True if it was written.

    A file already holding the text is not touched (its daemon need not reload). Otherwise
    the text goes to a temporary file next to it, which then replaces it in one rename, so a
    daemon re-reading it never sees half a file. Missing parent directories are made; the
    file gets ``mode`` (readable by daemons that drop privileges, such as dnsmasq).
    """
    path = Path(path)
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True
