#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "augur/model/warm_set.hpp"

namespace augur {

/// The frontend's view of the instances: slots, load, and which tasks each
/// one keeps warm, with the free instances kept in lists (overall and per
/// host) so that every placement decision costs O(hosts + k), not
/// O(instances).
class instance_pool {
public:
  using index = uint32_t;

  static constexpr index npos = static_cast<index>(-1);

  explicit instance_pool(size_t warm_capacity = 8)
    : warm_capacity_(warm_capacity) {
    // nop
  }

  /// Adds an instance; its host is created on first mention.
  index add(const std::string& name, const std::string& host, uint32_t slots);

  /// Removes an instance from the free lists (it left the pool).
  void retire(index i);

  /// Brings a retired instance back, idle (it joined again).
  void revive(index i);

  /// Instances not retired.
  size_t live() const noexcept {
    return instances_.size() - retired_;
  }

  size_t size() const noexcept {
    return instances_.size();
  }

  size_t hosts() const noexcept {
    return hosts_.size();
  }

  const std::string& name(index i) const {
    return instances_[i].name;
  }

  uint32_t host_of(index i) const {
    return instances_[i].host;
  }

  const std::string& host_name(uint32_t h) const {
    return hosts_[h].name;
  }

  /// Host index of `name`, or npos.
  uint32_t find_host(const std::string& name) const;

  /// Instance index of `name`, or npos.
  index find(const std::string& name) const;

  uint32_t slots(index i) const {
    return instances_[i].slots;
  }

  uint32_t busy(index i) const {
    return instances_[i].busy;
  }

  bool retired(index i) const {
    return instances_[i].retired;
  }

  bool has_free_slot(index i) const {
    auto& x = instances_[i];
    return !x.retired && x.busy < x.slots;
  }

  /// Takes one slot of `i` (it must have one free).
  void acquire(index i);

  /// Gives one slot of `i` back.
  void release(index i);

  /// Instances with at least one free slot.
  const std::vector<index>& free() const noexcept {
    return free_;
  }

  /// Instances of host `h` with at least one free slot.
  const std::vector<index>& free_on_host(uint32_t h) const {
    return hosts_[h].free;
  }

  bool warm(index i, const std::string& task) const {
    return instances_[i].warm.contains(task);
  }

  /// Records that `task` ran on `i` (mirrors the instance's warm set).
  void touch(index i, const std::string& task) {
    instances_[i].warm.touch(task);
  }

  uint32_t total_busy() const noexcept {
    return total_busy_;
  }

private:
  struct instance {
    std::string name;
    uint32_t host = 0;
    uint32_t slots = 1;
    uint32_t busy = 0;
    bool retired = false;
    warm_set warm;
    // Positions in the free lists (npos when absent).
    size_t pos_free = static_cast<size_t>(-1);
    size_t pos_host_free = static_cast<size_t>(-1);
  };

  struct host {
    std::string name;
    std::vector<index> free;
  };

  void insert_free(index i);
  void erase_free(index i);

  size_t warm_capacity_;
  std::vector<instance> instances_;
  std::vector<host> hosts_;
  std::vector<index> free_;
  std::unordered_map<std::string, uint32_t> host_by_name_;
  std::unordered_map<std::string, index> instance_by_name_;
  uint32_t total_busy_ = 0;
  size_t retired_ = 0;
};

} // namespace augur
