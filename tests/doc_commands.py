#!/usr/bin/env python3
"""Every `electra ...` command that README.md and docs/*.md show must parse: its subcommand (and sub-subcommand)
exists and every --flag it names is one that subcommand (or the global level) accepts, as `--help` lists them.

    python3 tests/doc_commands.py ELECTRA_BINARY ROOT

Looks in fenced code blocks and in `inline code` spans that start with `electra `. Placeholders (DIR, F.yaml, ...)
are not checked; flags and subcommand names are. Exit status 1 with one line per bad command.
"""
import re
import subprocess
import sys
from pathlib import Path

FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def help_text(electra, words, cache):
    """(exit code, text) of `electra WORDS --help`, run once per WORDS."""
    key = tuple(words)
    if key not in cache:
        r = subprocess.run([electra, *words, "--help"], capture_output=True, text=True)
        cache[key] = (r.returncode, r.stdout + r.stderr)
    return cache[key]


def subcommands(text):
    """Names listed under 'Subcommands:' of a CLI11 help text."""
    out, inside = set(), False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside:
            m = re.match(r"^  (\S+)", line)
            if m:
                out.add(m.group(1))
    return out


def commands(path):
    """(line number, command text) for every electra command the markdown file shows."""
    found, fenced = [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            text = line.split("#", 1)[0].strip()
            text = re.sub(r"^(\$ |\S+ \| )", "", text)  # a prompt, or `echo ... |` before it
            if "| electra " in line:
                text = line.split("| electra ", 1)[1].split("#", 1)[0].strip()
                text = "electra " + text
            if text.startswith("electra "):
                found.append((n, text))
        for span in re.findall(r"`(electra [^`]+)`", line):
            found.append((n, span))
    return found


def check(electra, cmd, cache):
    words = cmd.split()[1:]
    path, flags = [], []
    _, top = help_text(electra, [], cache)
    level_subs = subcommands(top)
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--") and not path:  # a global flag and its value: electra --threads 2 pretrain ...
            i += 1 if (i + 1 < len(words) and words[i + 1].startswith("-")) or "=" in w else 2
            continue
        if w.startswith("-"):
            break
        if w in level_subs:
            path.append(w)
            level_subs = subcommands(help_text(electra, path, cache)[1])
            i += 1
            continue
        if not path:
            if w.isupper():  # a placeholder: electra COMMAND --help
                return None
            return f"unknown subcommand '{w}'"
        break
    if not path:
        return "no subcommand"
    code, text = help_text(electra, path, cache)
    if code != 0:
        return f"`electra {' '.join(path)} --help` failed"
    for flag in FLAG.findall(cmd):
        if flag in ("--help",):
            continue
        if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text + top):
            flags.append(flag)
    return f"{' '.join(path)} does not accept {', '.join(flags)}" if flags else None


def main():
    electra, root = sys.argv[1], Path(sys.argv[2])
    files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    cache, bad, count = {}, [], 0
    for f in files:
        for n, cmd in commands(f):
            count += 1
            problem = check(electra, cmd, cache)
            if problem:
                bad.append(f"{f.relative_to(root)}:{n}: {cmd}\n    {problem}")
    for b in bad:
        print(b)
    print(f"{count} commands in {len(files)} files, {len(bad)} that do not parse")
    return 1 if bad or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
