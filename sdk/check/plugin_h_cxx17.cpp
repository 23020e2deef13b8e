// plugin.h compiles as C++17 with -Wall -Wextra -pedantic -Werror, and the layout matches C's.
#include "nautilus_relay/plugin.h"

#include <type_traits>

#define NR_CHECK(name, cond) static_assert(cond, #name);
#include "layout_1_0.h"

static_assert(std::is_standard_layout_v<nr_host_api> && std::is_trivial_v<nr_host_api>);
static_assert(std::is_standard_layout_v<nr_plugin_info> && std::is_trivial_v<nr_plugin_info>);
static_assert(std::is_same_v<decltype(&nr_plugin_entry), nr_plugin_entry_fn>);
