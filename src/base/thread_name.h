// Names the calling thread, as `top -H`, `perf` and /proc/<pid>/task show
// it: each of sluice's threads says which part of the server it runs.
#pragma once

#include <pthread.h>

namespace sluice {

/// At most 15 characters (the kernel's limit); longer names are ignored.
inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

} // namespace sluice
