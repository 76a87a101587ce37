#!/bin/sh
# manpage.sh DOPFLOW CMD OUT.1 VERSION: the manual page of `dopflow CMD`, made
# by help2man from its --help (so it cannot drift from it) and named by the
# command's line in `dopflow --help`. help2man runs PROGRAM --help: a two-line
# wrapper dopflow-CMD runs `dopflow CMD --help`.
set -eu
dopflow=$1 cmd=$2 out=$3 version=$4
summary=$("$dopflow" --help | awk -v c="$cmd" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }')
[ -n "$summary" ] || { echo "manpage.sh: '$cmd' is not a command of dopflow --help" >&2; exit 1; }
wrapper=$(dirname "$out")/bin/dopflow-$cmd
mkdir -p "$(dirname "$wrapper")"
printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$dopflow" "$cmd" >"$wrapper"
chmod +x "$wrapper"
exec help2man --no-info --no-discard-stderr --section=1 --version-string="$version" --name="$summary" \
  --output="$out" "$wrapper"
