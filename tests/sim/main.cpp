#include "fleetscale/sim/sim_app.h"

int main(int argc, char** argv) { return fleetscale::sim::simMain(argc, argv); }
