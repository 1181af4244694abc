"""Learner tokens for the self-check server (``l2course tokens issue|list|revoke``).

The instructor issues one random token per learner and hands it out (by e-mail, the LMS…); the
learner pastes it into the upload page (or opens ``/?token=…``). The server then knows whose
attempt it is — for the rate limit and the instructor's attempt counts — without accounts.

Only a SHA-256 of each token is stored, in ``<state dir>/tokens.json`` (default
``<course root>/check-server/``), so the file is no use to someone who copies it. Tokens are
printed once, when issued; a lost token is replaced by issuing it again (the old one stops
working).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .submissions import STUDENT_ID

TOKENS_FILE = "tokens.json"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class TokenStore:
    """``{learner: {"sha256": …, "issued": …}}`` in ``<state>/tokens.json``."""

    path: Path

    @classmethod
    def in_dir(cls, state: Path) -> TokenStore:
        return cls(Path(state) / TOKENS_FILE)

    def load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text(encoding="utf-8")))

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def issue(self, learners: list[str]) -> dict[str, str]:
        """A fresh token for each learner (replacing any earlier one); returns them in clear."""
        bad = [name for name in learners if not STUDENT_ID.match(name)]
        if bad:
            raise ValueError(f"invalid learner id(s): {', '.join(bad)} "
                             "(letters, digits and _ . @ + -; at most 64 characters)")
        data = self.load()
        issued = {}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for name in learners:
            token = secrets.token_urlsafe(18)
            data[name] = {"sha256": digest(token), "issued": now}
            issued[name] = token
        self._save(data)
        return issued

    def revoke(self, learners: list[str]) -> list[str]:
        """Remove the learners' tokens; returns the names that had none."""
        data = self.load()
        unknown = [name for name in learners if data.pop(name, None) is None]
        self._save(data)
        return unknown

    def learner_of(self, token: str, data: dict[str, dict[str, str]] | None = None) -> str | None:
        """The learner whose token this is, else None (constant-time comparison)."""
        wanted = digest(token)
        found = None
        for name, entry in (self.load() if data is None else data).items():
            if hmac.compare_digest(entry["sha256"], wanted):
                found = name
        return found
