#!/usr/bin/env bash
# Install the Debian packages dopflow needs, only those missing.
# Each is listed with what it is for (the README repeats this).
set -euo pipefail

packages=(
  build-essential   # C compiler and make
  cmake             # build system
  pkg-config        # finds the libraries below
  libfftw3-dev      # FFTW: the spectra (single-precision FFTs)
  libsndfile1-dev   # libsndfile: reads WAV/FLAC/AIFF recordings, writes simulated ones
  libhdf5-dev       # HDF5: spectrogram result files (--h5) and IQ input
  hdf5-tools        # h5dump, to inspect result files
  libjansson-dev    # jansson: JSON sidecars and simulation specs
  libgsl-dev        # GSL: statistics (t and F distributions) and random numbers
  libcsv-dev        # libcsv: CSV parsing (manifests, diameter tracks)
  nettle-dev        # nettle: SHA-256 provenance and resume keys
  libmatio-dev      # libmatio: MATLAB .mat IQ recordings (v5, v7.3), read and simulated
  libcmocka-dev     # cmocka: unit tests
  libplplot-dev     # PLplot: the figures of dopflow plot (axes, colour bars, legends)
  plplot-driver-cairo  # PLplot's cairo driver: PNG, SVG and PDF output
  libcairo2-dev     # cairo: the plot tests decode the PNG figures to check their pixels
  help2man          # the manual pages, made from each command's --help at build time
  # tools/test-install.sh (what a user installs):
  python3-numpy     # the Python package (import dopflow) returns NumPy arrays
  python3-setuptools  # builds the Python package (python/setup.py)
  python3-pytest    # runs the Python package's tests (python/tests)
  python3-h5py      # dopflow.read_h5: HDF5 results into NumPy
  file              # checks that libdopflow.so is an ELF shared object
  dpkg-dev          # dpkg-shlibdeps: the .deb's Depends on the run-time libraries (cpack)
  man-db            # man -l on the installed manual pages
  libmicrohttpd-dev # libmicrohttpd: the web server of `dopflow review` (loopback only)
  python3           # the review server's HTTP tests and the browser test are Python scripts
  chromium          # headless browser: the review page test (tests/tools/review_browser_test.py)
  chromium-driver   # chromedriver: lets Selenium drive that headless Chromium
  python3-selenium  # Selenium: the browser test clicks through the review page
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
