// The replay history CSV: columns in any order, quantities, both time forms, and a clear error
// with its line number for every kind of bad line.
#include "fleetscale/aggregator/replay/replay_csv.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

using namespace std::chrono_literals;

TEST(ReplayCsvTest, ReadsColumnsInAnyOrderWithQuantitiesAndComments) {
  const auto samples = parseReplayCsv(
      "# exported from a metrics system\n"
      "\n"
      "workload,time,cluster,replicas,ready,cpu_usage,cpu_request,memory_usage,memory_request\r\n"
      "shop/web,2026-11-27T12:00:00Z,aws,3,2,1500m,1.5,200Mi,256Mi\r\n"
      "shop/StatefulSet/db, 2026-11-27T12:00:10Z , gcp , 1 , 1 , 0.25 , 500m , 1Gi , 2Gi\n");
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  ASSERT_EQ(samples->size(), 2u);
  const ReplaySample& web = (*samples)[0];
  EXPECT_EQ(web.namespaceName, "shop");
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.kind, "");
  EXPECT_EQ(web.cluster, "aws");
  EXPECT_EQ(web.replicas, 3);
  EXPECT_EQ(web.readyReplicas, 2);
  EXPECT_DOUBLE_EQ(web.cpuUsageCores, 1.5);
  EXPECT_DOUBLE_EQ(web.cpuRequestCores, 1.5);
  EXPECT_DOUBLE_EQ(web.memoryUsageBytes, 200.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(web.memoryRequestBytes, 256.0 * 1024 * 1024);
  EXPECT_EQ(web.line, 4);
  const ReplaySample& db = (*samples)[1];
  EXPECT_EQ(db.kind, "StatefulSet");
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.cluster, "gcp");
  EXPECT_EQ(db.time - web.time, 10s);
  EXPECT_DOUBLE_EQ(db.memoryRequestBytes, 2.0 * 1024 * 1024 * 1024);
}

TEST(ReplayCsvTest, OptionalColumnsDefaultAndSecondsAreTimes) {
  const auto samples = parseReplayCsv(
      "time,workload,replicas,cpu_usage,cpu_request\n"
      "0,shop/web,2,0.5,1\n"
      "10.5,shop/web,2,0.5,1\n");
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].readyReplicas, 2);  // ready defaults to replicas
  EXPECT_EQ((*samples)[0].cluster, "");
  EXPECT_EQ((*samples)[0].memoryUsageBytes, 0);
  EXPECT_EQ((*samples)[1].time - (*samples)[0].time, 10500ms);
  EXPECT_EQ((*samples)[0].cpuUnmetDemandCores, 0) << "no unmet demand recorded";
  const auto capped = parseReplayCsv(
      "time,workload,replicas,cpu_usage,cpu_request,cpu_unmet_demand\n0,shop/web,2,1,1,1500m\n");
  ASSERT_TRUE(capped.ok()) << capped.error().message;
  EXPECT_DOUBLE_EQ((*capped)[0].cpuUnmetDemandCores, 1.5);
}

struct BadCsv {
  const char* name;
  const char* text;
  const char* error;
};

class ReplayCsvErrorTest : public ::testing::TestWithParam<BadCsv> {};

TEST_P(ReplayCsvErrorTest, NamesTheLineAndTheProblem) {
  const auto samples = parseReplayCsv(GetParam().text);
  ASSERT_FALSE(samples.ok());
  EXPECT_EQ(samples.error().message, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Lines, ReplayCsvErrorTest,
    ::testing::Values(
        BadCsv{"Empty", "", "no header line (time,workload,replicas,cpu_usage,cpu_request,...)"},
        BadCsv{"UnknownColumn", "time,workload,replicas,cpu_usage,cpu_request,color\n",
               "line 1: unknown column 'color' (columns: time, workload, cluster, replicas, ready, "
               "cpu_usage, cpu_request, memory_usage, memory_request, cpu_unmet_demand)"},
        BadCsv{"MissingColumn", "# c\ntime,workload,replicas,cpu_usage\n",
               "line 2: the header lacks the column cpu_request"},
        BadCsv{"DuplicateColumn", "time,workload,replicas,cpu_usage,cpu_request,time\n",
               "line 1: column time appears twice"},
        BadCsv{"TooFewFields", "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,2,1\n",
               "line 2: 4 fields, the header has 5"},
        BadCsv{"BadTime",
               "time,workload,replicas,cpu_usage,cpu_request\n\nyesterday,shop/web,2,1,1\n",
               "line 3: time 'yesterday' is neither RFC 3339 (2026-11-27T12:00:00Z) nor a number "
               "of seconds"},
        BadCsv{"BadWorkload", "time,workload,replicas,cpu_usage,cpu_request\n0,web,2,1,1\n",
               "line 2: workload 'web' is not namespace/name or namespace/Kind/name"},
        BadCsv{"EmptyName", "time,workload,replicas,cpu_usage,cpu_request\n0,shop/,2,1,1\n",
               "line 2: workload 'shop/' is not namespace/name or namespace/Kind/name"},
        BadCsv{"Garbage", "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,2,lots,1\n",
               "line 2: cpu_usage: 'lots' is not a number or a quantity (1.5, 500m, 256Mi)"},
        BadCsv{"Negative", "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,-2,1,1\n",
               "line 2: replicas is negative: '-2'"},
        BadCsv{"EmptyValue", "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,2,,1\n",
               "line 2: cpu_usage is empty"},
        BadCsv{"ReadyAbovePods",
               "time,workload,replicas,ready,cpu_usage,cpu_request\n0,shop/web,2,3,1,1\n",
               "line 2: ready (3) exceeds replicas (2)"},
        BadCsv{"Quoted", "time,workload,replicas,cpu_usage,cpu_request\n0,\"shop/web\",2,1,1\n",
               "line 2: quoted fields are not supported"},
        BadCsv{"SameMomentTwice",
               "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,2,1,1\n10,shop/web,2,1,1\n"
               "0,shop/web,3,1,1\n",
               "line 4: a second row for shop/web at the same time (first on line 2)"},
        BadCsv{"TimeOutOfRange",
               "time,workload,replicas,cpu_usage,cpu_request\n1e300,shop/web,2,1,1\n",
               "line 2: time '1e300' is out of range"},
        BadCsv{"TimeBeyondYear2262",
               "time,workload,replicas,cpu_usage,cpu_request\n1e10,shop/web,2,1,1\n",
               "line 2: time '1e10' is out of range"}),
    [](const auto& testInfo) { return std::string(testInfo.param.name); });

}  // namespace
}  // namespace fleetscale::aggregator
