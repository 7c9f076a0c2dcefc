#!/usr/bin/env bash
# The install's footprint: `make install` (the lean default) from a clean venv, then
# `make install-all` (the heavy extras) on top, each timed, and the venv's size after each.
# Writes bench/install-<host>.json, which docs/design.md ("Installing") and the README quote.
#
#   bash bench/footprint.sh                 # a fresh venv in a temporary folder
#   VENV=.venv bash bench/footprint.sh      # or this checkout's own (it must not exist yet)
#
# Time depends on pip's cache: PIP_CACHE says what it was (default "warm": every wheel already
# downloaded once on this machine, so the times are unpacking and installing, not downloading).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$(mktemp -d)/venv}
PIP_CACHE=${PIP_CACHE:-warm}
if [ -e "$VENV" ]; then echo "footprint: $VENV exists; it must start clean" >&2; exit 2; fi

now() { date +%s.%N; }
size() { du -s -B1 "$VENV" | cut -f1; }  # bytes on disk; `du -sh .venv` shows them in GiB
t0=$(now)
make --no-print-directory install VENV="$VENV" >/dev/null
t1=$(now); lean=$(size)
# What takes the room in the default: its six largest entries in site-packages.
largest=$(du -s -B1 "$VENV"/lib/python3*/site-packages/* | sort -rn | head -6 \
    | awk '{n = $2; sub(".*/", "", n); printf "%s%s=%s", (NR > 1 ? "," : ""), n, $1}')
# The floor under any default: tensorflow with only the packages it requires itself (its
# dependency closure, read from the installed metadata), which a lean install cannot go below.
floor=$("$VENV"/bin/python - <<'PY'
import importlib.metadata as md, os, re
seen, todo, total = set(), ["tensorflow"], 0
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    seen.add(name)
    dist = md.distribution(name)
    total += sum(os.path.getsize(f.locate()) for f in dist.files or () if os.path.isfile(f.locate()))
    for req in dist.requires or ():
        if "extra ==" not in req:  # extras are not part of the package's own needs
            todo.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
print(f"{total}:{len(seen)}")
PY
)
make --no-print-directory install-all VENV="$VENV" >/dev/null
t2=$(now); full=$(size)

out=bench/install-$(hostname -s).json
python3 - "$out" "$t0" "$t1" "$t2" "$lean" "$full" "$PIP_CACHE" "$largest" "$floor" <<'PY'
import json, os, platform, sys, time
out, t0, t1, t2, lean, full, cache, largest, floor = sys.argv[1:]
floor_bytes, floor_packages = map(int, floor.split(":"))
t0, t1, t2 = map(float, (t0, t1, t2))
result = {
    "date": time.strftime("%Y-%m-%d", time.gmtime()),
    "host": platform.node().split(".")[0],
    "cpu_count": os.cpu_count(),
    "python": platform.python_version(),
    "pip_cache": cache,
    "install": {"target": "make install", "lock": "requirements-dev.txt",
                "seconds": round(t1 - t0), "venv_bytes": int(lean),
                "venv_gib": round(int(lean) / 2**30, 2),
                "largest_gib": {name: round(int(size) / 2**30, 2) for name, size in
                                (item.split("=") for item in largest.split(","))},
                "tensorflow_closure": {"packages": floor_packages, "bytes": floor_bytes,
                                       "gib": round(floor_bytes / 2**30, 2)}},
    "install_all": {"target": "make install-all (after make install)",
                    "lock": "requirements-all.txt", "seconds": round(t2 - t1),
                    "venv_bytes": int(full), "venv_gib": round(int(full) / 2**30, 2)},
}
with open(out, "w") as f:
    f.write(json.dumps(result, indent=2) + "\n")
print(json.dumps(result, indent=2))
PY
