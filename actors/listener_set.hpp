#pragma once

#include <cstddef>
#include <vector>

#include <caf/actor_addr.hpp>

namespace augur {

/// The actors an actor publishes to: each at most once, forgotten when it
/// goes down, at most `limit` of them. A node that joins again and again
/// (a worker after each lost connection, a frontend after a restart)
/// subscribes again each time; without this the list would grow with every
/// rejoin and each publication would go to every past incarnation.
template <class Handle>
class listener_set {
public:
  explicit listener_set(size_t limit = size_t{1} << 16) : limit_(limit) {
    // nop
  }

  enum class added { fresh, known, full };

  /// Adds `h` unless it is there already or the set is full.
  added add(Handle h) {
    for (auto& x : list_)
      if (x == h)
        return added::known;
    if (list_.size() >= limit_)
      return added::full;
    list_.push_back(std::move(h));
    return added::fresh;
  }

  /// Forgets the listener at `addr` (it went down); whether it was there.
  bool remove(const caf::actor_addr& addr) {
    for (auto i = list_.begin(); i != list_.end(); ++i)
      if (i->address() == addr) {
        list_.erase(i);
        return true;
      }
    return false;
  }

  size_t size() const noexcept {
    return list_.size();
  }

  auto begin() const noexcept {
    return list_.begin();
  }

  auto end() const noexcept {
    return list_.end();
  }

private:
  size_t limit_;
  std::vector<Handle> list_;
};

} // namespace augur
