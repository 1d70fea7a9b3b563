# syntax=docker/dockerfile:1
# The concentrator image: `Concentrator run --config FILE` (helm/concentrator mounts the config at
# /etc/concentrator/config/concentrator.yaml and its PSK Secret at /etc/concentrator/secrets).
#   docker build --build-arg SOURCE_REVISION=$(git rev-parse --short HEAD) -t concentrator:0.1.0 .
# The tag is the chart's default image (image.repository:appVersion); README "Deploying on Kubernetes" pushes it.
# Concentrator.Tests/Helm/DockerfileBuildTests replays the build stage below (its COPY lines under .dockerignore,
# its RUN lines) without an engine and checks the published apphost starts.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first so the package layer is reused while only sources change.
COPY global.json Directory.Build.props ./
COPY Concentrator/Concentrator.csproj Concentrator/
# The build machine's runtime identifier (ReadyToRun, Concentrator.csproj): restore and publish must name the same.
RUN dotnet restore Concentrator/Concentrator.csproj --use-current-runtime
COPY Concentrator/ Concentrator/
# .git is not in the context: the commit reaches concentrator_build_info through this argument.
ARG SOURCE_REVISION=""
RUN dotnet publish Concentrator/Concentrator.csproj -c Release --no-restore --use-current-runtime --self-contained false \
    -o /app /p:UseAppHost=true \
    "/p:SourceRevisionId=${SOURCE_REVISION}"

# ASP.NET Core runtime: the project is Sdk.Web (/healthz, /readyz, /metrics, admin API).
FROM mcr.microsoft.com/dotnet/aspnetcore:10.0 AS runtime
COPY --from=build /app /app
# Two ways to hold exactly CAP_NET_ADMIN (TUN device, routes) and CAP_NET_RAW (ESP as IP protocol 50):
# - helm/concentrator (Kubernetes): uid 0 with only these two capabilities added, every other one dropped,
#   allowPrivilegeEscalation: false (no_new_privs) and a read-only root file system. Kubernetes hands added
#   capabilities to uid 0 only, and file capabilities are ignored under no_new_privs.
# - a plain `docker run --cap-add NET_ADMIN --cap-add NET_RAW`: the image's unprivileged user (uid 1654, `app`)
#   gets both from the apphost's file capabilities below (Docker sets no no_new_privs by default; the
#   bounding set must hold both, or exec fails with EPERM).
# setcap is installed and purged in one layer (COPY --from drops the security.capability xattr under some
# builders, so it runs here): the final image holds no tool the process does not use.
# UDP 500 below 1024 is bound through net.ipv4.ip_unprivileged_port_start=0 (the chart's pod sysctl; Docker
# sets it in a container's network namespace by default), not a third capability.
# Concentrator.Tests/Helm/ImagePrivilegesRootTests checks both on the built apphost: it creates the TUN device,
# binds 500/4500 and opens the ESP socket holding just these two capabilities; as non-root under no_new_privs
# TUNSETIFF fails with EPERM, and without NET_ADMIN in the bounding set exec fails.
# libipsec-mb1: intel-ipsec-mb for ESP AES-GCM (noble ships 1.5; without it, or another version, OpenSSL does GCM).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin libipsec-mb1 \
 && setcap cap_net_admin,cap_net_raw+ep /app/Concentrator \
 && apt-get purge -y --auto-remove libcap2-bin && rm -rf /var/lib/apt/lists/*
# Numeric, so a kubelet enforcing runAsNonRoot can verify it (a name cannot be checked without the image's passwd).
USER 1654
WORKDIR /app
ENV DOTNET_gcServer=0 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
EXPOSE 500/udp 4500/udp 9400/tcp 4053/tcp 8558/tcp
ENTRYPOINT ["/app/Concentrator"]
CMD ["run", "--config", "/etc/concentrator/config/concentrator.yaml"]
