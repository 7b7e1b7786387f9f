"""A small reStructuredText reader: section titles and ``code-block`` directives, enough to run
the code of docs/seed/USAGE.rst verbatim."""

import re
import textwrap
from collections import namedtuple

Block = namedtuple("Block", "language code line sections")
"""``code``: the dedented block text; ``line``: its first line (1-based) in the file;
``sections``: the titles of the enclosing sections, outermost first."""

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")  # a line of one punctuation char, >= 3
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)\s*$")


def parse(text):
    lines = text.splitlines()
    levels = []  # adornment characters in order of first use = section levels
    sections = []
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and _ADORNMENT.match(nxt):
            char = nxt.strip()[0]
            if char not in levels:
                levels.append(char)
            level = levels.index(char)
            sections = sections[:level] + [line.strip()]
            i += 2
            continue
        m = _DIRECTIVE.match(line)
        if m:
            indent = len(m.group(1))
            j = i + 1
            while j < len(lines) and re.match(r"^\s+:[\w-]+:", lines[j]):  # directive options
                j += 1
            body = []
            first = None
            while j < len(lines):
                cur = lines[j]
                if cur.strip() and len(cur) - len(cur.lstrip()) <= indent:
                    break
                if cur.strip() and first is None:
                    first = j + 1
                body.append(cur)
                j += 1
            code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
            blocks.append(Block(m.group(2), code, first, tuple(sections)))
            i = j
            continue
        i += 1
    return blocks
