#!/usr/bin/env bash
# Installs, idempotently, every Debian 12 package this project needs to build, test and run.
# Works as root or through sudo; installs nothing when everything is already there.
#   tools/install-deps.sh            install what is missing
#   tools/install-deps.sh --list     print the package list and exit
#   tools/install-deps.sh --check    exit 1 (listing them) when packages are missing
set -euo pipefail

# One line per purpose; keep in step with what CMakeLists.txt finds.
PACKAGES=(
  # compiler, build system, compiler cache
  build-essential cmake ninja-build pkg-config ccache
  # tensors: LibTorch (CPU) and an optimised BLAS for it. libtorch1.13 only *recommends*
  # a BLAS, so without naming OpenBLAS the 4-28x slower reference libblas3 serves its GEMMs.
  # The OpenMP build shares LibTorch's OpenMP runtime, so torch's thread setting governs it and
  # it runs single-threaded inside torch's parallel regions; bench/blas_variants.sh compares.
  libtorch-dev libopenblas0-openmp
  # annotations, configs and the command line
  nlohmann-json3-dev libcli11-dev
  # video and audio files (FFmpeg 5.1: H.264 + AAC in MP4), drawing the synthetic scenes; the
  # ffmpeg command line is what `avqa bench extract` compares against
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libopencv-dev ffmpeg
  # the HDF5 feature cache (C++ API) and h5dump to look inside it
  libhdf5-dev hdf5-tools
  # synthetic audio: the synthesiser and Debian's General MIDI soundfont (MIT)
  libfluidsynth-dev fluid-soundfont-gm
  # the synthetic voiceovers: a narrator's line spoken by the espeak-ng command (GPL-3, run as a
  # separate program)
  espeak-ng
  # SentencePiece (the free-form question tokenizer), linked only by the torch-free avqa-spm
  libsentencepiece-dev
  # AVQA Studio (gui/): Qt 6 widgets; the qpa plugins hold the offscreen platform its tests
  # and screenshots run on (no display needed); Qt Charts draws a training run's curves and
  # Qt Multimedia plays a video's sound. qt6-charts-dev needs Qt6OpenGL's CMake files but does
  # not depend on the package that has them (Debian 12): named here.
  qt6-base-dev qt6-qpa-plugins qt6-charts-dev libqt6opengl6-dev qt6-multimedia-dev
  # tests
  libgtest-dev
  # interop tests and bench/original.sh: Debian's Python torch runs the original ST-AVQA code
  # (../shared/peer) and reads our files; h5py reads the feature cache as a user's script would;
  # the rest is what the original dataloader imports
  python3-torch python3-torchvision python3-numpy python3-h5py python3-pandas python3-munch
  python3-pil
)

missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "installed" ] || echo "$pkg"
  done
}

case "${1:-}" in
  --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
  --check)
    missing=$(missing_packages)
    if [ -n "$missing" ]; then echo "missing Debian packages:" $missing; exit 1; fi
    exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--list|--check]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "install-deps: this script needs Debian 12 (bookworm) with apt; install the packages listed by --list by hand" >&2
  exit 1
fi

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PACKAGES[@]} Debian packages already installed"
fi

# OpenBLAS registers itself as libblas.so.3 with a higher priority than the reference BLAS, but a
# machine set to manual mode keeps whatever it had: say so loudly rather than run 4-28x slower.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
blas=$(readlink -f "/usr/lib/$multiarch/libblas.so.3" 2>/dev/null || true)
case "$blas" in
  *openblas*) echo "install-deps: libblas.so.3 -> $blas" ;;
  *) echo "install-deps: WARNING: libblas.so.3 resolves to '${blas:-nothing}', not OpenBLAS; run:" >&2
     echo "  update-alternatives --auto libblas.so.3-$multiarch" >&2 ;;
esac
