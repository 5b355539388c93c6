#!/usr/bin/env bash
# QGIS LTR from Debian trixie-backports in a chroot of its own, to test and benchmark the
# plugin on a newer QGIS than the machine's distribution has.
#
# Usage (as root):
#   .ci/qgis-trixie.sh build          build the chroot, or reuse it when it is complete
#   .ci/qgis-trixie.sh run CMD ARG... run CMD in the chroot, the checkout mounted at /src
#   .ci/qgis-trixie.sh remove         delete the chroot (refused while anything is mounted in it)
#
# The chroot lies in the checkout's git-ignored folder .chroot-trixie/ (RIOGRANDE_CHROOT
# overrides it). It is built with debootstrap from the Debian mirror the machine's apt
# already uses, then QGIS, rasterio and venv come from trixie-backports and trixie;
# a stamp records the package list, so a changed list rebuilds it. While a command runs,
# /proc, /sys, a /dev/shm of its own and the checkout are mounted in the chroot; they are
# unmounted when the command ends, fails or is interrupted, and processes the command left
# running in the chroot are stopped. One build or run at a time (a lock).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
ROOT=$(realpath -m "${RIOGRANDE_CHROOT:-$REPO/.chroot-trixie}")
SUITE=trixie
# QGIS and its Python bindings from backports; the rest of what the tests and benchmarks
# need from trixie itself (pyproj and the GDAL bindings as the distribution builds them).
BACKPORTS_PACKAGES="qgis python3-qgis"
# python3-cryptography: moto's pyOpenSSL stays on the system's OpenSSL.
# proj-bin: pyproj finds PROJ's data through the proj program when run from a venv.
PACKAGES="python3-rasterio python3-pyproj python3-gdal python3-cryptography proj-bin python3-venv \
python3-pip make ca-certificates"
STAMP=.riogrande-chroot
LOCK=$ROOT.lock
MOUNTS=()

say() { printf 'qgis-trixie: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount need it); \
make test-qgis tests the distribution's QGIS without it"
}

# The Debian mirror and security mirror the machine's apt uses (only those may be reachable).
# Both deb822 (.sources) and one-line (.list) formats; DEBIAN_MIRROR overrides the detection.
mirror_uris() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  local file
  for file in "${files[@]}"; do
    [ -f "$file" ] || continue
    case $file in
      *.sources) sed -n 's/^URIs:[[:space:]]*//p' "$file" | tr ' ' '\n' ;;
      *) sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$file" ;;
    esac
  done | sed 's#/*$##' | awk 'NF && !seen[$0]++'
}

detect_mirrors() {
  local uris
  uris=$(mirror_uris)
  MIRROR=${DEBIAN_MIRROR:-$(printf '%s\n' "$uris" | grep -E '/debian$' | head -n1 || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SECURITY=${DEBIAN_SECURITY_MIRROR:-$(printf '%s\n' "$uris" | grep -E '/debian-security$' \
    | head -n1 || true)}
}

stamp_text() {
  printf 'suite=%s\nbackports=%s\npackages=%s\n' "$SUITE" "$BACKPORTS_PACKAGES" "$PACKAGES"
}

# Anything mounted at or below $1 (a path without a trailing slash).
mounted_below() {
  awk -v root="$1" '{ gsub(/\\040/, " ", $5); if ($5 == root || index($5, root "/") == 1) print $5 }' \
    /proc/self/mountinfo
}

# Delete a chroot folder, never while something (the checkout, /proc...) is mounted in it.
remove_tree() {
  local tree=$1
  [ -e "$tree" ] || return 0
  if [ -n "$(mounted_below "$tree")" ]; then
    die "not removing $tree: mounted below it: $(mounted_below "$tree" | tr '\n' ' ')"
  fi
  rm -rf --one-file-system "$tree"
}

# The processes whose root directory is the chroot.
chroot_processes() {
  local pid
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$ROOT" ] && echo "${pid#/proc/}"
  done
  return 0
}

# Stop what the command left running in the chroot: SIGTERM, then SIGKILL after 5 s.
stop_processes() {
  local pids pid alive deadline=$((SECONDS + 5))
  pids=$(chroot_processes)
  [ -n "$pids" ] || return 0
  say "stopping $(echo "$pids" | wc -l) process(es) left in the chroot"
  kill -s TERM $pids 2>/dev/null || true
  while :; do
    alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -n "$alive" ] && [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  [ -z "$alive" ] || kill -s KILL $alive 2>/dev/null || true
  deadline=$((SECONDS + 10))
  for pid in $alive; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  done
}

mount_one() {  # mount_one TARGET MOUNT-ARGUMENTS...
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS=("$target" "${MOUNTS[@]}")
}

unmount_all() {
  local target
  stop_processes
  for target in "${MOUNTS[@]}"; do
    umount "$target" 2>/dev/null || umount -l "$target" || say "could not unmount $target"
  done
  MOUNTS=()
}

# Trust what the machine trusts (locally added CAs, e.g. of a proxy) and resolve names as it does.
sync_host_files() {
  local root=$1 changed=0 cert
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mkdir -p "$root/usr/local/share/ca-certificates"
  for cert in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$cert" ] || continue
    if ! cmp -s "$cert" "$root/usr/local/share/ca-certificates/${cert##*/}"; then
      cp "$cert" "$root/usr/local/share/ca-certificates/" && changed=1
    fi
  done
  if [ "$changed" = 1 ] && [ -x "$root/usr/sbin/update-ca-certificates" ]; then
    chroot "$root" update-ca-certificates >/dev/null
  fi
}

in_chroot() {  # in_chroot ROOT CMD...: a clean environment, as a login would give, headless
  local root=$1
  shift
  local keep=() name
  for name in CI TERM PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT \
      http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!name:-}" ] && keep+=("$name=${!name}")
  done
  # SIGINT and SIGQUIT get their default action back: the shell ignores them in background
  # commands (and so may have whoever started this script); tests send SIGINT.
  env --default-signal=INT,QUIT \
    chroot "$root" /usr/bin/env -i "${keep[@]}" HOME=/root LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt DEBIAN_FRONTEND=noninteractive "$@"
}

build() {
  if [ -f "$ROOT/$STAMP" ] && [ "$(cat "$ROOT/$STAMP")" = "$(stamp_text)" ]; then
    say "reusing $ROOT ($(chroot_qgis_version "$ROOT"))"
    return 0
  fi
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  detect_mirrors
  local partial=$ROOT.partial started=$SECONDS
  remove_tree "$partial"
  remove_tree "$ROOT"
  say "debootstrap $SUITE from $MIRROR into $partial"
  debootstrap --variant=minbase "$SUITE" "$partial" "$MIRROR" >"$partial.log" 2>&1 \
    || { tail -n 20 "$partial.log" >&2; die "debootstrap failed (log: $partial.log)"; }
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    echo "deb $MIRROR $SUITE-backports main"
    if [ -n "$SECURITY" ]; then echo "deb $SECURITY $SUITE-security main"; fi
  } >"$partial/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$partial/etc/apt/apt.conf.d/90riogrande"
  sync_host_files "$partial"
  ROOT=$partial  # mounts and processes of the build are those of the partial tree
  mount_one "$partial/proc" -t proc proc
  say "installing $BACKPORTS_PACKAGES (from $SUITE-backports) and $PACKAGES"
  in_chroot "$partial" sh -c "apt-get update -qq && apt-get install -y -qq \
      -t $SUITE-backports $BACKPORTS_PACKAGES $PACKAGES" >>"$partial.log" 2>&1 \
    || { tail -n 20 "$partial.log" >&2; die "installing QGIS failed (log: $partial.log)"; }
  in_chroot "$partial" apt-get clean
  sync_host_files "$partial"  # the CA bundle is rebuilt now that ca-certificates is there
  unmount_all
  ROOT=${partial%.partial}
  stamp_text >"$partial/$STAMP"
  mv "$partial" "$ROOT"
  rm -f "$partial.log"
  say "built $ROOT in $((SECONDS - started)) s ($(chroot_qgis_version "$ROOT"))"
}

chroot_qgis_version() {
  chroot "$1" dpkg-query -W -f='QGIS ${Version}' qgis 2>/dev/null || echo "QGIS not installed"
}

run() {
  [ $# -gt 0 ] || die "run: no command given"
  [ -f "$ROOT/$STAMP" ] || die "no chroot at $ROOT: run '$0 build' first"
  sync_host_files "$ROOT"
  mount_one "$ROOT/proc" -t proc proc
  mount_one "$ROOT/sys" -t sysfs -o ro sysfs
  mount_one "$ROOT/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev shm
  mount_one "$ROOT/src" --bind "$REPO"
  # In the background, so that a signal to this script is handled at once (a trap waits
  # for a foreground command); the EXIT trap then stops what runs in the chroot.
  local status=0
  in_chroot "$ROOT" sh -c 'cd /src && exec "$@"' sh "$@" </dev/null &
  wait $! || status=$?
  return "$status"
}

main() {
  local command=${1:-}
  [ -n "$command" ] || die "usage: $0 build | run CMD ARG... | remove"
  shift
  require_root
  command -v flock >/dev/null || die "flock (util-linux) is needed"
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$LOCK"
  flock 9
  trap 'unmount_all' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  case $command in
    build) build ;;
    run) run "$@" ;;
    remove) remove_tree "$ROOT.partial"; remove_tree "$ROOT" ;;
    *) die "unknown command $command (build, run, remove)" ;;
  esac
}

main "$@"
