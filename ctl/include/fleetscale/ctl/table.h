// fleetscalectl's tables.
#pragma once

#include <string>
#include <vector>

namespace fleetscale::ctl {

// Aligned columns, like kubectl's output. Cells wider than the header widen the column.
std::string renderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace fleetscale::ctl
