"""The command blocks the README tells a user to type, so that tests run them as written.

A block is marked by an HTML comment on the line before its fence, which Markdown hides:

    <!-- readme-test: serve -->
    ```sh
    ...
    ```
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# A block may be indented (inside a list item); its lines are returned without that indent.
_BLOCK = re.compile(
    r"^(?P<indent> *)<!-- readme-test: (?P<tag>[\w-]+) -->\n *```\w*\n(?P<body>.*?)\n *```",
    re.S | re.M,
)


def block(tag: str) -> str:
    """The text of the README block marked ``tag``, exactly as a user would copy it."""
    found = [m for m in _BLOCK.finditer(README.read_text()) if m["tag"] == tag]
    assert len(found) == 1, f"README.md has {len(found)} blocks marked readme-test: {tag}"
    indent = len(found[0]["indent"])
    return "\n".join(line[indent:] for line in found[0]["body"].splitlines())


def commands(tag: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines left out."""
    joined = block(tag).replace("\\\n", " ")
    return [
        line.split("  #")[0].strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
