// The host table itself: its header fields, and that every function copes with NULL handles
// (a buggy plugin must get a status, not crash the host).
#include <gtest/gtest.h>

#include "common/Message.h"
#include "plugin/HostApi.h"

using namespace nautilus::relay;

TEST(HostApiTest, TableCarriesItsSizeAndVersion)
{
    const nr_host_api& api = HostApi::table();
    EXPECT_EQ(api.struct_size, sizeof(nr_host_api));
    EXPECT_EQ(api.abi_version, NR_ABI_VERSION);
    EXPECT_TRUE(NR_HOST_HAS(&api, message_received_ns));
}

TEST(HostApiTest, NullPluginHandlesAreRefusedNotDereferenced)
{
    const nr_host_api& api = HostApi::table();
    nr_str value{nullptr, 0};
    EXPECT_EQ(api.subscribe(nullptr, nr_str_of("*"), nr_str_of(""), nullptr, nullptr), NR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(api.publish(nullptr, nr_str_of("plugin.x.y"), nr_str_of(""), nr_str_of("{}")), NR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(api.config_get(nullptr, nr_str_of("k"), &value), NR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(api.counter_add(nullptr, nr_str_of("c"), 1), NR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(api.gauge_set(nullptr, nr_str_of("g"), 1.0), NR_ERR_INVALID_ARGUMENT);
    api.log(nullptr, NR_LOG_INFO, nr_str_of("ignored"));
    api.set_error(nullptr, nr_str_of("ignored"));
    EXPECT_EQ(api.message_topic(nullptr).size, 0u);
    EXPECT_EQ(api.message_payload(nullptr).data, nullptr);
    EXPECT_EQ(api.message_received_ns(nullptr), 0);
}

TEST(HostApiTest, MessageAccessorsViewTheRoutedMessage)
{
    Message m;
    m.stream = "trader-TRADER-001:stream";
    m.id = "1732700000000-0";
    m.topic = "data.quotes.BINANCE.BTCUSDT";
    m.type = "QuoteTick";
    m.encoding = Encoding::MsgPack;
    m.json = "{\"bid\":1}";
    m.receivedNs = 42;
    const nr_message handle{&m};
    const nr_host_api& api = HostApi::table();
    auto view = [](nr_str s) { return std::string(s.data, s.size); };
    EXPECT_EQ(view(api.message_stream(&handle)), "trader-TRADER-001:stream");
    EXPECT_EQ(view(api.message_id(&handle)), "1732700000000-0");
    EXPECT_EQ(view(api.message_topic(&handle)), "data.quotes.BINANCE.BTCUSDT");
    EXPECT_EQ(view(api.message_type(&handle)), "QuoteTick");
    EXPECT_EQ(view(api.message_encoding(&handle)), "msgpack");
    EXPECT_EQ(view(api.message_payload(&handle)), "{\"bid\":1}");
    EXPECT_EQ(api.message_received_ns(&handle), 42);
}

TEST(HostApiTest, StatusNamesCoverUnknownCodes)
{
    EXPECT_EQ(HostApi::statusName(NR_ERR_NOT_FOUND), "NR_ERR_NOT_FOUND");
    EXPECT_EQ(HostApi::statusName(77), "status 77");
}
