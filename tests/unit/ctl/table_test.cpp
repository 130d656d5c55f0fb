// renderTable: kubectl-like aligned columns.
#include "fleetscale/ctl/table.h"

#include <gtest/gtest.h>

namespace fleetscale::ctl {
namespace {

TEST(RenderTableTest, ColumnsAreAsWideAsTheirWidestCellPlusThreeSpaces) {
  EXPECT_EQ(renderTable({"A", "LONGER"}, {{"wide-cell", "x"}, {"b", "y"}}),
            "A           LONGER\nwide-cell   x\nb           y\n");
}

TEST(RenderTableTest, NoRowsIsTheHeaderLine) {
  EXPECT_EQ(renderTable({"NAME", "STATE"}, {}), "NAME   STATE\n");
}

TEST(RenderTableTest, TheLastColumnIsNotPadded) {
  const std::string table = renderTable({"K", "V"}, {{"a", "a-long-value"}, {"b", "c"}});
  EXPECT_EQ(table, "K   V\na   a-long-value\nb   c\n");
}

TEST(RenderTableTest, AShortRowEndsEarly) {
  EXPECT_EQ(renderTable({"ONE", "TWO", "THREE"}, {{"1"}, {"1", "2", "3"}}),
            "ONE   TWO   THREE\n1\n1     2     3\n");
}

TEST(RenderTableTest, EmptyCellsKeepTheirColumn) {
  EXPECT_EQ(renderTable({"A", "B", "C"}, {{"", "", "x"}}), "A   B   C\n        x\n");
}

}  // namespace
}  // namespace fleetscale::ctl
