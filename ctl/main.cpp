#include "fleetscale/ctl/app.h"

int main(int argc, char** argv) { return fleetscale::ctl::ctlMain(argc, argv); }
