#!/usr/bin/env bash
# Print what this run of the suite uses, so a log says what was tested: Python, Node and npm,
# buf, the locked Python packages that differ from requirements/lock.txt (none, normally), and
# each Debian package of requirements/debian.txt beside the version recorded there.
# Reports only; never fails the run. Usage: scripts/toolchain.sh [VENV_PYTHON [LOCK]]
set -uo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
export LOCK_FILE=${2:-requirements/lock.txt}

echo "toolchain: $("$py" --version 2>&1), node $(node --version 2>/dev/null || echo missing)," \
  "npm $(npm --version 2>/dev/null || echo missing), buf $(node_modules/.bin/buf --version 2>/dev/null || echo missing)"
"$py" - <<'PY'
import os
import re
from importlib import metadata

locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", open(os.environ["LOCK_FILE"]).read(), re.M))
key = lambda name: re.sub(r"[-_.]+", "-", name).lower()
installed = {key(d.metadata["Name"]): d.version for d in metadata.distributions()}
off = [f"{n} {installed.get(key(n), 'missing')} (lock {v})" for n, v in locked.items() if installed.get(key(n)) != v]
print(f"toolchain: {len(locked)} Python packages in {os.environ['LOCK_FILE']}, " + (f"differing: {', '.join(off)}" if off else "all as locked"))
PY
while read -r package recorded _; do
  [[ -z $package || $package == \#* ]] && continue
  have=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null) || have=""
  if [[ -z $have ]]; then state="not installed (yet)"
  elif [[ $have == "$recorded" ]]; then state="$have"
  else state="$have (recorded: $recorded)"; fi
  echo "toolchain: debian $package $state"
done <requirements/debian.txt
exit 0
