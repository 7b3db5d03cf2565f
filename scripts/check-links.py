#!/usr/bin/env python3
"""Checks every relative link in README.md, SECURITY.md and docs/*.md: the file must exist and,
for `file.md#anchor`, the anchor must be a heading of that file (GitHub's slug rules).
Usage: scripts/check-links.py [--allow-missing PATH]...   (exit 1 on any broken link)"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
allow = set()
args = sys.argv[1:]
while args:
    if args[0] == "--allow-missing" and len(args) > 1:
        allow.add(args[1])
        args = args[2:]
    else:
        sys.exit(__doc__)


def slug(heading):
    s = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    out, seen, fence = set(), {}, False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6} (.*)", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


files = [root / "README.md", root / "SECURITY.md", *sorted((root / "docs").glob("*.md"))]
bad = 0
for f in files:
    if not f.exists():
        continue
    fence = False
    for no, line in enumerate(f.read_text().splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (f.parent / path).resolve() if path else f
            rel = dest.relative_to(root) if dest.is_relative_to(root) else dest
            where = f"{f.relative_to(root)}:{no}: {target}"
            if not dest.exists():
                if str(rel) in allow:
                    print(f"{where}: missing (allowed)")
                else:
                    print(f"{where}: no such file")
                    bad += 1
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                print(f"{where}: no heading #{anchor} in {rel}")
                bad += 1
print(f"{len(files)} files checked, {bad} broken links")
sys.exit(1 if bad else 0)
