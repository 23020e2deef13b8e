#pragma once
// A FIFO batch whose elements are reused: clear() keeps them, with the memory they own, so
// refilling a slot (e.g. OwnedMessage::assign into a string that already has the capacity) costs
// no allocation. Two threads hand batches to each other by swap(); the memory goes back and forth
// with them instead of being freed by one thread and allocated again by the other.
#include <cstddef>
#include <utility>
#include <vector>

namespace nautilus::relay {

template <class T>
class SlotBatch {
public:
    std::size_t size() const noexcept { return _count; }
    bool empty() const noexcept { return _count == 0; }

    /// The next slot, holding whatever a previous use left in it: the caller overwrites it.
    T& push()
    {
        if (_count == _slots.size()) {
            _slots.emplace_back();
        }
        return _slots[_count++];
    }
    /// Gives back the slot the last push() returned.
    void unpush() noexcept { --_count; }
    void clear() noexcept { _count = 0; }
    void swap(SlotBatch& other) noexcept
    {
        _slots.swap(other._slots);
        std::swap(_count, other._count);
    }

    T* begin() noexcept { return _slots.data(); }
    T* end() noexcept { return _slots.data() + _count; }

    /// Every slot, used or not: to release memory a slot should not keep.
    std::vector<T>& slots() noexcept { return _slots; }

private:
    std::vector<T> _slots;
    std::size_t _count = 0;
};

}  // namespace nautilus::relay
