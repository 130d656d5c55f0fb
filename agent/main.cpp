#include "fleetscale/agent/agent_app.h"

int main(int argc, char** argv) { return fleetscale::agent::agentMain(argc, argv); }
