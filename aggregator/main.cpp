#include "fleetscale/aggregator/app/aggregator_app.h"

int main(int argc, char** argv) { return fleetscale::aggregator::aggregatorMain(argc, argv); }
