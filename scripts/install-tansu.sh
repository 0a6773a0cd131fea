#!/usr/bin/env bash
# Installs the test broker, tansu 0.6.0, into ~/.cargo/bin unless it is there.
# (Newer tansu releases need a newer rustc than this project's 1.95.)
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q '0\.6\.0'; then
  exit 0
fi
echo "tansu: installing 0.6.0 with cargo install (about 10 minutes on 2 cores; cached in ~/.cargo/bin afterwards)"
cargo install tansu --version 0.6.0 --locked --features dynostore,libsql
