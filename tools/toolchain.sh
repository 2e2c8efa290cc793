#!/usr/bin/env bash
# Makes sure rustup has the toolchain rust-toolchain.toml pins. When it is missing
# but the installed `stable` toolchain is that very release (a machine with one
# toolchain, installed as `stable`, that cannot download another), the pinned name
# is made a symbolic link to it in rustup's toolchains folder (`rustup toolchain
# link` refuses names like 1.95.0); otherwise rustup installs the pinned release.
# Without rustup there is nothing to do.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

command -v rustup >/dev/null || exit 0
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
[ -n "$channel" ] || { echo "toolchain: no channel in rust-toolchain.toml" >&2; exit 1; }

if rustup toolchain list | grep -q "^$channel-"; then
  exit 0
fi
if stable=$(rustup run stable rustc --version 2>/dev/null) && [[ $stable == "rustc $channel "* ]]; then
  sysroot=$(rustup run stable rustc --print sysroot)
  host=$(rustup run stable rustc -vV | sed -n 's/^host: //p')
  link="$(rustup show home)/toolchains/$channel-$host"
  echo "toolchain: $channel is the installed stable ($stable): linking $link -> $sysroot" >&2
  ln -sfn "$sysroot" "$link"
  exit 0
fi
echo "toolchain: installing Rust $channel (rust-toolchain.toml)" >&2
timeout 900 rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy
