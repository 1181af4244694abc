"""Write the instructor edition's config and table of contents (used by `make book-instructor`).

``_config.yml`` with ``_config_instructor.yml`` layered over it (mappings merged key by key,
lists and scalars replaced; "solutions" dropped from ``exclude_patterns``) and ``_toc.yml`` with a
"Solutions" part appended (the solution of every exercise the toc lists, in its order), both
written to the build folder given as the only argument. Relative ``local_extensions`` paths are made
absolute, because Jupyter Book resolves them against the config file's folder.

The executed notebooks are kept in the course's own ``_build/.jupyter_cache`` (as a selection of
chapters does), not in the build folder's: without it the instructor edition executed every chapter
again after ``make book`` had (the cache's ``execution_seconds`` for the nine chapter notebooks add
up to 430 s on the shared 2-core machine), and now executes only the solutions, once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "_ext"))
from booktools import load_toc, toc_exercises  # noqa: E402


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def main(build_dir: str) -> None:
    out = Path(build_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = merge(
        yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8")),
        yaml.safe_load((REPO / "_config_instructor.yml").read_text(encoding="utf-8")),
    )
    # The learner edition excludes solutions/; the instructor edition renders it.
    config["exclude_patterns"] = [p for p in config.get("exclude_patterns", []) if p != "solutions"]
    config.setdefault("execute", {}).setdefault("cache", str(REPO / "_build" / ".jupyter_cache"))
    local = config.get("sphinx", {}).get("local_extensions", {})
    for name, path in local.items():
        local[name] = str((REPO / path).resolve()) + "/"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))

    toc = load_toc(REPO / "_toc.yml")
    toc["parts"].append(
        {
            "caption": "Solutions (instructor edition)",
            "chapters": [{"file": f"solutions/{a}/{a}"} for a in toc_exercises(toc)],
        }
    )
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))


if __name__ == "__main__":
    main(sys.argv[1])
