/*
 * nautilus-relay plugin ABI: the whole contract between the relay (the host) and a plugin.
 *
 * A plugin is a shared object that exports one symbol, nr_plugin_entry. It returns a static
 * descriptor (nr_plugin_info). The host checks the descriptor's name and ABI version, then calls
 * init() with a table of host services (nr_host_api). Everything the plugin does afterwards goes
 * through that table: the plugin never links against host symbols, so it builds with -z defs and
 * a test can hand it a fake table.
 *
 * The header is C99. No C++ type, exception or allocator ownership crosses this boundary:
 *  - strings are nr_str views (pointer + size, not NUL-terminated) that the caller owns;
 *  - messages are opaque (const nr_message *) and read through the message_* accessors;
 *  - memory is freed by the side that allocated it;
 *  - failures are nr_status codes; detail text goes through set_error.
 *
 * Versioning (see sdk/README.md): NR_ABI_VERSION is major.minor. A plugin loads on any host of
 * the same major. A minor version only appends members to the end of a struct, or new status
 * codes; anything else is a new major. Every shared struct starts with struct_size, so each side
 * can tell which members the other one knows (NR_HOST_HAS, NR_INFO_HAS).
 *
 * Threading, in one paragraph: the host gives every plugin its own dispatch thread. init(), every
 * handler and shutdown() of one plugin run on that thread, one at a time, never concurrently with
 * each other. Different plugins run in parallel. Host-table functions may be called from any
 * thread the plugin owns, except where a function says otherwise.
 */
#ifndef NAUTILUS_RELAY_PLUGIN_H
#define NAUTILUS_RELAY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Internal: a cast that C++ code compiled with -Wold-style-cast accepts. */
#ifdef __cplusplus
#define NR_CAST_(type, value) static_cast<type>(value)
#else
#define NR_CAST_(type, value) ((type)(value))
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** ABI major version: a plugin loads only on a host with the same major. SINCE: 1.0 */
#define NR_ABI_VERSION_MAJOR 1
/** ABI minor version: grows when members or status codes are appended. SINCE: 1.0 */
#define NR_ABI_VERSION_MINOR 0
/**
 * The ABI version this header describes, as one number: major in the high 16 bits, minor in the
 * low 16 bits. Plugins put it in nr_plugin_info.abi_version; the host puts its own in
 * nr_host_api.abi_version.
 * SINCE: 1.0
 */
#define NR_ABI_VERSION NR_CAST_(uint32_t, (NR_CAST_(uint32_t, NR_ABI_VERSION_MAJOR) << 16) | NR_CAST_(uint32_t, NR_ABI_VERSION_MINOR))
/** Major part of an ABI version number. SINCE: 1.0 */
#define NR_ABI_MAJOR(version) (NR_CAST_(uint32_t, version) >> 16)
/** Minor part of an ABI version number. SINCE: 1.0 */
#define NR_ABI_MINOR(version) (NR_CAST_(uint32_t, version) & 0xffffu)

/**
 * Marks a symbol the host must find: use it on nr_plugin_entry (plugins are built with hidden
 * visibility, so nothing else is exported).
 * SINCE: 1.0
 */
#if defined(_WIN32)
#define NR_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define NR_EXPORT __attribute__((visibility("default")))
#else
#define NR_EXPORT
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes                                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * Result of a host or plugin function: NR_OK or one of the NR_ERR_* codes below.
 * A fixed-width integer rather than an enum, so that a code added in a later minor version is
 * still a well-defined value on an older peer. Both sides treat a code they do not know as
 * NR_ERR_INTERNAL.
 * SINCE: 1.0
 */
typedef int32_t nr_status;

/** Status codes. Values are never renumbered or reused; new ones are appended. SINCE: 1.0 */
enum nr_status_code {
    /** Success. */
    NR_OK = 0,
    /** An argument is malformed or not allowed (bad pattern, topic outside the plugin's namespace...). */
    NR_ERR_INVALID_ARGUMENT = 1,
    /** The call is not allowed now or not supported (e.g. subscribe outside init). */
    NR_ERR_UNSUPPORTED = 2,
    /** A resource is temporarily unavailable (a queue is full, a file cannot be opened); retrying may help. */
    NR_ERR_UNAVAILABLE = 3,
    /** Anything else: a bug, an exception, an unknown status code. */
    NR_ERR_INTERNAL = 4,
    /** The thing asked for does not exist (e.g. an absent configuration key). */
    NR_ERR_NOT_FOUND = 5
};

/* ------------------------------------------------------------------------------------------ */
/* Basic types                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/**
 * Log levels for nr_host_api.log. An int32_t for the same reason as nr_status.
 * SINCE: 1.0
 */
typedef int32_t nr_log_level;

/** Log level values. A level the host does not know is logged as NR_LOG_INFO. SINCE: 1.0 */
enum nr_log_level_value {
    NR_LOG_DEBUG = 1,
    NR_LOG_INFO = 2,
    NR_LOG_WARN = 3,
    NR_LOG_ERROR = 4
};

/**
 * A borrowed byte string: data points at size bytes. Not NUL-terminated; may hold any bytes.
 * data may be NULL when size is 0.
 * OWNERSHIP: whoever passes an nr_str keeps owning the bytes. An nr_str the host hands to a
 *            callback, or returns from a message accessor, is valid until that callback returns:
 *            copy what you keep.
 * SINCE: 1.0
 */
typedef struct nr_str {
    const char *data;
    size_t size;
} nr_str;

/**
 * Makes an nr_str viewing a NUL-terminated C string (without the NUL). NULL gives an empty view.
 * OWNERSHIP: the view borrows text; text must outlive every use of the view.
 * SINCE: 1.0
 */
static inline nr_str nr_str_of(const char *text)
{
    nr_str s;
    s.data = text;
    s.size = text != NULL ? strlen(text) : 0u;
    return s;
}

/**
 * Makes an nr_str viewing size bytes at data.
 * SINCE: 1.0
 */
static inline nr_str nr_str_n(const char *data, size_t size)
{
    nr_str s;
    s.data = data;
    s.size = size;
    return s;
}

/**
 * Opaque: the host's record of one loaded plugin. Passed to init() and to every host-table
 * function that acts on behalf of the plugin.
 * OWNERSHIP: the host's; valid from init() until shutdown() returns.
 * SINCE: 1.0
 */
typedef struct nr_plugin nr_plugin;

/**
 * Opaque: one message routed to a plugin (one NautilusTrader message-bus entry, decoded), read
 * through the nr_host_api.message_* accessors.
 * OWNERSHIP: the host's; valid only until the handler it was passed to returns.
 * SINCE: 1.0
 */
typedef struct nr_message nr_message;

/**
 * A message handler, registered with nr_host_api.subscribe.
 * @param state  the pointer given to subscribe, unchanged.
 * @param msg    the message; read it with the host's message_* accessors.
 * @return NR_OK when the message was handled. Any other code counts as a handler failure: the
 *         host counts it, logs it (rate limited, with the text of set_error if the handler called
 *         it) and, after a configured run of consecutive failures, marks the plugin failed.
 * OWNERSHIP: msg and every nr_str read from it are valid until the handler returns.
 * THREADING: runs on the plugin's dispatch thread, never concurrently with another handler,
 *            init() or shutdown() of the same plugin. A handler that runs longer than the
 *            configured deadline is reported; past a second deadline the plugin is marked failed.
 * SINCE: 1.0
 */
typedef nr_status (*nr_handler_fn)(void *state, const nr_message *msg);

/* ------------------------------------------------------------------------------------------ */
/* Host services                                                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * The table of host services handed to init(). Members are only ever appended (a minor
 * version); before calling a member added after 1.0, check NR_HOST_HAS(host, member).
 * OWNERSHIP: the host's; valid from init() until shutdown() returns. Keep the pointer, do not
 *            copy the struct (a newer host's table is larger than the one you compiled against).
 * THREADING: every member is safe to call from any thread unless its comment says otherwise.
 *            No member ever raises a C++ exception or calls back into the plugin.
 * SINCE: 1.0
 */
typedef struct nr_host_api {
    /** sizeof(nr_host_api) as compiled into the host. SINCE: 1.0 */
    uint32_t struct_size;
    /** NR_ABI_VERSION the host was built with. SINCE: 1.0 */
    uint32_t abi_version;

    /**
     * Writes one line to the relay's log, under the logger "plugin.<name>".
     * @param self   the plugin (from init()).
     * @param level  NR_LOG_DEBUG .. NR_LOG_ERROR; anything else logs at info.
     * @param text   the line, without a trailing newline.
     * @return nothing; a NULL self is ignored.
     * OWNERSHIP: text is copied.
     * THREADING: any thread.
     * SINCE: 1.0
     */
    void (*log)(nr_plugin *self, nr_log_level level, nr_str text);

    /**
     * Registers handler for messages whose topic matches topic_pattern and whose routing type is
     * one of types. Messages reach the handlers of one plugin in the order the relay read them.
     * A message that matches several subscriptions is delivered once to each.
     * @param self           the plugin (from init()).
     * @param topic_pattern  NautilusTrader wildcards: '*' matches any run of bytes (including
     *                       none and '.'), '?' exactly one byte. Heartbeats ("health:heartbeat")
     *                       reach only a subscription to exactly that pattern. Not empty, at most
     *                       1024 bytes, no control characters.
     * @param types          comma-separated routing types, e.g. "OrderFilled,OrderCanceled"
     *                       (spaces around names are ignored), or empty for any type.
     * @param handler        called once per matching message; not NULL.
     * @param state          passed to handler unchanged.
     * @return NR_OK; NR_ERR_INVALID_ARGUMENT (NULL self, empty or malformed pattern or type, NULL
     *         handler, more than 256 subscriptions); NR_ERR_UNSUPPORTED (called outside init()).
     * OWNERSHIP: both strings are copied. state stays the plugin's; the host never frees it.
     * THREADING: only while init() runs. Messages start flowing after init() returns NR_OK; if
     *            init() fails, no handler is ever called.
     * SINCE: 1.0
     */
    nr_status (*subscribe)(nr_plugin *self, nr_str topic_pattern, nr_str types, nr_handler_fn handler,
                           void *state);

    /**
     * Publishes a JSON message to WebSocket clients and back onto the relay's router, as if it
     * had been read from the bus (other plugins may subscribe to it; the publishing plugin itself
     * never receives its own messages). Subscribers see the stream "plugin:<name>" and a fresh id.
     * @param self          the plugin (from init()).
     * @param topic         must start with "plugin.<name>." (the plugin's own namespace, with at
     *                      least one byte after the dot); at most 1024 bytes; no '*', '?' or
     *                      control characters.
     * @param type          routing type that subscribers filter on; may be empty; at most 256 bytes.
     * @param payload_json  exactly one JSON value (object, array, string, number, ...), UTF-8.
     * @return NR_OK (queued for routing); NR_ERR_INVALID_ARGUMENT (NULL self, topic outside the
     *         namespace, malformed topic or type, invalid JSON); NR_ERR_UNAVAILABLE (the publish
     *         queue is full, or the relay is shutting down: the message is dropped and counted);
     *         NR_ERR_INTERNAL (the host could not copy the message).
     * OWNERSHIP: all strings are copied before the call returns.
     * THREADING: any thread; never blocks.
     * SINCE: 1.0
     */
    nr_status (*publish)(nr_plugin *self, nr_str topic, nr_str type, nr_str payload_json);

    /**
     * Reads one of the plugin's own configuration keys: key "file" reads the relay property
     * "plugins.<name>.file".
     * @param self       the plugin (from init()).
     * @param key        the part after "plugins.<name>."; not empty.
     * @param value_out  receives the value on NR_OK; left unchanged otherwise.
     * @return NR_OK; NR_ERR_NOT_FOUND (no such key); NR_ERR_INVALID_ARGUMENT (NULL self, empty
     *         key, NULL value_out).
     * OWNERSHIP: *value_out points into host memory that stays valid and unchanged until
     *            shutdown() returns; it is not NUL-terminated.
     * THREADING: any thread.
     * SINCE: 1.0
     */
    nr_status (*config_get)(nr_plugin *self, nr_str key, nr_str *value_out);

    /**
     * Adds delta to the plugin's counter name, shown in /metrics as
     * nautilus_relay_plugin_custom_<name>_total{plugin="<plugin name>"}.
     * @param self   the plugin (from init()).
     * @param name   [a-z_][a-z0-9_]*, at most 64 bytes (a trailing "_total" is not repeated).
     * @param delta  amount to add.
     * @return NR_OK; NR_ERR_INVALID_ARGUMENT (NULL self, bad name, or the name is already a
     *         gauge).
     * OWNERSHIP: name is copied.
     * THREADING: any thread.
     * SINCE: 1.0
     */
    nr_status (*counter_add)(nr_plugin *self, nr_str name, uint64_t delta);

    /**
     * Sets the plugin's gauge name, shown in /metrics as
     * nautilus_relay_plugin_custom_<name>{plugin="<plugin name>"}.
     * @param self   the plugin (from init()).
     * @param name   [a-z_][a-z0-9_]*, at most 64 bytes.
     * @param value  the new value.
     * @return NR_OK; NR_ERR_INVALID_ARGUMENT (NULL self, bad name, or the name is already a
     *         counter).
     * OWNERSHIP: name is copied.
     * THREADING: any thread.
     * SINCE: 1.0
     */
    nr_status (*gauge_set)(nr_plugin *self, nr_str name, double value);

    /**
     * Sets the text that explains the failure the plugin is about to return from init() or a
     * handler. The host shows it in its log and, with the time, as the plugin's last error in
     * /status. Text set during a call that then returns NR_OK is discarded.
     * @param self  the plugin (from init()).
     * @param text  the explanation; the last call before the failing return wins.
     * @return nothing; a NULL self is ignored.
     * OWNERSHIP: text is copied (up to 1024 bytes).
     * THREADING: on the thread that runs init() or the handler it explains.
     * SINCE: 1.0
     */
    void (*set_error)(nr_plugin *self, nr_str text);

    /**
     * Redis stream key the message was read from (e.g. "trader-TRADER-001:stream"); for a
     * message published by a plugin, "plugin:<name>".
     * @param msg  the message passed to the handler.
     * @return the key; empty for a NULL msg.
     * OWNERSHIP: valid until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_stream)(const nr_message *msg);

    /**
     * Stream entry id as Redis sent it (e.g. "1732700000000-0"), unique per stream.
     * @param msg  the message passed to the handler.
     * @return the id; empty for a NULL msg.
     * OWNERSHIP: valid until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_id)(const nr_message *msg);

    /**
     * The message-bus topic, byte for byte (e.g. "data.quotes.BINANCE.BTCUSDT").
     * @param msg  the message passed to the handler.
     * @return the topic; empty for a NULL msg.
     * OWNERSHIP: valid until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_topic)(const nr_message *msg);

    /**
     * Routing type, the one subscription type filters match (e.g. "QuoteTick", "OrderFilled").
     * @param msg  the message passed to the handler.
     * @return the type; empty when the message has none, or for a NULL msg.
     * OWNERSHIP: valid until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_type)(const nr_message *msg);

    /**
     * Encoding of the entry in Redis: "json", "msgpack", "capnp" or "sbe". The payload accessor
     * gives JSON for both json and msgpack.
     * @param msg  the message passed to the handler.
     * @return the encoding name; empty for a NULL msg.
     * OWNERSHIP: static text; valid at least until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_encoding)(const nr_message *msg);

    /**
     * The payload as the text of one JSON value (MessagePack payloads are converted once by the
     * host). For a heartbeat, the heartbeat's timestamp text.
     * @param msg  the message passed to the handler.
     * @return the JSON text, not NUL-terminated; empty for capnp/sbe payloads or a NULL msg.
     * OWNERSHIP: valid until the handler returns.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    nr_str (*message_payload)(const nr_message *msg);

    /**
     * Wall-clock time the relay read the message.
     * @param msg  the message passed to the handler.
     * @return nanoseconds since the Unix epoch; 0 for a NULL msg.
     * THREADING: in the handler that received msg.
     * SINCE: 1.0
     */
    int64_t (*message_received_ns)(const nr_message *msg);

    /* 1.1 and later: append here, never in the middle. */
} nr_host_api;

/**
 * True when the host table has member (it was compiled with a version that has it). Use before
 * calling any member added after 1.0.
 * SINCE: 1.0
 */
#define NR_HOST_HAS(host, member) \
    ((host) != NULL && NR_CAST_(size_t, (host)->struct_size) >= offsetof(nr_host_api, member) + sizeof((host)->member))

/* ------------------------------------------------------------------------------------------ */
/* Plugin descriptor                                                                           */
/* ------------------------------------------------------------------------------------------ */

/**
 * What a plugin tells the host about itself. nr_plugin_entry returns a pointer to one, usually a
 * static const object.
 * OWNERSHIP: the plugin's; the descriptor and its strings must stay valid while the plugin is
 *            loaded (static storage).
 * SINCE: 1.0
 */
typedef struct nr_plugin_info {
    /** sizeof(nr_plugin_info) as compiled into the plugin. SINCE: 1.0 */
    uint32_t struct_size;
    /** NR_ABI_VERSION the plugin was built against. SINCE: 1.0 */
    uint32_t abi_version;
    /** Unique plugin name: 1-64 of lowercase letters, digits and '-', starting with a letter or
     *  digit. Names the config keys (plugins.<name>.*), the logger and the publish namespace.
     *  SINCE: 1.0 */
    const char *name;
    /** The plugin's own version, free text (semantic versioning recommended). SINCE: 1.0 */
    const char *version;

    /**
     * Starts the plugin: read config, open resources, subscribe.
     * @param self       the host's record of this plugin; pass it to every host function.
     * @param host       the host services.
     * @param state_out  set it to the plugin's state pointer (it starts as NULL); shutdown()
     *                   receives it, even when init() fails after setting it.
     * @return NR_OK to start receiving messages. Any other code refuses the plugin (at start-up)
     *         or leaves it failed (on a restart); call set_error first to say why.
     * OWNERSHIP: self and host stay valid until shutdown() returns.
     * THREADING: on the plugin's dispatch thread. The host may call init() again after
     *            shutdown() to restart the plugin, in the same loaded object: static data is not
     *            re-initialised between the two.
     * SINCE: 1.0
     */
    nr_status (*init)(nr_plugin *self, const nr_host_api *host, void **state_out);

    /**
     * Stops the plugin and frees its state. Called once after every init() that returned NR_OK
     * (with the state it set, which may be NULL), and after a failed init() that set *state_out
     * to something other than NULL; always after the last handler call has returned. After it
     * returns, no thread of the plugin may run plugin code: the host may unload the library.
     * May be NULL when there is nothing to clean up.
     * THREADING: on the plugin's dispatch thread.
     * SINCE: 1.0
     */
    void (*shutdown)(void *state);

    /* 1.1 and later: append here, never in the middle. */
} nr_plugin_info;

/**
 * True when a descriptor has member (the plugin was built with a version that has it).
 * SINCE: 1.0
 */
#define NR_INFO_HAS(info, member) \
    ((info) != NULL && NR_CAST_(size_t, (info)->struct_size) >= offsetof(nr_plugin_info, member) + sizeof((info)->member))

/** Name of the symbol the host looks up. SINCE: 1.0 */
#define NR_PLUGIN_ENTRY_SYMBOL "nr_plugin_entry"

/** Type of nr_plugin_entry. SINCE: 1.0 */
typedef const nr_plugin_info *(*nr_plugin_entry_fn)(void);

/**
 * The one symbol a plugin exports. Returns the plugin's descriptor; must not fail, allocate or
 * start anything (the host may call it and then unload the library, e.g. for a disabled or
 * duplicate plugin). Define it in exactly one source file of the plugin:
 *
 *     NR_EXPORT const nr_plugin_info *nr_plugin_entry(void)
 *     {
 *         static const nr_plugin_info info = {sizeof info, NR_ABI_VERSION, "my-plugin", "0.1.0",
 *                                             my_init, my_shutdown};
 *         return &info;
 *     }
 *
 * THREADING: called on a host thread before init(), possibly more than once.
 * SINCE: 1.0
 */
NR_EXPORT const nr_plugin_info *nr_plugin_entry(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NAUTILUS_RELAY_PLUGIN_H */
