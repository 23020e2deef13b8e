/*
 * my-plugin: a starting point. It subscribes to the topic pattern in plugins.my-plugin.topic
 * (default "data.quotes.*"), counts what it receives into /metrics (custom counter "received")
 * and logs the topic of every log_every-th message.
 *
 * Relay configuration:
 *   plugins.my-plugin.topic = data.quotes.*
 *   plugins.my-plugin.log_every = 1000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nautilus_relay/plugin.h>

struct my_plugin {
    nr_plugin *self;
    const nr_host_api *host;
    unsigned long log_every;
    unsigned long received;
};

/* Config values are nr_str views (not NUL-terminated): copy into a buffer before strtoul. */
static unsigned long config_ulong(const struct my_plugin *mp, const char *key, unsigned long fallback)
{
    nr_str value;
    char buf[32];
    char *end = NULL;
    unsigned long parsed;
    if (mp->host->config_get(mp->self, nr_str_of(key), &value) != NR_OK || value.size == 0 || value.size >= sizeof buf) {
        return fallback;
    }
    memcpy(buf, value.data, value.size);
    buf[value.size] = '\0';
    parsed = strtoul(buf, &end, 10);
    return (end != NULL && *end == '\0') ? parsed : fallback;
}

static nr_status my_plugin_on_message(void *state, const nr_message *msg)
{
    struct my_plugin *mp = state;
    mp->received += 1;
    mp->host->counter_add(mp->self, nr_str_of("received"), 1);
    if (mp->log_every != 0 && mp->received % mp->log_every == 0) {
        char line[256];
        nr_str topic = mp->host->message_topic(msg);
        int n = snprintf(line, sizeof line, "%lu messages, latest on %.*s", mp->received, (int)topic.size,
                         topic.data != NULL ? topic.data : "");
        if (n > 0) {
            mp->host->log(mp->self, NR_LOG_INFO, nr_str_n(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1));
        }
    }
    return NR_OK;
}

static nr_status my_plugin_init(nr_plugin *self, const nr_host_api *host, void **state_out)
{
    struct my_plugin *mp;
    nr_str topic;
    if (NR_ABI_MAJOR(host->abi_version) != NR_ABI_VERSION_MAJOR) {
        return NR_ERR_UNSUPPORTED;
    }
    mp = calloc(1, sizeof *mp);
    if (mp == NULL) {
        host->set_error(self, nr_str_of("out of memory"));
        return NR_ERR_INTERNAL;
    }
    mp->self = self;
    mp->host = host;
    mp->log_every = config_ulong(mp, "log_every", 1000);
    *state_out = mp; /* shutdown() receives it even if subscribe fails */
    if (host->config_get(self, nr_str_of("topic"), &topic) != NR_OK || topic.size == 0) {
        topic = nr_str_of("data.quotes.*");
    }
    return host->subscribe(self, topic, nr_str_of(""), my_plugin_on_message, mp);
}

static void my_plugin_shutdown(void *state)
{
    free(state);
}

NR_EXPORT const nr_plugin_info *nr_plugin_entry(void)
{
    static const nr_plugin_info info = {sizeof info, NR_ABI_VERSION, "my-plugin", "0.1.0",
                                        my_plugin_init, my_plugin_shutdown};
    return &info;
}
