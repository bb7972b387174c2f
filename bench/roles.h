#pragma once
// The helper processes of the benchmark driver: `orch_bench role KIND ...` (see roles.cpp).

#include <string>
#include <vector>

namespace bench {

/// Runs the role named by args[1] (args[0] is "role"); returns the exit code.
int run_role(const std::vector<std::string>& args);

}  // namespace bench
