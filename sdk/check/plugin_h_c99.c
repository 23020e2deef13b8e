/* plugin.h compiles as strict C99 with -Wall -Wextra -pedantic -Werror, and ABI 1.0 is frozen. */
#include "nautilus_relay/plugin.h"

/* C99 has no static_assert: a negative array size stops the build instead. */
#define NR_CHECK(name, cond) typedef char nr_check_##name[(cond) ? 1 : -1];
#include "layout_1_0.h"

/* The helpers and macros are usable from C. */
size_t nr_check_c_usage(const nr_host_api *host, const nr_plugin_info *info);
size_t nr_check_c_usage(const nr_host_api *host, const nr_plugin_info *info)
{
    nr_str s = nr_str_of("data.quotes.*");
    nr_str t = nr_str_n(s.data, 4);
    return s.size + t.size + (size_t)NR_HOST_HAS(host, message_received_ns) + (size_t)NR_INFO_HAS(info, shutdown);
}
