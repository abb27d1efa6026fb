#!/usr/bin/env bash
# Regenerates the generated files (flavors/*/zmodules.go, */zall_test.go)
# from the committed tree only, in a temporary worktree, and copies them
# back. Used while uncommitted module folders are in the working tree, so
# a commit never lists modules that are not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add --quiet --detach "$wt" HEAD
(cd "$wt" && make generate >/dev/null)
for f in flavors/*/zmodules.go modules/zall_test.go modules_k/zall_test.go modules_s/zall_test.go; do
  cp "$wt/$f" "$f"
done
git status --short flavors modules/zall_test.go modules_k/zall_test.go modules_s/zall_test.go
