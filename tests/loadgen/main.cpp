#include "loadgen.h"

int main(int argc, char** argv) { return fleetscale::loadgen::loadgenMain(argc, argv); }
