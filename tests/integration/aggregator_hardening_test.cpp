// Issue 19, end to end against the real fleetscale-aggregator, the way an outside tester probes it:
// hand-made protobuf frames, raw HTTP, token files emptied under it, hostile policies, absurd
// durations. Authentication fails closed; hostile text and numbers never reach the store or turn
// an answer into a 500; durations never overflow.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/sqlite.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::seconds;
using Tcp = asio::ip::tcp;

std::unique_ptr<testing::Process> startAggregator(const testing::TempDir& dir,
                                                  std::vector<std::string> extra = {}) {
  std::remove(dir.file("ready.json").c_str());
  std::vector<std::string> args{
      "--listen",    "127.0.0.1:0",     "--http-listen", "127.0.0.1:0",
      "--state-dir", dir.file("state"), "--ready-file",  dir.file("ready.json"),
      "--tick",      "200ms",           "--threads",     "2"};
  args.emplace_back("--http-anonymous-reads");  // these tests read the API without a token
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<testing::Process>(testing::binaryPath("fleetscale-aggregator"), args);
}

// The exit status of an aggregator that must refuse to start, and what it said.
std::pair<int, std::string> refusedStart(const testing::TempDir& dir,
                                         std::vector<std::string> extra) {
  auto aggregator = startAggregator(dir, std::move(extra));
  const auto status = aggregator->wait(seconds(20));
  return {status.value_or(-1000), aggregator->errors()};
}

// Speaks the agent protocol by hand, over a blocking socket.
class RawAgent {
 public:
  explicit RawAgent(int port) : socket_(io_) {
    socket_.connect(
        Tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)));
  }
  void send(const v1::Envelope& envelope) {
    asio::write(socket_, asio::buffer(encodeEnvelopeFrame(envelope)));
  }
  void hello(const std::string& agentId, const std::string& token) {
    v1::Envelope envelope;
    auto* h = envelope.mutable_hello();
    h->set_agent_id(agentId);
    h->set_node("node-1");
    h->set_cluster("probe");
    h->set_auth_token(token);
    h->set_protocol_version(kProtocolVersion);
    send(envelope);
  }
  // The next envelope; std::nullopt once the aggregator closed the connection.
  std::optional<v1::Envelope> receive() {
    unsigned char header[4];
    boost::system::error_code ec;
    asio::read(socket_, asio::buffer(header), ec);
    if (ec) return std::nullopt;
    std::string payload((std::size_t{header[0]} << 24) | (std::size_t{header[1]} << 16) |
                            (std::size_t{header[2]} << 8) | header[3],
                        '\0');
    asio::read(socket_, asio::buffer(payload), ec);
    if (ec) return std::nullopt;
    auto envelope = decodeEnvelope(payload);
    return envelope ? std::optional(*envelope) : std::nullopt;
  }

 private:
  asio::io_context io_;
  Tcp::socket socket_;
};

// Sends raw bytes to the HTTP port and returns the whole answer (the server closes after it).
std::string rawHttp(int port, const std::string& request) {
  asio::io_context io;
  Tcp::socket socket(io);
  socket.connect(
      Tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)));
  asio::write(socket, asio::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(answer), ec);
  return answer;
}

std::string rawGet(int port, const std::string& target) {
  return rawHttp(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

int statusOf(const std::string& answer) {
  return answer.size() > 12 ? std::atoi(answer.substr(9, 3).c_str()) : 0;
}

std::string policyWithCluster(const std::string& name, const std::string& extra = "") {
  return extra + "clusters:\n  - name: " + name +
         "\n    webhook:\n      url: http://127.0.0.1:1/scale\n"
         "workloads:\n  - namespace: shop\n    name: web\n    maxReplicas: 4\n    clusters: [" +
         name +
         "]\n    metrics:\n      - type: Resource\n        resource: {name: cpu, target: {type: "
         "Utilization, averageUtilization: 50}}\n";
}

std::string api(const testing::ReadyPorts& ports) {
  return "http://127.0.0.1:" + std::to_string(ports.http);
}

// Item 2: an empty --token-file turned authentication off at startup ("no --token-file: any
// agent may connect" although the flag was given).
TEST(AggregatorHardeningTest, ATokenFileThatHoldsNoTokenIsAStartupError) {
  testing::TempDir dir;
  for (const char* content : {"", "\n  \n"}) {
    testing::writeFile(dir.file("token"), content);
    const auto [status, errors] = refusedStart(dir, {"--token-file", dir.file("token")});
    EXPECT_EQ(status, 2) << errors;
    EXPECT_NE(errors.find("--token-file: " + dir.file("token") + " is empty"), std::string::npos)
        << errors;
    EXPECT_EQ(errors.find("any agent may connect"), std::string::npos) << errors;
    const auto [adminStatus, adminErrors] =
        refusedStart(dir, {"--admin-token-file", dir.file("token")});
    EXPECT_EQ(adminStatus, 2) << adminErrors;
    EXPECT_NE(adminErrors.find("--admin-token-file: "), std::string::npos) << adminErrors;
  }
  const auto [status, errors] = refusedStart(dir, {"--token-file", dir.file("missing")});
  EXPECT_EQ(status, 2) << errors;
}

// Item 2: a token file emptied before SIGHUP turned authentication off. The old token stays,
// the failure is logged and recorded, and an agent without the token is still refused.
TEST(AggregatorHardeningTest, ASighupOnAnEmptiedTokenFileKeepsTheOldToken) {
  testing::TempDir dir;
  testing::writeFile(dir.file("token"), "old-token\n");
  auto aggregator = startAggregator(dir, {"--token-file", dir.file("token")});
  const auto ports = testing::waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.ingest, 0) << aggregator->errors();
  testing::writeFile(dir.file("token"), "");
  ::kill(aggregator->pid(), SIGHUP);
  json events;
  ASSERT_TRUE(testing::waitFor([&] {
    events = testing::httpGetJson(api(ports) + "/api/v1/events?kind=config_reload");
    return events.is_object() && !events["items"].empty();
  })) << aggregator->errors();
  EXPECT_EQ(events["items"][0]["message"].get<std::string>().rfind(
                "reload failed: --token-file: " + dir.file("token") + " is empty", 0),
            0u)
      << events;

  RawAgent anonymous(ports.ingest);
  anonymous.hello("anonymous", "");
  auto refused = anonymous.receive();
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::Error::CODE_UNAUTHENTICATED);
  RawAgent holder(ports.ingest);
  holder.hello("holder", "old-token");
  auto accepted = holder.receive();
  ASSERT_TRUE(accepted && accepted->has_hello_ack()) << "the old token still works";
  EXPECT_NE(aggregator->errors().find("keeping the current tokens"), std::string::npos);
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
}

// Item 7: --idle-timeout 3000000h wrapped negative and disconnected every agent at once;
// since=2562048h returned nothing; absurd policy durations were accepted.
TEST(AggregatorHardeningTest, DurationsThatWouldOverflowAreRefusedEverywhere) {
  testing::TempDir dir;
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--idle-timeout", "3000000h"},
                                                        {"--idle-timeout", "25h"},
                                                        {"--event-retention", "2562048h"},
                                                        {"--handshake-timeout", "1e300s"}}) {
    const auto [status, errors] = refusedStart(dir, {flag, value});
    EXPECT_EQ(status, 2) << flag << " " << value << ": " << errors;
    EXPECT_NE(errors.find(flag + ": '" + value + "'"), std::string::npos) << errors;
  }
  testing::writeFile(dir.file("policy.yaml"),
                     policyWithCluster("vm", "defaults:\n  downscaleStabilization: 3000000h\n"));
  const auto [policyStatus, policyErrors] =
      refusedStart(dir, {"--policy", dir.file("policy.yaml")});
  EXPECT_EQ(policyStatus, 2) << policyErrors;
  EXPECT_NE(policyErrors.find("defaults.downscaleStabilization: '3000000h' is longer than"),
            std::string::npos)
      << policyErrors;

  testing::writeFile(dir.file("policy.yaml"), policyWithCluster("vm"));
  auto aggregator = startAggregator(dir, {"--policy", dir.file("policy.yaml")});
  const auto ports = testing::waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  for (const char* target : {"/api/v1/events?since=2562048h", "/api/v1/decisions?since=2562048h",
                             "/api/v1/workloads/shop/web?since=2562048h"}) {
    const std::string answer = rawGet(ports.http, target);
    EXPECT_EQ(statusOf(answer), 400) << target << ": " << answer;
    EXPECT_NE(answer.find("longer than the maximum duration"), std::string::npos) << answer;
  }
  EXPECT_EQ(statusOf(rawGet(ports.http, "/api/v1/events?since=87600h")), 200);
  // A reload with an absurd duration is rejected; the running policy stays.
  testing::writeFile(dir.file("policy.yaml"),
                     policyWithCluster("vm", "defaults:\n  cpuInitializationPeriod: 100000h\n"));
  ::kill(aggregator->pid(), SIGHUP);
  EXPECT_TRUE(testing::waitFor([&] {
    auto events = testing::httpGetJson(api(ports) + "/api/v1/events?kind=config_reload");
    return events.is_object() && !events["items"].empty() &&
           events["items"][0]["message"].get<std::string>().find("policy reload rejected") !=
               std::string::npos;
  })) << aggregator->errors();
  auto status = testing::httpGetJson(api(ports) + "/api/v1/status");
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["workloads"].size(), 1u) << "the running policy stays";
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
}

// Item 4: a policy with a non-UTF-8 cluster name was accepted; /api/v1/status then answered 500,
// and /api/v1/events kept answering 500 after the policy was fixed (the stored event held the
// bytes, for the 720 h retention).
TEST(AggregatorHardeningTest, TextThatIsNotUtf8NeverTurnsAnAnswerInto500) {
  testing::TempDir dir;
  testing::writeFile(dir.file("bad.yaml"), policyWithCluster("vm\xff"));
  const auto [status, errors] = refusedStart(dir, {"--policy", dir.file("bad.yaml")});
  EXPECT_EQ(status, 2) << errors;
  EXPECT_NE(errors.find("not valid UTF-8"), std::string::npos) << errors;

  // An event such as an older version stored, holding the raw bytes.
  testing::writeFile(dir.file("policy.yaml"), policyWithCluster("vm"));
  {
    auto aggregator = startAggregator(dir, {"--policy", dir.file("policy.yaml")});
    ASSERT_GT(testing::waitForReadyFile(dir.file("ready.json")).http, 0) << aggregator->errors();
    ASSERT_EQ(aggregator->stop(SIGTERM), 0);
  }
  {
    auto db = SqliteDatabase::open(dir.file("state/aggregator.db"));
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto insert = (*db)->prepare(
        "INSERT INTO events(ts_ms, kind, cluster, agent_id, workload, message, details) "
        "VALUES(strftime('%s','now') * 1000, 'config_reload', ?, '', '', ?, '{}')");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->bind(1, std::string("vm\xff"))
                    .bind(2, std::string("policy reloaded: 1 clusters (vm\xff)"))
                    .run());
  }
  auto aggregator = startAggregator(dir, {"--policy", dir.file("policy.yaml")});
  const auto ports = testing::waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  const auto events = testing::httpGet(api(ports) + "/api/v1/events?limit=1000");
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_NE(events.body.find("vm\xef\xbf\xbd"), std::string::npos)
      << "the old row, repaired: " << events.body;

  // The policy turns bad while running: the reload is refused and nothing answers 500.
  testing::writeFile(dir.file("policy.yaml"), policyWithCluster("vm\xff"));
  ::kill(aggregator->pid(), SIGHUP);
  EXPECT_TRUE(testing::waitFor([&] {
    auto reloads = testing::httpGetJson(api(ports) + "/api/v1/events?kind=config_reload");
    return reloads.is_object() && !reloads["items"].empty() &&
           reloads["items"][0]["message"].get<std::string>().find("not valid UTF-8") !=
               std::string::npos;
  })) << aggregator->errors();
  for (const char* path : {"/api/v1/status", "/api/v1/events", "/api/v1/clusters"}) {
    const auto answer = testing::httpGet(api(ports) + path);
    EXPECT_EQ(answer.status, 200) << path << ": " << answer.body;
    EXPECT_TRUE(json::parse(answer.body, nullptr, false).is_object()) << answer.body;
  }
  const std::string metrics = testing::httpGet(api(ports) + "/metrics").body;
  EXPECT_NE(metrics.find("fleetscale_store_rows_repaired_total{table=\"events\"} "),
            std::string::npos);
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
  EXPECT_EQ(aggregator->errors().find('\xff'), std::string::npos) << "no raw byte in the log";
}

// Item 4: "%ff" in any URL path answered 500 and wrote the raw byte into the log; agent ids with
// newlines forged log lines.
TEST(AggregatorHardeningTest, HostileUrlsAre4xxAndAgentTextCannotForgeLogLines) {
  testing::TempDir dir;
  auto aggregator = startAggregator(dir);
  const auto ports = testing::waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.http, 0) << aggregator->errors();
  for (const char* target :
       {"/%ff", "/api/v1/workloads/%ff/web", "/api/v1/events?kind=%ff", "/api/v1/nodes%0a2026"}) {
    const std::string answer = rawGet(ports.http, target);
    EXPECT_EQ(statusOf(answer), 400) << target << ": " << answer;
  }
  EXPECT_EQ(statusOf(rawHttp(ports.http, "NOT HTTP AT ALL\r\n\r\n")), 400);
  EXPECT_EQ(statusOf(rawHttp(ports.http,
                             "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n")),
            431);

  const std::string forged = "2026-01-01T00:00:00.000Z info  [aggregator] forged line";
  RawAgent agent(ports.ingest);
  agent.hello("evil\n" + forged + "\x1b[2J", "");
  auto ack = agent.receive();
  ASSERT_TRUE(ack && ack->has_hello_ack());
  const std::string metrics = testing::httpGet(api(ports) + "/metrics").body;
  EXPECT_NE(metrics.find("fleetscale_http_rejected_requests_total{reason=\"bad_encoding\"} 4"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("fleetscale_http_rejected_requests_total{reason=\"malformed\"} 1"),
            std::string::npos);
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
  const std::string log = aggregator->errors();
  EXPECT_NE(log.find("agent evil\\n" + forged + "\\x1b[2J connected"), std::string::npos) << log;
  EXPECT_EQ(log.find("\n" + forged), std::string::npos) << "no forged line: " << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "no terminal escape reaches the log";
}

// Item 8: CPU 1e308 cores, memory 2^64-1 and interval_seconds 1e9 were folded (a node with that
// interval never went stale).
TEST(AggregatorHardeningTest, AFigureOutOfRangeIsRefusedCountedAndNeverFolded) {
  testing::TempDir dir;
  auto aggregator = startAggregator(dir);
  const auto ports = testing::waitForReadyFile(dir.file("ready.json"));
  ASSERT_GT(ports.ingest, 0) << aggregator->errors();
  RawAgent agent(ports.ingest);
  agent.hello("agent-1", "");
  ASSERT_TRUE(agent.receive().has_value());
  v1::Envelope envelope;
  auto* batch = envelope.mutable_batch();
  batch->set_sequence(1);
  batch->set_interval_seconds(1e9);
  auto* container = batch->add_containers();
  container->set_id("c1");
  container->set_cpu_cores(1e308);
  agent.send(envelope);
  auto reply = agent.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_NE(reply->error().message().find("interval_seconds 1e+09 is out of range"),
            std::string::npos)
      << reply->error().message();
  const std::string metrics = testing::httpGet(api(ports) + "/metrics").body;
  EXPECT_NE(metrics.find("fleetscale_ingest_decode_errors_total{reason=\"out_of_range\"} 1"),
            std::string::npos)
      << metrics;
  auto nodes = testing::httpGetJson(api(ports) + "/api/v1/nodes");
  ASSERT_TRUE(nodes.is_object());
  for (const auto& node : nodes["items"]) EXPECT_EQ(node["batches_accepted"], 0) << node;
  EXPECT_EQ(aggregator->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace fleetscale
