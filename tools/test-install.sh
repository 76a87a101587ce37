#!/usr/bin/env bash
# What a user installs, checked end to end (a step of tools/test.sh; ~1-2 min
# after the build):
#   1. cmake --install into a temporary prefix: the expected files, the SONAME,
#      only dop_* symbols exported (nm -D) and every DOP_API declaration among them;
#   2. the manual pages (man -l; one per command of `dopflow --help`) and the
#      bash completion;
#   3. the installed dopflow from another folder: --version and the demo
#      (share/dopflow/demo.sh --quick, specs found in the installed data folder);
#   4. examples/c built against the prefix with pkg-config and with
#      find_package(dopflow), and run;
#   5. the Python package: pytest (python/tests) on the cmake-installed copy and
#      on a setuptools build;
#   6. the Debian package (cpack -G DEB): dpkg-deb -I metadata and contents; its
#      files extracted and run (--version, demo, import dopflow).
# Needs the packages of tools/install-deps.sh; builds ./build (tools/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
python=${PYTHON:-/usr/bin/python3}   # Debian's, with python3-numpy, -pytest, -h5py

tools/install-deps.sh >/dev/null
tools/build.sh >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dopflow-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

version=$(sed -n 's/^project(dopflow VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
major=${version%%.*}

# 1. The installed tree.
cmake --install build --prefix "$prefix" >/dev/null
for f in bin/dopflow lib/libdopflow.so "lib/libdopflow.so.$major" "lib/libdopflow.so.$version" \
  lib/pkgconfig/dopflow.pc lib/cmake/dopflow/dopflowConfig.cmake lib/cmake/dopflow/dopflowConfigVersion.cmake \
  lib/cmake/dopflow/dopflowTargets.cmake share/man/man1/dopflow.1 share/bash-completion/completions/dopflow \
  share/dopflow/datasets/examples/brachial_rest.json share/dopflow/datasets/shoemaker1997/cohort.json \
  share/dopflow/demo.sh lib/python3/dist-packages/dopflow/__init__.py; do
  [ -e "$prefix/$f" ] || fail "$f not installed"
done
ok "installed files present"
diff <(cd include/dopflow && ls ./*.h) <(cd "$prefix/include/dopflow" && ls ./*.h) >/dev/null ||
  fail "include/dopflow differs from the public headers"
[ -z "$(find "$prefix" -name '*.c' -o -name 'reader_backend.h' -o -name 'sim_internal.h' -o -name 'cli.h')" ] ||
  fail "internal sources or headers installed"
ok "public headers only (include/dopflow/*.h)"
file -L "$prefix/lib/libdopflow.so" | grep 'ELF 64-bit LSB shared object' >/dev/null || fail "libdopflow.so is not a shared object"
readelf -d "$prefix/lib/libdopflow.so" | grep "Library soname: \[libdopflow.so.$major\]" >/dev/null || fail "SONAME is not libdopflow.so.$major"
ok "libdopflow.so: shared object, SONAME libdopflow.so.$major"
nm -D --defined-only "$prefix/lib/libdopflow.so" | awk '{print $3}' | sort -u >"$tmp/exported"
others=$(grep -v '^dop_' "$tmp/exported" || true)
[ -z "$others" ] || fail "libdopflow.so exports symbols outside dop_*: $(echo $others | head -c 300)"
grep -h '^DOP_API' include/dopflow/*.h | grep -o 'dop_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/declared"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || fail "declared DOP_API but not exported: $missing"
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not declared DOP_API in include/dopflow: $extra"
ok "exports exactly the $(wc -l <"$tmp/declared") DOP_API functions, all dop_*"

# 2. Manual pages and completion.
commands=$("$prefix/bin/dopflow" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}')
[ -n "$commands" ] || fail "no commands in dopflow --help"
for page in dopflow $(printf 'dopflow-%s ' $commands); do
  f=$prefix/share/man/man1/$page.1
  [ -f "$f" ] || fail "no manual page $page.1"
  MANWIDTH=80 man -l "$f" 2>"$tmp/man.err" >"$tmp/man.txt" || fail "man -l $page.1: $(cat "$tmp/man.err")"
  grep -q "^NAME" "$tmp/man.txt" && grep -q "^DESCRIPTION" "$tmp/man.txt" || fail "$page.1 has no NAME or DESCRIPTION"
done
MANWIDTH=80 man -l "$prefix/share/man/man1/dopflow-analyze.1" | grep -- '--wall-hz' >/dev/null || fail "dopflow-analyze.1 lacks --wall-hz"
ok "man -l: dopflow.1 and a page per command ($(echo $commands))"
complete_words() { # COMP_LINE words... -> the completions, one per line
  PATH=$prefix/bin:$PATH bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
    _dopflow; printf "%s\n" "${COMPREPLY[@]}"' _ "$prefix/share/bash-completion/completions/dopflow" "$@"
}
complete_words dopflow ana | grep -x analyze >/dev/null || fail "completion of 'dopflow ana'"
complete_words dopflow analyze --wall | grep -x -- --wall-hz >/dev/null || fail "completion of 'dopflow analyze --wall'"
complete_words dopflow analyze --vmean '' | grep -x kasai >/dev/null || fail "completion of 'dopflow analyze --vmean'"
complete_words dopflow plot so | grep -x sonogram >/dev/null || fail "completion of 'dopflow plot so'"
ok "bash completion: commands, options, option values"

# 3. The installed command from another folder (data found beside the binary).
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$prefix/bin/dopflow" --version) | grep -x "dopflow $version" >/dev/null || fail "dopflow --version"
(cd "$tmp/elsewhere" && DOPFLOW=$prefix/bin/dopflow "$prefix/share/dopflow/demo.sh" demo --quick >"$tmp/demo.out" 2>&1) ||
  fail "installed demo: $(tail -3 "$tmp/demo.out")"
grep -q '^all,' "$tmp/demo.out" || fail "installed demo printed no summary"
ok "installed dopflow --version and demo from another folder"

# 4. The C example against the prefix, both ways.
example=$tmp/example
mkdir -p "$example"
wav=$tmp/elsewhere/demo/brachial_rest.wav
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion dopflow)" = "$version" ] || fail "pkg-config --modversion dopflow"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror examples/c/mean_velocity.c $(pkg-config --cflags --libs dopflow) -lm \
  -Wl,-rpath,"$prefix/lib" -o "$example/mean_velocity_pc"
cmake -S examples/c -B "$example/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$example/build" >/dev/null
for exe in "$example/mean_velocity_pc" "$example/build/mean_velocity"; do
  ldd "$exe" | grep "$prefix/lib/libdopflow.so.$major" >/dev/null || fail "$exe does not use the installed libdopflow"
  "$exe" "$wav" >"$tmp/example.out" || fail "$exe $wav"
  rows=$(grep -c '^[0-9]*,[0-9.-]*$' "$tmp/example.out")
  [ "$rows" -ge 8 ] || fail "$exe printed $rows seconds"
done
cmp <("$example/mean_velocity_pc" "$wav") <("$example/build/mean_velocity" "$wav") || fail "the two example builds differ"
ok "examples/c built with pkg-config and find_package(dopflow), run: $rows seconds"

# 5. The Python package: the cmake-installed copy and a setuptools build.
run_pytest() { # label, then environment assignments
  local label=$1
  shift
  (cd "$tmp" && env "$@" PYTHONDONTWRITEBYTECODE=1 DOPFLOW="$prefix/bin/dopflow" "$python" -m pytest -q -p no:cacheprovider \
    "$src/python/tests" >"$tmp/pytest.out" 2>&1) || { cat "$tmp/pytest.out"; fail "pytest ($label)"; }
  ok "pytest ($label): $(tail -1 "$tmp/pytest.out")"
}
run_pytest "cmake --install copy" PYTHONPATH="$prefix/lib/python3/dist-packages"
(cd python && "$python" setup.py -q build --build-base "$tmp/pybuild" --build-lib "$tmp/pylib" >/dev/null 2>&1) ||
  fail "python3 setup.py build"
run_pytest "setuptools build" PYTHONPATH="$tmp/pylib" DOPFLOW_LIBRARY="$prefix/lib/libdopflow.so.$major"
rm -rf python/build python/*.egg-info

# 6. The Debian package.
(cd build && cpack -G DEB -B "$tmp/deb" >"$tmp/cpack.out" 2>&1) || { cat "$tmp/cpack.out"; fail "cpack -G DEB"; }
deb=$tmp/deb/dopflow_${version}_amd64.deb
[ -f "$deb" ] || fail "no $(basename "$deb")"
dpkg-deb -I "$deb" >"$tmp/deb.info"
for field in "Package: dopflow" "Version: $version" "Architecture: amd64"; do
  grep -q "^ $field\$" "$tmp/deb.info" || fail "dpkg-deb -I: no '$field'"
done
depends=$(sed -n 's/^ Depends: //p' "$tmp/deb.info")
for dep in libc6 libsndfile1 libfftw3-single3 libhdf5 libjansson4 libgsl libmatio libnettle8 libcsv3 libplplot \
  plplot-driver-cairo python3-numpy; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep: $depends"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/deb.files"
for f in ./usr/bin/dopflow "./usr/lib/libdopflow.so.$major" ./usr/include/dopflow/dopflow.h \
  ./usr/lib/pkgconfig/dopflow.pc ./usr/share/man/man1/dopflow.1 ./usr/lib/python3/dist-packages/dopflow/__init__.py \
  ./usr/share/dopflow/datasets/examples/brachial_rest.json; do
  grep -qx -- "$f" "$tmp/deb.files" || fail "the .deb lacks $f"
done
dpkg-deb -x "$deb" "$tmp/debroot"
mkdir -p "$tmp/debrun"
(cd "$tmp/debrun" && "$tmp/debroot/usr/bin/dopflow" --version | grep -x "dopflow $version" >/dev/null &&
  DOPFLOW=$tmp/debroot/usr/bin/dopflow "$tmp/debroot/usr/share/dopflow/demo.sh" demo --quick >/dev/null 2>&1 &&
  PYTHONPATH=$tmp/debroot/usr/lib/python3/dist-packages "$python" -c \
    'import dopflow, sys; sys.exit(dopflow.version() != sys.argv[1])' "$version") ||
  fail "the .deb's files do not run (--version, demo, import dopflow)"
ok "$(basename "$deb"): metadata, Depends ($depends), contents; its dopflow, demo and Python package run"

echo "test-install: $checks checks passed"
