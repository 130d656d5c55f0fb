# fleetscale image: fleetscale-agent, fleetscale-aggregator and fleetscalectl on Debian 12 slim.
# One image for both: the manifests in deploy/ choose the binary with `command:`.
#
#   docker build -t registry.example.com/fleetscale/fleetscale:0.1.0 .
#
# Not built by `make test` (the build machines have no container engine); keep it simple.
# The build stage installs the same Debian packages as scripts/install-deps.sh and builds the
# release preset; the runtime stage gets only the shared libraries the binaries link (listed by
# the .deb's dependencies, computed by dpkg-shlibdeps) and runs as an unprivileged user.

FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      cmake ninja-build make g++ pkg-config git ca-certificates dpkg-dev file \
      libboost-dev libcurl4-openssl-dev libssl-dev protobuf-compiler libprotobuf-dev \
      prometheus-cpp-dev libsqlite3-dev libzstd-dev libspdlog-dev libfmt-dev libyaml-cpp-dev \
      nlohmann-json3-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DFLEETSCALE_BUILD_BENCH=OFF \
    && cmake --build --preset release --target fleetscale-agent fleetscale-aggregator fleetscalectl \
    && cd build/release && cpack -G DEB \
    && dpkg-deb -f fleetscale_*.deb Depends > /depends \
    && dpkg-deb -x fleetscale_*.deb /out

FROM debian:12-slim
COPY --from=build /depends /tmp/depends
# The runtime libraries named by the package's Depends (e.g. libprotobuf32, libcurl4, libsqlite3-0).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
         $(tr ',' '\n' < /tmp/depends | sed -E 's/\(.*\)//; s/\|.*//' | tr -d ' ') \
    && rm -rf /var/lib/apt/lists/* /tmp/depends
COPY --from=build /out/usr/bin/fleetscale-agent /out/usr/bin/fleetscale-aggregator \
     /out/usr/bin/fleetscalectl /usr/bin/
# The UID the manifests run as (runAsUser: 65532); no shell login, no home.
RUN groupadd --gid 65532 fleetscale \
    && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin fleetscale
USER 65532:65532
EXPOSE 7070 7080 7071
ENTRYPOINT ["/usr/bin/fleetscale-aggregator"]
