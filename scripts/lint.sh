#!/usr/bin/env bash
# `make lint`: formatting (clang-format, .clang-format) and bug-finding checks (clang-tidy,
# .clang-tidy) over every C++ source, using the dev build's compile database.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
echo "==> clang-format"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
echo "==> clang-tidy"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$JOBS" --target fleetscale_proto >/dev/null
git ls-files '*.cpp' | grep -v '^tests/fuzz/' |
  xargs -P "$JOBS" -n 4 clang-tidy -p build/dev --quiet 2>/dev/null
echo "lint clean"
