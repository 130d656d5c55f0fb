# `cmake --install` and the Debian package (`make package` runs CPack on the release build).
# Layout (prefix /usr in the package):
#   bin/fleetscale-agent, bin/fleetscale-aggregator, bin/fleetscalectl
#   lib/systemd/system/fleetscale-{agent,aggregator}.service   (ExecStart=/usr/bin/...)
#   share/doc/fleetscale/examples/   env files and a VM policy to copy to /etc/fleetscale
#   share/fleetscale/prometheus/     alert rules and scrape configs
#   share/fleetscale/grafana/        the dashboard
# The units name /usr/bin: installed under another prefix, override ExecStart in a drop-in.
include(GNUInstallDirs)

set(FLEETSCALE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where unit files go, relative to the install prefix")

# fleetscale-agent has its install rule in agent/CMakeLists.txt.
install(TARGETS fleetscale-aggregator fleetscalectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES systemd/fleetscale-agent.service systemd/fleetscale-aggregator.service
        DESTINATION ${FLEETSCALE_SYSTEMD_UNIT_DIR})
install(FILES systemd/agent.env.example systemd/aggregator.env.example
              systemd/policy.example.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES deploy/prometheus/rules/fleetscale-aggregator.rules.yml
              deploy/prometheus/rules/fleetscale-agent.rules.yml
              deploy/prometheus/prometheus-vm.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetscale/prometheus)
install(FILES deploy/grafana/fleetscale-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fleetscale/grafana)
install(FILES README.md docs/install-vm.md docs/monitoring.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetscale)
set(CPACK_PACKAGE_VENDOR "fleetscale")
set(CPACK_PACKAGE_CONTACT "fleetscale maintainers <maintainers@fleetscale.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "multi-cloud elastic scaler: per-node cgroup agent and fleet-wide aggregator")
set(CPACK_PACKAGE_DESCRIPTION
    "fleetscale-agent reads each container's CPU and memory from cgroups once a second and\n\
streams it to fleetscale-aggregator, which decides replica counts fleet-wide and scales\n\
workloads across clusters or VM fleets. Includes hardened systemd units.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debug builds carry hundreds of MiB of symbols; the package ships stripped binaries.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/fleetscale/fleetscale")
# Library dependencies from the binaries themselves (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
