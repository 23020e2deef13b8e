/*
 * c-example: a plugin in plain C99 against nautilus_relay/plugin.h alone, to show (and prove)
 * that the plugin ABI is C. It counts the messages on some topics and, every N messages,
 * publishes a summary that WebSocket clients and other plugins can subscribe to.
 *
 * Configuration (relay properties):
 *   plugins.c-example.topics         topic patterns, comma-separated (default "*")
 *   plugins.c-example.types          routing types, comma-separated (default: any)
 *   plugins.c-example.summary_every  publish a summary every N messages, 0 = never (default 1000)
 *
 * Publishes on "plugin.c-example.summary", type "CExampleSummary":
 *   {"messages":2000,"payload_bytes":391230,"last_topic":"data.quotes.BINANCE.BTCUSDT","last_received_ns":...}
 * Metrics: nautilus_relay_plugin_custom_messages_total, ..._payload_bytes_total,
 *          ..._subscriptions (gauge), each with {plugin="c-example"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nautilus_relay/plugin.h>

#define C_EXAMPLE_MAX_TOPIC 256

struct c_example {
    nr_plugin *self;
    const nr_host_api *host;
    unsigned long summary_every;
    unsigned long long messages;
    unsigned long long payload_bytes;
    char last_topic[C_EXAMPLE_MAX_TOPIC];
    long long last_received_ns;
};

/* Copies a config value into buf (NUL-terminated); returns 0 when the key is absent. */
static int config_text(const struct c_example *ex, const char *key, char *buf, size_t cap)
{
    nr_str value;
    size_t n;
    if (ex->host->config_get(ex->self, nr_str_of(key), &value) != NR_OK) {
        return 0;
    }
    n = value.size < cap - 1 ? value.size : cap - 1;
    memcpy(buf, value.data, n);
    buf[n] = '\0';
    return 1;
}

/* Appends text to out as the body of a JSON string. Returns the new length, or cap on overflow. */
static size_t json_escape(char *out, size_t len, size_t cap, const char *text, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < size && len < cap; ++i) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            if (len + 2 > cap) {
                return cap;
            }
            out[len++] = '\\';
            out[len++] = (char)c;
        } else if (c < 0x20) {
            if (len + 6 > cap) {
                return cap;
            }
            memcpy(out + len, "\\u00", 4);
            out[len + 4] = hex[c >> 4];
            out[len + 5] = hex[c & 15];
            len += 6;
        } else {
            out[len++] = (char)c;
        }
    }
    return i == size ? len : cap;
}

static void publish_summary(struct c_example *ex)
{
    char json[C_EXAMPLE_MAX_TOPIC * 6 + 256];
    size_t len;
    int n = snprintf(json, sizeof json, "{\"messages\":%llu,\"payload_bytes\":%llu,\"last_topic\":\"", ex->messages,
                     ex->payload_bytes);
    if (n < 0) {
        return;
    }
    len = json_escape(json, (size_t)n, sizeof json, ex->last_topic, strlen(ex->last_topic));
    if (len >= sizeof json) {
        return;
    }
    n = snprintf(json + len, sizeof json - len, "\",\"last_received_ns\":%lld}", ex->last_received_ns);
    if (n < 0 || (size_t)n >= sizeof json - len) {
        return;
    }
    len += (size_t)n;
    /* NR_ERR_UNAVAILABLE (publish queue full) only loses this summary; the next one catches up. */
    ex->host->publish(ex->self, nr_str_of("plugin.c-example.summary"), nr_str_of("CExampleSummary"),
                      nr_str_n(json, len));
}

static nr_status on_message(void *state, const nr_message *msg)
{
    struct c_example *ex = state;
    nr_str topic = ex->host->message_topic(msg);
    nr_str payload = ex->host->message_payload(msg);
    size_t n = topic.size < sizeof ex->last_topic - 1 ? topic.size : sizeof ex->last_topic - 1;

    ex->messages += 1;
    ex->payload_bytes += payload.size;
    if (n > 0) {
        memcpy(ex->last_topic, topic.data, n);
    }
    ex->last_topic[n] = '\0';
    ex->last_received_ns = (long long)ex->host->message_received_ns(msg);
    ex->host->counter_add(ex->self, nr_str_of("messages"), 1);
    ex->host->counter_add(ex->self, nr_str_of("payload_bytes"), payload.size);
    if (ex->summary_every != 0 && ex->messages % ex->summary_every == 0) {
        publish_summary(ex);
    }
    return NR_OK;
}

/* Subscribes to each comma-separated pattern of list; returns the first failure. */
static nr_status subscribe_all(struct c_example *ex, const char *list, const char *types)
{
    const char *p = list;
    int count = 0;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            ++p;
            --len;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            --len;
        }
        if (len > 0) {
            nr_status st = ex->host->subscribe(ex->self, nr_str_n(p, len), nr_str_of(types), on_message, ex);
            if (st != NR_OK) {
                char text[C_EXAMPLE_MAX_TOPIC + 64];
                snprintf(text, sizeof text, "cannot subscribe to '%.*s'", (int)(len < 200 ? len : 200), p);
                ex->host->set_error(ex->self, nr_str_of(text));
                return st;
            }
            ++count;
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    ex->host->gauge_set(ex->self, nr_str_of("subscriptions"), (double)count);
    return NR_OK;
}

static nr_status c_example_init(nr_plugin *self, const nr_host_api *host, void **state_out)
{
    char topics[1024] = "*";
    char types[512] = "";
    char every[32];
    struct c_example *ex = calloc(1, sizeof *ex);
    if (ex == NULL) {
        host->set_error(self, nr_str_of("out of memory"));
        return NR_ERR_INTERNAL;
    }
    ex->self = self;
    ex->host = host;
    ex->summary_every = 1000;
    *state_out = ex; /* shutdown() frees it, even if init fails below */

    if (config_text(ex, "summary_every", every, sizeof every)) {
        char *end = NULL;
        ex->summary_every = strtoul(every, &end, 10);
        if (every[0] == '\0' || every[0] == '-' || end == NULL || *end != '\0') {
            host->set_error(self, nr_str_of("summary_every must be a whole number (0 = never)"));
            return NR_ERR_INVALID_ARGUMENT;
        }
    }
    config_text(ex, "topics", topics, sizeof topics);
    config_text(ex, "types", types, sizeof types);
    return subscribe_all(ex, topics, types);
}

static void c_example_shutdown(void *state)
{
    struct c_example *ex = state;
    if (ex->messages != 0 && ex->summary_every != 0 && ex->messages % ex->summary_every != 0) {
        publish_summary(ex); /* the final figures */
    }
    free(ex);
}

NR_EXPORT const nr_plugin_info *nr_plugin_entry(void)
{
    static const nr_plugin_info info = {sizeof info, NR_ABI_VERSION, "c-example", "1.0.0", c_example_init,
                                        c_example_shutdown};
    return &info;
}
