#!/usr/bin/env bash
# The test command of the README and of CI: installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Concentrator.sln -c Release -nologo -v quiet
dotnet test Concentrator.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" \
  --blame-hang-timeout 10m "$@"
