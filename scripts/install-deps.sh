#!/usr/bin/env bash
# Installs the Debian packages fleetscale needs to build, test and demo.
# Idempotent: installs only what is missing and runs `apt-get update` only when it must install.
# Usage: scripts/install-deps.sh [--check]   (--check lists what is missing and exits 1 if anything is)
set -euo pipefail

# Build and runtime libraries.
BUILD_PACKAGES=(
  cmake ninja-build make g++ pkg-config git
  libboost-dev
  libcurl4-openssl-dev libssl-dev
  protobuf-compiler libprotobuf-dev
  prometheus-cpp-dev
  libsqlite3-dev sqlite3
  libzstd-dev
  libspdlog-dev libfmt-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Test tooling: clang + libFuzzer runtime for fuzz targets, a real Prometheus (promtool),
# formatters and linters, etcd for leader-election tests, and PyYAML for the measurement scripts.
TOOL_PACKAGES=(
  clang libclang-rt-14-dev clang-format clang-tidy
  prometheus
  python3 python3-yaml procps curl ca-certificates
  openssl
  dpkg-dev systemd
  etcd-server
)
# Node.js and npm run tools/ (Kubernetes schema validation of deploy/). Any Node.js >= 18 will do:
# Debian's packages only when no node/npm is on PATH (e.g. one from another apt source).
NODE_PACKAGES=()
command -v node >/dev/null || NODE_PACKAGES+=(nodejs)
command -v npm >/dev/null || NODE_PACKAGES+=(npm)

missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${TOOL_PACKAGES[@]}" "${NODE_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# npm packages for tools/, pinned by tools/package-lock.json, installed into tools/node_modules.
tools_dir="$(cd "$(dirname "$0")/../tools" && pwd)"
npm_stale() {
  [[ ! -f "$tools_dir/node_modules/.package-lock.json" ]] ||
    [[ "$tools_dir/package-lock.json" -nt "$tools_dir/node_modules/.package-lock.json" ]]
}

if [[ "${1:-}" == "--check" ]]; then
  npm_stale && missing+=("tools/node_modules (npm ci)")
  if ((${#missing[@]})); then echo "missing: ${missing[*]}"; exit 1; fi
  echo "all dependencies installed"; exit 0
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo $0)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The prometheus package starts a system service on install; tests start their own.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
fi

if npm_stale; then
  echo "install-deps: npm ci in tools/"
  (cd "$tools_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# kubectl is not in Debian's archive; tests that need it skip with a message when it is absent.
command -v kubectl >/dev/null || echo "install-deps: note: kubectl not found; kubectl tests will be skipped" >&2
exit 0
