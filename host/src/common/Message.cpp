#include "common/Message.h"

namespace nautilus::relay {

std::string_view toString(Encoding e)
{
    switch (e) {
    case Encoding::Json: return "json";
    case Encoding::MsgPack: return "msgpack";
    case Encoding::Capnp: return "capnp";
    case Encoding::Sbe: return "sbe";
    }
    return "json";
}

std::string_view toString(PayloadKind k)
{
    switch (k) {
    case PayloadKind::Json: return "json";
    case PayloadKind::MsgPack: return "msgpack";
    case PayloadKind::Text: return "text";
    case PayloadKind::Opaque: return "opaque";
    }
    return "json";
}

void OwnedMessage::assign(const Message& m)
{
    const std::string_view parts[7] = {m.stream, m.id, m.topic, m.headerType, m.type, m.json, m.raw};
    std::size_t total = 0;
    for (auto p : parts) {
        total += p.size();
    }
    _storage.clear();
    _storage.reserve(total);
    for (int i = 0; i < 7; ++i) {
        _storage.append(parts[i]);
        _len[i] = static_cast<std::uint32_t>(parts[i].size());
    }
    _msg = m;
    rebind();
}

void OwnedMessage::rebind()
{
    std::string_view* fields[7] = {&_msg.stream, &_msg.id, &_msg.topic, &_msg.headerType,
                                   &_msg.type, &_msg.json, &_msg.raw};
    std::size_t off = 0;
    for (int i = 0; i < 7; ++i) {
        *fields[i] = std::string_view(_storage.data() + off, _len[i]);
        off += _len[i];
    }
}

}  // namespace nautilus::relay
