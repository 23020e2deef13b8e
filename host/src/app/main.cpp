#include "app/RelayServer.h"

POCO_SERVER_MAIN(nautilus::relay::RelayServer)
