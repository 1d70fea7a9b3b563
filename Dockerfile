# syntax=docker/dockerfile:1
# The concentrator image: `Concentrator run --config FILE` (helm/concentrator mounts the config at
# /etc/concentrator/config/concentrator.yaml and its PSK Secret at /etc/concentrator/secrets).
#   docker build -t concentrator:0.1.0 .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first so the package layer is reused while only sources change.
COPY global.json Directory.Build.props ./
COPY Concentrator/Concentrator.csproj Concentrator/
RUN dotnet restore Concentrator/Concentrator.csproj
COPY Concentrator/ Concentrator/
RUN dotnet publish Concentrator/Concentrator.csproj -c Release --no-restore -o /app /p:UseAppHost=true

# ASP.NET Core runtime: the project is Sdk.Web (/healthz, /readyz, /metrics, admin API).
FROM mcr.microsoft.com/dotnet/aspnetcore:10.0 AS runtime
COPY --from=build /app /app
# Non-root where the capabilities allow. The data plane needs CAP_NET_ADMIN (TUN device, routes) and
# CAP_NET_RAW (ESP as IP protocol 50). Kubernetes cannot hand capabilities to a non-root process
# (no ambient capabilities), so they are file capabilities of the apphost: the process runs as the
# image's unprivileged user `app` (uid 1654) and holds exactly these two. The price: file
# capabilities work only without no_new_privs, i.e. with allowPrivilegeEscalation: true, and the pod
# must add both capabilities to its bounding set (exec fails with EPERM otherwise). The alternative,
# root with only these capabilities added and allowPrivilegeEscalation false, trades a root uid for
# no_new_privs; helm/concentrator/README.md ("Privileges") shows both. UDP 500 below 1024 is bound
# through the pod's net.ipv4.ip_unprivileged_port_start=0, not a third capability.
# Concentrator.Tests/Helm/ImagePrivilegesRootTests checks this on the built apphost: as an unprivileged
# uid with bounding set {net_admin, net_raw} it creates the TUN device, binds 500/4500 and opens the ESP
# socket; under no_new_privs TUNSETIFF fails with EPERM, and without NET_ADMIN in the bounding set exec fails.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_admin,cap_net_raw+ep /app/Concentrator \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
USER app
WORKDIR /app
ENV DOTNET_gcServer=0 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
EXPOSE 500/udp 4500/udp 9400/tcp 4053/tcp 8558/tcp
ENTRYPOINT ["/app/Concentrator"]
CMD ["run", "--config", "/etc/concentrator/config/concentrator.yaml"]
