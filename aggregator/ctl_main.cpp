#include "fleetscale/aggregator/ctl_app.h"

int main(int argc, char** argv) { return fleetscale::aggregator::ctlMain(argc, argv); }
