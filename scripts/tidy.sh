#!/usr/bin/env bash
# Keeps every Go module of the workspace buildable on its own (GOWORK=off):
# each go.mod gets replace lines to its siblings, then go mod tidy.
set -euo pipefail
cd "$(dirname "$0")/.."
mods=(core modules modules_k modules_s flavors tools packaging)
for m in "${mods[@]}"; do
  for s in "${mods[@]}"; do
    [ "$s" = "$m" ] && continue
    if ! grep -q "^replace sip-router.org/$s " "$m/go.mod"; then
      printf '\nreplace sip-router.org/%s => ../%s\n' "$s" "$s" >> "$m/go.mod"
    fi
  done
done
for m in "${mods[@]}"; do
  (cd "$m" && GOWORK=off go mod tidy)
done
# Collapse blank lines the appends may have left.
for m in "${mods[@]}"; do
  cat -s "$m/go.mod" > "$m/go.mod.tmp" && mv "$m/go.mod.tmp" "$m/go.mod"
done
