#!/usr/bin/env python3
"""List the Rust crates compiled into backdrop, with their licences (for the Debian package).

Reads `cargo metadata --format-version 1 --filter-platform TARGET` on stdin; follows the normal
(not dev, not build) dependencies of the `backdrop` package; writes LIST (one line per crate:
name, version, licence, repository) and TEXTS (each crate's licence and notice files, verbatim).

Usage: cargo metadata ... | crate_licenses.py LIST TEXTS
"""
import json
import pathlib
import sys

meta = json.load(sys.stdin)
pkgs = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = next(p["id"] for p in meta["packages"] if p["name"] == "backdrop")

seen, todo = set(), [root]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])

crates = sorted((pkgs[i] for i in seen), key=lambda p: (p["name"], p["version"]))
NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE", "COPYRIGHT")
with open(sys.argv[1], "w") as out, open(sys.argv[2], "w") as texts:
    out.write(f"Rust crates compiled into /usr/bin/backdrop ({len(crates)}): name version licence source\n\n")
    texts.write("Licence and notice files of the Rust crates compiled into /usr/bin/backdrop.\n")
    for p in crates:
        lic = p["license"] or f"see {p['license_file']}"
        out.write(f"{p['name']} {p['version']} | {lic} | {p['repository'] or 'crates.io'}\n")
        d = pathlib.Path(p["manifest_path"]).parent
        files = sorted(f for f in d.iterdir() if f.is_file() and f.name.upper().startswith(NAMES))
        if p["license_file"]:
            files.append(d / p["license_file"])
        for f in dict.fromkeys(files):
            texts.write(f"\n===== {p['name']} {p['version']}: {f.name} =====\n\n")
            texts.write(f.read_text(errors="replace"))
        if not files:
            texts.write(f"\n===== {p['name']} {p['version']}: no licence file shipped; licence {lic} =====\n")
