#!/usr/bin/env bash
# Build the Debian package: packaging/out/v7d_<version>_<arch>.deb (run by `make deb`).
#
# The package carries a complete virtualenv at /opt/v7d, built on the system interpreter
# (/usr/bin/python3.X) so that the unprivileged service user can execute it and its
# scripts' shebangs are right (a venv moved after creation keeps stale shebangs). The venv
# is built AT /opt/v7d, but inside a private mount namespace with a tmpfs over /opt, so the
# host's /opt is never touched; it is then copied into the package tree.
#
# Environment: V7D_DEB_OUT (output directory, default packaging/out),
#              V7D_DEB_COMPRESSION (dpkg-deb -Z: zstd by default, xz, gzip),
#              PYTHON (default /usr/bin/python3; must be a system interpreter, not under /root).
# The last line printed is the path of the .deb.
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG=$REPO/packaging
PREFIX=/opt/v7d

die() { echo "build-deb: $*" >&2; exit 1; }

# ---- Stage 2 (inside the private mount namespace): build the venv at /opt/v7d. ----------
if [ "${V7D_DEB_INNER:-}" = 1 ]; then
    # A tmpfs over /opt hides the host's /opt; its other entries (e.g. local package
    # mirrors named in pip.conf) are bound back in, so only /opt/v7d is new and private.
    mkdir -p "$WORK/hostopt"
    mount --bind /opt "$WORK/hostopt"
    mount -t tmpfs -o mode=0755 v7d-build /opt
    for entry in "$WORK"/hostopt/* "$WORK"/hostopt/.[!.]*; do
        name=${entry##*/}
        if [ "$name" = v7d ] || { [ ! -e "$entry" ] && [ ! -L "$entry" ]; }; then continue; fi
        if [ -L "$entry" ]; then cp -P "$entry" "/opt/$name"; continue; fi
        if [ -d "$entry" ]; then mkdir "/opt/$name"; else touch "/opt/$name"; fi
        mount --bind "$entry" "/opt/$name"
    done
    "$PY" -m venv "$PREFIX"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    # The project copy in $WORK/src is installed as a normal (non-editable) package with
    # its dependencies from PyPI.
    # (pip's notes about local mirror directories that lack a package are noise here.)
    "$PREFIX/bin/python" -m pip install -q --use-pep517 --root-user-action=ignore "$WORK/src" \
        2> >(grep -v "^WARNING: Location '" >&2 || true)
    # Everything is byte-compiled now: at run time /opt is read-only for the service
    # (ProtectSystem=strict), and stray .pyc files would keep `dpkg -P` from removing it.
    "$PREFIX/bin/python" -m compileall -q "$PREFIX/lib" >&2 \
        || die "byte-compiling the venv failed (a syntax error?)"
    "$PREFIX/bin/v7d" --version >/dev/null || die "the built venv cannot run 'v7d --version'"
    mkdir -p "$STAGE/opt"
    cp -a "$PREFIX" "$STAGE/opt/"
    exit 0
fi

# ---- Stage 1: checks, project copy, package tree. -----------------------------------------
for tool in dpkg-deb fakeroot unshare dpkg; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (apt-get install dpkg-dev fakeroot util-linux)"
done
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || die "no interpreter at $PY"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PY is Python $PYVER; v7d needs 3.11+"
# Pin the venv to the versioned interpreter: the package then depends on exactly it.
PY=$(dirname "$PY")/python$PYVER
[ -x "$PY" ] || die "no interpreter at $PY"
"$PY" -m venv --help >/dev/null 2>&1 || die "$PY has no venv module (apt-get install python3-venv)"

VERSION=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$REPO/v7d/__init__.py")
[ -n "$VERSION" ] || die "cannot read __version__ from v7d/__init__.py"
ARCH=$(dpkg --print-architecture)
for f in etc/v7d/v7d.toml etc/v7d/credentials.example systemd/v7d.service \
         systemd/v7d.sysusers systemd/v7d.tmpfiles docs/operations.md; do
    [ -f "$REPO/$f" ] || die "$f is missing from the project; the package needs it"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/v7d-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/root
mkdir -p "$WORK/src" "$STAGE"

# Copy the project as the work tree has it (tracked and new files, nothing ignored), so
# that building never writes into the work tree (pip builds in-tree since 21.3).
# (safe.directory: building as another user than the checkout's owner is fine here.)
GIT=(git -c "safe.directory=$REPO" -C "$REPO")
if "${GIT[@]}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$REPO" && "${GIT[@]}" ls-files -z --cached --others --exclude-standard \
        | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar --null -T - -cf -) | tar -C "$WORK/src" -xf -
else
    # Not a git checkout (e.g. an unpacked sdist): what pip needs to build the project.
    tar -C "$REPO" --exclude=__pycache__ -cf - v7d setup.cfg pyproject.toml README.md \
        | tar -C "$WORK/src" -xf -
fi

echo "build-deb: building the venv at $PREFIX on $PY (private mount namespace)" >&2
if [ "$(id -u)" = 0 ]; then
    NS=(unshare --mount --propagation private)
else
    # Without root, a user namespace in which we are root may still mount a tmpfs.
    NS=(unshare --user --map-root-user --mount --propagation private)
fi
V7D_DEB_INNER=1 PY=$PY WORK=$WORK STAGE=$STAGE "${NS[@]}" bash "${BASH_SOURCE[0]}"

# Commands on PATH.
mkdir -p "$STAGE/usr/bin"
for cmd in v7d v7ctl v7d-sim; do
    [ -x "$STAGE$PREFIX/bin/$cmd" ] || die "the venv has no '$cmd' command (setup.cfg entry points)"
    ln -s "$PREFIX/bin/$cmd" "$STAGE/usr/bin/$cmd"
done

# systemd integration and configuration.
install -D -m 0644 "$REPO/systemd/v7d.service" "$STAGE/lib/systemd/system/v7d.service"
install -D -m 0644 "$REPO/systemd/v7d.sysusers" "$STAGE/usr/lib/sysusers.d/v7d.conf"
install -D -m 0644 "$REPO/systemd/v7d.tmpfiles" "$STAGE/usr/lib/tmpfiles.d/v7d.conf"
install -D -m 0644 "$REPO/etc/v7d/v7d.toml" "$STAGE/etc/v7d/v7d.toml"
install -D -m 0644 "$REPO/etc/v7d/credentials.example" "$STAGE/etc/v7d/credentials.example"
install -D -m 0644 "$REPO/docs/operations.md" "$STAGE/usr/share/doc/v7d/operations.md"
install -D -m 0644 "$REPO/README.md" "$STAGE/usr/share/doc/v7d/README.md"

# Control files.
mkdir -p "$STAGE/DEBIAN"
INSTALLED_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@PYVER@/$PYVER/" \
    -e "s/@INSTALLED_KB@/$INSTALLED_KB/" "$PKG/debian/control.in" > "$STAGE/DEBIAN/control"
install -m 0644 "$PKG/debian/conffiles" "$STAGE/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$PKG/debian/$script" "$STAGE/DEBIAN/$script"
done

OUT=${V7D_DEB_OUT:-$PKG/out}
mkdir -p "$OUT"
DEB=$OUT/v7d_${VERSION}_${ARCH}.deb
# zstd: 40x faster than dpkg's default xz on the ~160 MB tree, and every dpkg that can
# have Python 3.11 (Debian 12+, Ubuntu 22.04+) reads it.
fakeroot dpkg-deb "-Z${V7D_DEB_COMPRESSION:-zstd}" --build --root-owner-group "$STAGE" "$DEB.tmp" \
    >/dev/null
mv "$DEB.tmp" "$DEB"
echo "$DEB"
