#pragma once
// Names the calling thread as top -H, ps -L, perf and gdb show it (they show the process name
// for an unnamed one, which says nothing about which part of the relay uses the CPU).
#include <string>

#include <pthread.h>

namespace nautilus::relay {

/// Linux keeps 15 characters: a longer name is cut, not refused.
inline void nameThisThread(std::string name)
{
    if (name.size() > 15) {
        name.resize(15);
    }
    pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace nautilus::relay
