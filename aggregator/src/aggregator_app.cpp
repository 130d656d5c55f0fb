#include "fleetscale/aggregator/aggregator_app.h"

#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/aggregator_metrics.h"
#include "fleetscale/aggregator/decision_json.h"
#include "fleetscale/aggregator/fleet_state.h"
#include "fleetscale/aggregator/http_api.h"
#include "fleetscale/aggregator/ingest_server.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

// Written atomically (temp file + rename) so a reader never sees half a file.
Status writeReadyFile(const std::string& path, std::uint16_t ingestPort, std::uint16_t httpPort) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << nlohmann::json{{"ingest_port", ingestPort}, {"http_port", httpPort}, {"pid", ::getpid()}}
               .dump()
        << "\n";
    if (!out) return Error{"cannot write " + temp};
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return Error{"cannot rename " + temp + ": " + ec.message()};
  return {};
}

}  // namespace

void addAggregatorOptions(CLI::App& app, AggregatorOptions& o) {
  addCommonOptions(app, o.common);
  app.add_option("--listen", o.listen, "agent stream address HOST:PORT")->capture_default_str();
  app.add_option("--http-listen", o.httpListen, "HTTP address for the API, /metrics and health")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (0 = one per CPU)")->capture_default_str();
  app.add_option("--token-file", o.tokenFile, "file with the token agents must present");
  app.add_option("--aggregator-id", o.aggregatorId, "name of this aggregator (default: hostname)");
  app.add_option("--max-frame-bytes", o.maxFrameBytes, "largest frame accepted from an agent")
      ->capture_default_str();
  app.add_option("--handshake-timeout", o.handshakeTimeout, "time an agent has to send its hello")
      ->capture_default_str();
  app.add_option("--idle-timeout", o.idleTimeout, "disconnect agents silent this long")
      ->capture_default_str();
  app.add_flag("--per-container-metrics", o.perContainerMetrics,
               "export per-container series on /metrics (high cardinality)");
  app.add_option("--ready-file", o.readyFile,
                 "write {\"ingest_port\",\"http_port\",\"pid\"} JSON here once serving");
}

int runAggregator(const AggregatorOptions& options) {
  auto log = componentLogger("aggregator");
  auto listen = parseHostPort(options.listen);
  auto httpListen = parseHostPort(options.httpListen);
  auto handshake = parseDuration(options.handshakeTimeout);
  auto idle = parseDuration(options.idleTimeout);
  auto token = readSecretFile(options.tokenFile);
  for (const auto& [flag, error] :
       {std::pair{"--listen", listen ? "" : listen.error().message},
        std::pair{"--http-listen", httpListen ? "" : httpListen.error().message},
        std::pair{"--handshake-timeout", handshake ? "" : handshake.error().message},
        std::pair{"--idle-timeout", idle ? "" : idle.error().message},
        std::pair{"--token-file", token ? "" : token.error().message}}) {
    if (!error.empty()) {
      log->error("{}: {}", flag, error);
      return 2;
    }
  }

  SystemClock clock;
  FleetState fleet;
  AggregatorMetrics metrics(options.perContainerMetrics);
  std::atomic<bool> ready{false};
  const unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));

  IngestOptions ingestOptions;
  ingestOptions.maxFrameBytes = options.maxFrameBytes;
  ingestOptions.handshakeTimeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(*handshake);
  ingestOptions.idleTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(*idle);
  ingestOptions.token = *token;
  ingestOptions.aggregatorId =
      options.aggregatorId.empty() ? localHostName() : options.aggregatorId;
  IngestServer ingest(io, ingestOptions, fleet, metrics, clock);

  HttpRouter router;
  ApiContext api{fleet, metrics, ready};
  addApiRoutes(router, api);
  HttpServer http(io, [&router](HttpRequest& request) { return router.handle(request); });

  try {
    ingest.listen(*listen);
    http.listen(*httpListen);
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
  if (!options.readyFile.empty()) {
    if (Status status = writeReadyFile(options.readyFile, ingest.port(), http.port()); !status) {
      log->error("--ready-file: {}", status.message());
      return 1;
    }
  }
  ready = true;
  log->info(
      "fleetscale-aggregator {} ({}) serving agents on {}:{} and HTTP on {}:{} with {} threads",
      kVersion, ingestOptions.aggregatorId, listen->host, ingest.port(), httpListen->host,
      http.port(), threads);
  if (ingestOptions.token.empty()) log->warn("no --token-file: any agent may connect");

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {} received, shutting down", signal);
    ready = false;
    ingest.stop();
    http.stop();
    // Give close frames a moment to go out, then stop the loop.
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(200));
    timer->async_wait([&io, timer](const boost::system::error_code&) { io.stop(); });
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : pool) thread.join();
  if (!options.readyFile.empty()) std::remove(options.readyFile.c_str());
  log->info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

// `fleetscale-aggregator decide --input snapshot.json [--config policy.yaml]`
int decideMain(int argc, char** argv) {
  CLI::App app{"evaluate one scaling decision offline from a JSON snapshot (docs/decide.md)",
               "fleetscale-aggregator decide"};
  std::string input;
  std::string config;
  app.add_option("--input", input, "snapshot JSON file")->required();
  app.add_option("--config", config, "policy file holding the snapshot's workload");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return runDecideCommand(input, config, std::cout, std::cerr);
}

int aggregatorMain(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "decide") return decideMain(argc - 1, argv + 1);
  CLI::App app{
      "fleetscale-aggregator: receives agent streams, keeps the fleet's state and "
      "serves it over HTTP and /metrics",
      "fleetscale-aggregator"};
  AggregatorOptions options;
  addAggregatorOptions(app, options);
  app.set_version_flag("--version", std::string("fleetscale-aggregator ") + kVersion);
  if (auto code = parseCommandLine(app, argc, argv)) return *code;
  if (Status status = applyLogging(options.common); !status) {
    std::cerr << "fleetscale-aggregator: " << status.message() << "\n";
    return 2;
  }
  return runAggregator(options);
}

}  // namespace fleetscale::aggregator
