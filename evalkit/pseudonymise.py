"""Pseudonymisation: identifiers become keyed hashes (HMAC-SHA256) under a key the user owns.

The key is 32 random bytes created on first use at ``~/.config/evalkit/pseudonymisation.key``
(or ``$EVALKIT_KEY_FILE``), outside any project folder, readable by its owner only. It is
never logged and never written next to the data; the manifest records only a key id
(a one-way fingerprint) so two datasets can be seen to share a key. Without the key
nobody — including a report reader — can go from a pseudonym back to the organisation's
own code; with the key, the same code always gives the same pseudonym, so datasets
cleaned at different times link up.

The hashed text is ``"<source>:<raw identifier>"``: the same family code in two
organisations gives two different pseudonyms.

Examples
--------
>>> import pandas as pd
>>> key = bytes(range(32))
>>> pseudonyms(pd.Series(["СР-00017", "СР-00017", None]), "org_a", key, "f").tolist()
['f_3267a2b9fe68c19a296d', 'f_3267a2b9fe68c19a296d', None]
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import UserError

__all__ = ["key_path", "load_key", "key_id", "pseudonyms", "HEX_DIGITS"]

log = logging.getLogger("evalkit")

#: 20 hex digits = 80 bits: collisions are negligible even for tens of millions of ids
HEX_DIGITS = 20


def key_path() -> Path:
    env = os.environ.get("EVALKIT_KEY_FILE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "evalkit" / "pseudonymisation.key"


def load_key(path: Path | None = None, create: bool = True) -> bytes:
    """The user's key; created (and said so, without the key) when missing and ``create``."""
    path = Path(path) if path else key_path()
    if path.is_file():
        text = path.read_text(encoding="ascii", errors="replace").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise UserError(f"{path}: файл ключа повреждён / the pseudonymisation key file is not a hex key") from None
        if len(key) < 16:
            raise UserError(f"{path}: ключ слишком короткий / the pseudonymisation key is too short")
        return key
    if not create:
        raise UserError(f"нет ключа псевдонимизации / no pseudonymisation key at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    log.warning("created a new pseudonymisation key at %s — keep it safe and out of the project: "
                "the same key is needed to link later cleanings to this one", path)
    return key


def key_id(key: bytes) -> str:
    """A one-way fingerprint of the key, safe to record in a manifest."""
    return hashlib.sha256(b"evalkit key id\0" + key).hexdigest()[:12]


def pseudonyms(values: pd.Series, source: str, key: bytes, prefix: str) -> pd.Series:
    """``prefix_`` + HMAC-SHA256(key, "source:value") in hex; None stays None. Distinct values only."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mac = hmac.new(key, digestmod=hashlib.sha256)
    hashed = []
    for u in uniques:
        m = mac.copy()
        m.update(f"{source}:{u}".encode("utf-8"))
        hashed.append(f"{prefix}_{m.hexdigest()[:HEX_DIGITS]}")
    table = np.array(hashed + [None], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype=object)
