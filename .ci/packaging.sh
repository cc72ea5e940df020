#!/usr/bin/env bash
# CI: colconv as other projects use it.
#   1. Build static and shared, install each into a temporary prefix.
#   2. The shared library exports only cc_ names; the static one defines
#      only cc_ globals, and only src/core/alloc.c calls the C allocator.
#   3. The installed header compiles as C11, C++11 and C++17 with
#      -Wall -Wextra -Werror -pedantic.
#   4. examples/c and examples/cxx (CMake, find_package) and
#      examples/pkgconfig (pkg-config) build and run against each prefix.
#   5. cpack -G DEB; apt-get installs the package; the examples build and
#      run against it from the default search paths; apt-get removes it.
# Needs root for step 5 (CI runs as root) and the packages .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
WORK=$(mktemp -d /tmp/colconv-packaging.XXXXXX)
JOBS=${JOBS:-2}
DEB_INSTALLED=0
VERSION=$(sed -n 's/^project(colconv VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

installed() { [ "$(dpkg-query -W -f='${Status}' colconv 2> /dev/null || true)" = "install ok installed" ]; }
cleanup() {
    if [ "$DEB_INSTALLED" = 1 ]; then
        apt-get purge -y colconv > /dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== packaging: %s (%ds)\n' "$*" "$SECONDS"; }
die() { printf 'packaging: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- 1. static and shared builds, installed under $WORK -------------------
# The shared build is configured for /usr (the .deb's layout: Debian's
# multiarch libdir) and also installed elsewhere with --prefix, which the
# CMake package and colconv.pc both follow. colconv-bench is built once, in
# the shared build (the one packaged), to keep this step short.
build() { # build DIR SHARED PREFIX BENCH
    cmake -S "$SRC" -B "$1" -DBUILD_SHARED_LIBS="$2" -DCMAKE_INSTALL_PREFIX="$3" \
        -DCOLCONV_BUILD_BENCH="$4" -DBUILD_TESTING=OFF -DCOLCONV_WERROR=ON > "$1.configure.log" \
        || { cat "$1.configure.log"; die "configure $1"; }
    cmake --build "$1" -j"$JOBS" > "$1.build.log" 2>&1 || { tail -50 "$1.build.log"; die "build $1"; }
}

step "build and install, static and shared"
# STATIC_BUILD (optional): a static build of this tree already made, such as
# .ci/run's build/ (configured with the defaults and -DCOLCONV_WERROR=ON),
# installed instead of building the library once more (about 70 s of CI).
if [ -n "${STATIC_BUILD:-}" ]; then
    test -f "$STATIC_BUILD/libcolconv.a" || die "STATIC_BUILD=$STATIC_BUILD holds no libcolconv.a"
    static_build=$STATIC_BUILD
else
    build "$WORK/build-static" OFF /usr/local OFF
    static_build=$WORK/build-static
fi
build "$WORK/build-shared" ON /usr ON
cmake --install "$static_build" --prefix "$WORK/prefix-static" > /dev/null
cmake --install "$WORK/build-shared" --prefix "$WORK/prefix-shared" > /dev/null
MULTIARCH=$(gcc -print-multiarch)
STATIC_LIBDIR=$WORK/prefix-static/lib
SHARED_LIBDIR=$WORK/prefix-shared/lib/$MULTIARCH
(cd "$WORK" && find prefix-static prefix-shared \( -type f -o -type l \) | sort)

test -f "$STATIC_LIBDIR/libcolconv.a" || die "no libcolconv.a"
test ! -e "$STATIC_LIBDIR/libcolconv.so" || die "a static install holds libcolconv.so"
test -f "$SHARED_LIBDIR/libcolconv.so.$VERSION" || die "no libcolconv.so.$VERSION"
test "$(readlink "$SHARED_LIBDIR/libcolconv.so.0")" = "libcolconv.so.$VERSION" || die "libcolconv.so.0 link"
test "$(readlink "$SHARED_LIBDIR/libcolconv.so")" = libcolconv.so.0 || die "libcolconv.so link"
dynamic=$(readelf -d "$SHARED_LIBDIR/libcolconv.so.$VERSION")
grep -q 'SONAME.*\[libcolconv\.so\.0\]' <<< "$dynamic" || die "SONAME"
LD_LIBRARY_PATH=$SHARED_LIBDIR "$WORK/prefix-shared/bin/colconv-bench" --version | tee "$WORK/version"
grep -q "^colconv-bench $VERSION" "$WORK/version" || die "colconv-bench --version"

# ---- 2. exported and defined symbols --------------------------------------
step "symbols"
check_shared_symbols() { # the dynamic symbols a shared libcolconv defines
    local symbols
    symbols=$(nm -D --defined-only "$1" | awk '{print $3}')
    echo "$symbols" | sed 's/^/  /'
    ! echo "$symbols" | grep -v '^cc_' || die "$1 exports names without the cc_ prefix (above)"
    echo "$(echo "$symbols" | wc -l) symbols, all cc_"
}
echo "nm -D --defined-only libcolconv.so.$VERSION:"
check_shared_symbols "$SHARED_LIBDIR/libcolconv.so.$VERSION"
globals=$(nm -g --defined-only "$STATIC_LIBDIR/libcolconv.a" | awk 'NF == 3 {print $3}')
! grep -v '^cc_' <<< "$globals" || die "libcolconv.a defines globals without the cc_ prefix (above)"
# nm runs alone so that its failure stops CI; only the greps, which fail
# when nothing matches (the good case), may fail.
archive_symbols=$(nm -A "$STATIC_LIBDIR/libcolconv.a")
allocators=$(grep -E ' U (malloc|calloc|realloc|free|aligned_alloc|posix_memalign|strdup|strndup)$' \
    <<< "$archive_symbols" | grep -v ':alloc\.c\.o:' || true)
[ -z "$allocators" ] || { echo "$allocators"; die "files other than alloc.c call the C allocator"; }
exits=$(grep -E ' U (exit|_exit|abort)$' <<< "$archive_symbols" || true)
[ -z "$exits" ] || { echo "$exits"; die "the library may exit or abort"; }
echo "libcolconv.a: globals all cc_; only alloc.c.o allocates; no exit or abort"

# ---- 3. the installed header as C11, C++11, C++17 -------------------------
step "public header"
printf '#include <colconv.h>\nint main(void) { return cc_version()[0] == 0; }\n' > "$WORK/header.c"
cp "$WORK/header.c" "$WORK/header.cpp"
INC=$WORK/prefix-static/include
gcc -std=c11 -Wall -Wextra -Werror -pedantic -Wstrict-prototypes -I"$INC" -fsyntax-only "$WORK/header.c"
for std in c++11 c++17; do
    g++ -std=$std -Wall -Wextra -Werror -pedantic -I"$INC" -fsyntax-only "$WORK/header.cpp"
done
echo "colconv.h: C11, C++11, C++17 clean"

# ---- 4. the examples against each prefix ----------------------------------
# examples NAME CMAKE_PREFIX_PATH PKG_CONFIG_PATH PKG_STATIC LD_LIBRARY_PATH LIBDIR_REGEX
# (LIBDIR_REGEX: where ldd must find libcolconv.so.0; empty for a static link)
examples() {
    local out=$WORK/examples-$1
    mkdir -p "$out"
    for lang in c cxx; do
        flags=-DCMAKE_C_FLAGS="-Wall -Wextra -Werror"
        [ "$lang" = c ] || flags=-DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror"
        cmake -S "$SRC/examples/$lang" -B "$out/$lang" ${2:+-DCMAKE_PREFIX_PATH="$2"} "$flags" \
            > "$out/$lang.log" || { cat "$out/$lang.log"; die "configure examples/$lang ($1)"; }
        cmake --build "$out/$lang" >> "$out/$lang.log" 2>&1 || { cat "$out/$lang.log"; die "build examples/$lang ($1)"; }
    done
    PKG_CONFIG_PATH=$3 make -s -C "$SRC/examples/pkgconfig" OUT="$out" PKG_STATIC="$4" \
        CFLAGS="-O2 -Wall -Wextra -Werror -pedantic" > "$out/pc.log" 2>&1 \
        || { cat "$out/pc.log"; die "build examples/pkgconfig ($1)"; }
    for program in "$out/c/colconv_example_c" "$out/cxx/colconv_example_cxx" "$out/colconv_example_pc"; do
        echo "-- $1: ${program#"$WORK/"}"
        LD_LIBRARY_PATH=$5 "$program" || die "$program"
        if [ -z "$6" ]; then
            libs=$(ldd "$program")
            ! grep -q libcolconv <<< "$libs" || die "$program is not linked statically"
        else
            libs=$(LD_LIBRARY_PATH=$5 ldd "$program")
            grep -Eq "libcolconv\.so\.0 => $6/libcolconv\.so\.0 " <<< "$libs" \
                || die "$program does not load libcolconv.so.0 from $6"
        fi
    done
}
step "examples against the static prefix"
examples static "$WORK/prefix-static" "$STATIC_LIBDIR/pkgconfig" --static "" ""
step "examples against the shared prefix"
examples shared "$WORK/prefix-shared" "$SHARED_LIBDIR/pkgconfig" "" "$SHARED_LIBDIR" "$SHARED_LIBDIR"

# ---- 5. the Debian package -------------------------------------------------
step "Debian package"
(cd "$WORK/build-shared" && cpack -G DEB > cpack.log) || { cat "$WORK/build-shared/cpack.log"; die cpack; }
DEB=$(echo "$WORK"/build-shared/colconv_*.deb)
test -f "$DEB" || die "no .deb"
dpkg -I "$DEB"
depends=$(dpkg -f "$DEB" Depends)
for package in libopenblas0-openmp libgomp1 libc6; do
    grep -q "$package" <<< "$depends" || die "Depends lacks $package"
done
dpkg -c "$DEB" | awk '{print "  " $6, $7, $8}'
if installed; then
    die "colconv is already installed on this machine: remove it first"
fi
(cd "$(dirname "$DEB")" && apt-get install -y "./$(basename "$DEB")")
DEB_INSTALLED=1
colconv-bench --version | grep "^colconv-bench $VERSION" || die "installed colconv-bench --version"
echo "nm -D --defined-only /usr/lib/$MULTIARCH/libcolconv.so.0:"
check_shared_symbols "/usr/lib/$MULTIARCH/libcolconv.so.0"
step "examples against the installed package"
examples deb "" "" "" "" "(/usr)?/lib/$MULTIARCH"
apt-get purge -y colconv
DEB_INSTALLED=0
! installed || die "colconv still installed"
test ! -e "/usr/lib/$MULTIARCH/libcolconv.so.0" || die "libcolconv.so.0 left behind"
echo "packaging: all passed"
