// kubectl (the real one, /usr/bin/kubectl) against the simulator's fake kube-apiserver.
#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

TEST(SimKubectlTest, Placeholder) {}

}  // namespace
}  // namespace fleetscale::sim
