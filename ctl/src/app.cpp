#include "fleetscale/ctl/app.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fleetscale/ctl/connection.h"
#include "fleetscale/ctl/table.h"
#include "fleetscale/ctl/views.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/version.h"
#include "format.h"

namespace fleetscale::ctl {
namespace {

using nlohmann::json;
using namespace format;

struct CtlOptions {
  std::string output = "table";
  std::string cluster, node, namespaceName, workload, kind, agent, since, limit;
  std::string topWhat = "all";
  std::string target;  // explain's namespace/name, drain's cluster
};

// One API call and how to render its answer; an error from `render` means "not found".
struct CtlRequest {
  std::string method;
  std::string path;
  std::function<Result<std::string>(const json&)> render;
  // What a mutating call does, for messages ("drain cluster aws"); "" for reads.
  std::string action;
  // Extra detail: an error answer (an older aggregator without the route) skips it, and -o json
  // leaves it out.
  bool optional = false;
};

template <typename Render>
CtlRequest get(std::string path, Render render) {
  return CtlRequest{"GET", std::move(path),
                    [render](const json& body) -> Result<std::string> { return render(body); }, ""};
}

// The connection flags. Their environment variables and the config file are merged in by
// resolveConnection, not by CLI11, so that one rule decides and tests inject the environment.
// Binds CLI11 options to its members: it must outlive parsing and stay where it is.
class ConnectionFlagOptions {
 public:
  explicit ConnectionFlagOptions(CLI::App& app) {
    for (const auto& key : connectionKeys()) {
      const std::string name(key.key);
      const std::string help = std::string(key.help) + "; env " + std::string(key.environment);
      options_[name] = name == kInsecureFlag ? app.add_flag("--" + name, insecure_, help)
                                             : app.add_option("--" + name, values_[name], help)
                                                   ->type_name(key.isPath         ? "FILE"
                                                               : name == "server" ? "URL"
                                                                                  : "TOKEN");
    }
    configOption_ =
        app.add_option("--config", config_,
                       "config file with connection contexts (below); env FLEETSCALE_CTL_CONFIG; "
                       "default $XDG_CONFIG_HOME/fleetscale/ctl.yaml, else "
                       "~/.config/fleetscale/ctl.yaml, read when it exists")
            ->type_name("FILE");
    contextOption_ = app.add_option("--context", context_,
                                    "the config file's context to use instead of its "
                                    "current-context; env FLEETSCALE_CONTEXT")
                         ->type_name("NAME");
  }
  ConnectionFlagOptions(const ConnectionFlagOptions&) = delete;
  ConnectionFlagOptions& operator=(const ConnectionFlagOptions&) = delete;

  // The flags given, after parsing.
  ConnectionFlags given() const {
    ConnectionFlags flags;
    for (const auto& [name, option] : options_) {
      if (option->count() == 0) continue;
      flags.settings[name] =
          name == kInsecureFlag ? (insecure_ ? "true" : "false") : values_.at(name);
    }
    if (configOption_->count() != 0) flags.config = config_;
    if (contextOption_->count() != 0) flags.context = context_;
    return flags;
  }

 private:
  static constexpr const char* kInsecureFlag = "insecure-skip-tls-verify";
  std::map<std::string, std::string> values_;
  std::map<std::string, CLI::Option*> options_;
  bool insecure_ = false;
  std::string config_, context_;
  CLI::Option* configOption_ = nullptr;
  CLI::Option* contextOption_ = nullptr;
};

// Hands every request to a client the caller owns.
class BorrowedHttpClient final : public HttpClient {
 public:
  explicit BorrowedHttpClient(HttpClient& http) : http_(http) {}
  Result<HttpClientResponse> send(const HttpClientRequest& request) override {
    return http_.send(request);
  }

 private:
  HttpClient& http_;
};

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

constexpr const char* kHowToPassAToken =
    "pass --token-file or --token (FLEETSCALE_CTL_TOKEN_FILE, FLEETSCALE_TOKEN), or set token-file "
    "in "
    "the config file's context";

// What to tell the operator when a request got no HTTP answer: what probably went wrong and which
// setting fixes it. The TLS cases go by CurlHttpClient's error codes (http_client.h) and, to tell
// a plain-HTTP port from other handshake failures, by OpenSSL's wording.
std::string transportFailure(const Error& error, const Connection& connection) {
  const std::string& detail = error.message;
  const std::string& server = connection.server;
  const bool https = server.rfind("https://", 0) == 0;
  const bool clientCertificate = !connection.tls.clientCertFile.empty();
  if (error.code == kHttpTlsVerifyFailed) {
    if (connection.caOrigin.empty()) {
      return "cannot verify the certificate of the aggregator at " + server +
             " against the system's CAs (" + detail +
             "): pass the CA that signed it with --certificate-authority FILE "
             "(FLEETSCALE_CA_FILE, or certificate-authority in the config file's context)";
    }
    return "cannot verify the certificate of the aggregator at " + server + " against the CA " +
           connection.tls.caFile + " from " + connection.caOrigin + " (" + detail +
           "): is that the CA that signed the aggregator's certificate (--certificate-authority), "
           "and was the certificate issued for this host name?";
  }
  if (https &&
      (contains(detail, "wrong version number") || contains(detail, "packet length too long") ||
       contains(detail, "record layer failure"))) {
    return "the aggregator at " + server +
           " does not speak TLS on that port: it looks like a plain-HTTP port, so use http:// "
           "(or start the aggregator with --http-tls-cert-file and --http-tls-key-file) (" +
           detail + ")";
  }
  if (https &&
      (contains(detail, "certificate required") || contains(detail, "alert handshake failure") ||
       contains(detail, "alert bad certificate") || contains(detail, "alert unknown ca"))) {
    return "the aggregator at " + server + " refused the TLS connection (" + detail + "): " +
           (clientCertificate
                ? "it does not accept the client certificate " + connection.tls.clientCertFile +
                      " (--client-certificate): is it signed by the CA the aggregator trusts "
                      "for clients?"
                : "it probably asks for a client certificate: pass --client-certificate and "
                  "--client-key");
  }
  if (!https && error.code == kHttpNoAnswer) {
    return "the aggregator at " + server + " gave no HTTP answer (" + detail +
           "): if it serves HTTPS on that port, use https://";
  }
  if (error.code == kHttpTlsFailed) {
    return "TLS with the aggregator at " + server + " failed: " + detail;
  }
  return "cannot reach the aggregator at " + server + ": " + detail;
}

// What to tell the operator about a 401 or 403.
std::string authFailure(long status, const std::string& answer, const CtlRequest& request,
                        const Connection& connection) {
  const std::string said = " (the aggregator said: " + answer + ")";
  if (connection.token.empty()) {
    if (status == 401) return std::string("the aggregator needs a token: ") + kHowToPassAToken;
    return (request.action.empty() ? std::string("this request") : request.action) +
           " was refused without a token" + said + ": " + kHowToPassAToken;
  }
  if (status == 401) {
    return "the aggregator did not accept the token from " + connection.tokenOrigin + said +
           ": is it a token of this aggregator, and still valid?";
  }
  if (!request.action.empty()) {
    return "this token's role may not " + request.action +
           ": an admin token is needed (token from " + connection.tokenOrigin + ")" + said;
  }
  return "the aggregator refused the token from " + connection.tokenOrigin + said;
}

Result<std::string> explainLatest(const std::string& workload, const json& body) {
  if (items(body).empty()) {
    return Error{"no decision recorded for " + workload +
                 " (is it in the policy, and has the aggregator seen its pods?)"};
  }
  return explainView(items(body)[0]);
}

std::string workloadsTable(const json& body) {
  Rows rows;
  for (const auto& w : items(body)) {
    rows.push_back({text(field(w, "namespace")),
                    text(field(w, "kind")) + "/" + text(field(w, "name")),
                    std::to_string(field(w, "clusters").size()),
                    text(field(w, "replicas_ready")) + "/" + text(field(w, "replicas")),
                    cores(field(w, "cpu_usage_cores")), cores(field(w, "cpu_request_cores")),
                    percent(field(w, "cpu_utilization")), bytes(field(w, "memory_usage_bytes")),
                    percent(field(w, "memory_utilization"))});
  }
  return renderTable({"NAMESPACE", "WORKLOAD", "CLUSTERS", "READY", "CPU(cores)", "CPU REQUEST",
                      "CPU%", "MEMORY", "MEMORY%"},
                     rows);
}

std::string clustersTable(const json& body) {
  Rows rows;
  for (const auto& c : items(body)) {
    const int nodes = static_cast<int>(number(field(c, "nodes")));
    rows.push_back(
        {text(field(c, "name")), text(field(c, "health")),
         std::to_string(nodes - static_cast<int>(number(field(c, "stale_nodes")))) + "/" +
             std::to_string(nodes),
         text(field(c, "agents_connected")), text(field(c, "containers")),
         text(field(c, "workloads")),
         cores(field(c, "cpu_usage_cores")) + "/" + cores(field(c, "cpu_capacity_cores")),
         bytes(field(c, "memory_usage_bytes")) + "/" + bytes(field(c, "memory_capacity_bytes"))});
  }
  return renderTable({"CLUSTER", "HEALTH", "NODES(fresh)", "AGENTS", "CONTAINERS", "WORKLOADS",
                      "CPU(cores)", "MEMORY"},
                     rows);
}

std::string nodesTable(const json& body) {
  Rows rows;
  for (const auto& n : items(body)) {
    const std::string status = field(n, "stale") == true       ? "stale"
                               : field(n, "connected") == true ? "connected"
                                                               : "disconnected";
    rows.push_back(
        {text(field(n, "cluster")), text(field(n, "node")), status, text(field(n, "containers")),
         cores(field(n, "cpu_usage_cores")) + "/" + cores(field(n, "cpu_capacity_cores")),
         bytes(field(n, "memory_usage_bytes")) + "/" + bytes(field(n, "memory_capacity_bytes")),
         text(field(n, "agent_version")), text(field(n, "agent_restarts")),
         text(field(n, "last_sequence"))});
  }
  return renderTable({"CLUSTER", "NODE", "STATUS", "CONTAINERS", "CPU(cores)", "MEMORY", "AGENT",
                      "RESTARTS", "SEQUENCE"},
                     rows);
}

std::string containersTable(const json& body) {
  Rows rows;
  for (const auto& c : items(body)) {
    rows.push_back(
        {text(field(c, "cluster")), text(field(c, "node")), shortId(text(field(c, "id"))),
         text(field(c, "runtime")), text(field(c, "namespace")), text(field(c, "pod")),
         cores(field(c, "cpu_cores")), cores(field(c, "cpu_limit_cores")),
         bytes(field(c, "memory_working_set_bytes")), bytes(field(c, "memory_limit_bytes")),
         c.value("stale", false) ? "stale" : "fresh"});
  }
  return renderTable({"CLUSTER", "NODE", "CONTAINER", "RUNTIME", "NAMESPACE", "POD", "CPU(cores)",
                      "CPU LIMIT", "WORKING SET", "MEM LIMIT", "STATUS"},
                     rows);
}

std::string decisionsTable(const json& body) {
  Rows rows;
  for (const auto& d : items(body)) {
    rows.push_back({utcTime(field(d, "time_unix_ms")), text(field(d, "namespace")),
                    text(field(d, "kind")) + "/" + text(field(d, "name")),
                    text(field(d, "current_replicas")), text(field(d, "desired_replicas")),
                    text(field(d, "reason"))});
  }
  return renderTable({"TIME", "NAMESPACE", "WORKLOAD", "CURRENT", "DESIRED", "REASON"}, rows);
}

std::string eventsTable(const json& body) {
  Rows rows;
  for (const auto& e : items(body)) {
    rows.push_back({utcTime(field(e, "time_unix_ms")), text(field(e, "kind")),
                    text(field(e, "cluster")), text(field(e, "agent_id")),
                    text(field(e, "message"))});
  }
  return renderTable({"TIME", "KIND", "CLUSTER", "AGENT", "MESSAGE"}, rows);
}

int exitCodeFor(long status) {
  if (status == 400) return kCtlUsageError;
  if (status == 401 || status == 403) return kCtlAuthError;
  if (status == 404) return kCtlNotFound;
  return kCtlServerError;
}

}  // namespace

std::string queryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? "?" : "&";
    out += name + "=" + percentEncode(value);
  }
  return out;
}

CtlSystem processSystem() {
  return CtlSystem{processEnvironment, [](const TlsClientOptions& tls) {
                     return std::make_unique<CurlHttpClient>(tls);
                   }};
}

int runCtl(const std::vector<std::string>& args, HttpClient& http, std::ostream& out,
           std::ostream& err) {
  const CtlSystem system{
      [](const std::string&) { return std::optional<std::string>(); },
      [&http](const TlsClientOptions&) { return std::make_unique<BorrowedHttpClient>(http); }};
  return runCtl(args, system, out, err);
}

int runCtl(const std::vector<std::string>& args, const CtlSystem& system, std::ostream& out,
           std::ostream& err) {
  CLI::App app{"fleetscalectl: inspect a running fleetscale aggregator", "fleetscalectl"};
  CtlOptions o;
  const ConnectionFlagOptions connectionFlags(app);
  app.add_option("-o,--output", o.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("fleetscalectl ") + kVersion);
  app.require_subcommand(1);
  app.footer(
      "Each connection setting comes from its flag, else its environment variable, else the\n"
      "config file's context, else the default. The config file (docs/api.md, fleetscalectl):\n"
      "  current-context: prod\n"
      "  contexts:\n"
      "    prod: {server: https://fleetscale.example:7080, certificate-authority: ca.crt,\n"
      "           token-file: ~/.fleetscale/prod-token}\n"
      "    lab: {server: http://127.0.0.1:7080}\n"
      "Keys are the flags' names without --; relative paths are relative to the file.\n"
      "Exit codes: 0 ok, 1 aggregator unreachable or failing (TLS included), 2 usage or "
      "configuration error, 3 not authorized (401, 403), 4 not found.");
  auto* top =
      app.add_subcommand("top", "workloads and clusters with their usage, like kubectl top");
  top->add_option("what", o.topWhat, "workloads, clusters or all")
      ->check(CLI::IsMember({"workloads", "clusters", "all"}))
      ->capture_default_str();
  top->add_option("--namespace", o.namespaceName, "only workloads in this namespace");
  top->add_option("--cluster", o.cluster, "only workloads running in this cluster");
  auto* nodes = app.add_subcommand("nodes", "agents and their nodes");
  nodes->add_option("--cluster", o.cluster, "only this cluster");
  auto* containers = app.add_subcommand("containers", "containers and their latest samples");
  containers->add_option("--cluster", o.cluster, "only this cluster");
  containers->add_option("--node", o.node, "only this node");
  containers->add_option("--namespace", o.namespaceName, "only this namespace");
  containers->add_option("--workload", o.workload, "only this workload");
  containers->add_option("--limit", o.limit, "at most this many (default 1000)");
  auto* decisions = app.add_subcommand("decisions", "scaling decisions, newest first");
  decisions->add_option("--namespace", o.namespaceName, "only this namespace");
  decisions->add_option("--workload", o.workload, "only this workload");
  decisions->add_option("--since", o.since, "a duration back (15m) or an RFC 3339 time");
  decisions->add_option("--limit", o.limit, "at most this many (default 100)");
  auto* events = app.add_subcommand("events", "agent, cluster, config and action events");
  events->add_option("--kind", o.kind,
                     "agent_connected, agent_disconnected, cluster_health, cluster_drain, "
                     "config_reload, action, capacity");
  events->add_option("--cluster", o.cluster, "only this cluster");
  events->add_option("--agent", o.agent, "only this agent id");
  events->add_option("--since", o.since, "a duration back (15m) or an RFC 3339 time");
  events->add_option("--limit", o.limit, "at most this many (default 100)");
  auto* status = app.add_subcommand(
      "status", "clusters, workloads per cluster (desired, current, ready) and drains");
  auto* explain =
      app.add_subcommand("explain", "why the latest decision for a workload came out as it did");
  explain->add_option("workload", o.target, "namespace/name")->required();
  auto* recommend = app.add_subcommand(
      "recommend",
      "right-sizing: current vs recommended requests and limits per container, and the savings");
  recommend->add_option("workload", o.target, "namespace/name, or a namespace (default: all)");
  auto* drain = app.add_subcommand(
      "drain", "move every workload off a cluster, step by step (needs an admin token)");
  drain->add_option("cluster", o.target, "cluster name from the policy")->required();
  auto* undrain =
      app.add_subcommand("undrain", "let a drained cluster take workloads again (admin token)");
  undrain->add_option("cluster", o.target, "cluster name from the policy")->required();
  auto* reload = app.add_subcommand("reload", "re-read the policy file (needs an admin token)");
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kCtlOk : kCtlUsageError;
  }

  std::vector<CtlRequest> requests;
  if (top->parsed()) {
    if (o.topWhat != "clusters") {
      requests.push_back(get("/api/v1/workloads" + queryString({{"namespace", o.namespaceName},
                                                                {"cluster", o.cluster}}),
                             workloadsTable));
    }
    if (o.topWhat != "workloads") requests.push_back(get("/api/v1/clusters", clustersTable));
  } else if (nodes->parsed()) {
    requests.push_back(get("/api/v1/nodes" + queryString({{"cluster", o.cluster}}), nodesTable));
  } else if (containers->parsed()) {
    requests.push_back(get("/api/v1/containers" + queryString({{"cluster", o.cluster},
                                                               {"node", o.node},
                                                               {"namespace", o.namespaceName},
                                                               {"workload", o.workload},
                                                               {"limit", o.limit}}),
                           containersTable));
  } else if (decisions->parsed()) {
    requests.push_back(get("/api/v1/decisions" + queryString({{"namespace", o.namespaceName},
                                                              {"workload", o.workload},
                                                              {"since", o.since},
                                                              {"limit", o.limit}}),
                           decisionsTable));
  } else if (events->parsed()) {
    requests.push_back(get("/api/v1/events" + queryString({{"kind", o.kind},
                                                           {"cluster", o.cluster},
                                                           {"agent", o.agent},
                                                           {"since", o.since},
                                                           {"limit", o.limit}}),
                           eventsTable));
  } else if (status->parsed()) {
    requests.push_back(get("/api/v1/status", statusView));
  } else if (explain->parsed()) {
    const auto slash = o.target.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == o.target.size()) {
      err << "fleetscalectl: explain needs namespace/name, got '" << o.target << "'\n";
      return kCtlUsageError;
    }
    requests.push_back(CtlRequest{
        "GET",
        "/api/v1/decisions" + queryString({{"namespace", o.target.substr(0, slash)},
                                           {"workload", o.target.substr(slash + 1)},
                                           {"limit", "1"}}),
        [workload = o.target](const json& body) { return explainLatest(workload, body); }, ""});
    // The workload's right-sizing recommendation after the decision, when there is one.
    CtlRequest rightsizing =
        get("/api/v1/recommendations" + queryString({{"namespace", o.target.substr(0, slash)},
                                                     {"workload", o.target.substr(slash + 1)}}),
            recommendationSummary);
    rightsizing.optional = true;
    requests.push_back(std::move(rightsizing));
  } else if (recommend->parsed()) {
    const auto slash = o.target.find('/');
    if (slash == 0 || (slash != std::string::npos && slash + 1 == o.target.size())) {
      err << "fleetscalectl: recommend takes namespace/name or a namespace, got '" << o.target
          << "'\n";
      return kCtlUsageError;
    }
    requests.push_back(
        get("/api/v1/recommendations" +
                queryString(
                    {{"namespace", o.target.substr(0, slash)},
                     {"workload", slash == std::string::npos ? "" : o.target.substr(slash + 1)}}),
            recommendView));
  } else if (drain->parsed() || undrain->parsed()) {
    const bool draining = drain->parsed();
    requests.push_back(CtlRequest{
        "POST", "/api/v1/clusters/" + o.target + (draining ? "/drain" : "/undrain"),
        [draining, cluster = o.target](const json&) -> Result<std::string> {
          return draining ? "cluster " + cluster +
                                " is draining: workloads move off it step by step; follow it "
                                "with `fleetscalectl status`\n"
                          : "cluster " + cluster + " takes workloads again\n";
        },
        (draining ? "drain cluster " : "undrain cluster ") + o.target});
  } else if (reload->parsed()) {
    requests.push_back(CtlRequest{
        "POST", "/api/v1/reload",
        [](const json&) -> Result<std::string> { return std::string("policy reloaded\n"); },
        "reload the policy"});
  }

  auto connection = resolveConnection(connectionFlags.given(), system.env);
  if (!connection) {
    err << "fleetscalectl: " << connection.error().message << "\n";
    return kCtlUsageError;
  }
  for (const auto& warning : connection->warnings) {
    err << "fleetscalectl: warning: " << warning << "\n";
  }
  const std::unique_ptr<HttpClient> http = system.makeHttpClient(connection->tls);

  json bodies = json::array();
  std::string tables;
  for (const auto& call : requests) {
    HttpClientRequest request;
    request.method = call.method;
    request.url = connection->server + call.path;
    if (!connection->token.empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + connection->token);
    }
    auto response = http->send(request);
    if (call.optional && (!response || response->status != 200)) continue;
    if (!response) {
      err << "fleetscalectl: " << transportFailure(response.error(), *connection) << "\n";
      return kCtlServerError;
    }
    const json body = json::parse(response->body, nullptr, false);
    if (response->status != 200 || body.is_discarded() || !body.is_object()) {
      const std::string answer = body.is_object() && body.contains("error")
                                     ? text(field(body, "error"))
                                     : printable(response->body.substr(0, 2000));
      if (response->status == 401 || response->status == 403) {
        err << "fleetscalectl: " << authFailure(response->status, answer, call, *connection)
            << "\n";
      } else {
        err << "fleetscalectl: " << request.url << " answered " << response->status << ": "
            << answer << "\n";
      }
      return response->status == 200 ? kCtlServerError : exitCodeFor(response->status);
    }
    Result<std::string> rendered = Error{""};
    try {
      rendered = call.render(body);
    } catch (const json::exception& e) {
      // A field of an unexpected type: another version's answer, or not the aggregator at all.
      err << "fleetscalectl: " << request.url << ": unexpected answer: " << e.what() << "\n";
      return kCtlServerError;
    }
    if (!rendered) {
      err << "fleetscalectl: " << rendered.error().message << "\n";
      return kCtlNotFound;
    }
    if (rendered->empty()) continue;
    if (!tables.empty()) tables += "\n";
    tables += *rendered;
    if (!call.optional) bodies.push_back(body);
  }
  if (o.output == "json") {
    out << (bodies.size() == 1 ? bodies[0] : bodies).dump(2) << "\n";
  } else {
    out << tables;
  }
  return kCtlOk;
}

int ctlMain(int argc, char** argv) {
  return runCtl(std::vector<std::string>(argv + 1, argv + argc), processSystem(), std::cout,
                std::cerr);
}

}  // namespace fleetscale::ctl
