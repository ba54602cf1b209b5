#include "augur/model/instance_pool.hpp"

#include <stdexcept>

namespace augur {

namespace {

constexpr size_t absent = static_cast<size_t>(-1);

} // namespace

instance_pool::index instance_pool::add(const std::string& name,
                                        const std::string& host_name,
                                        uint32_t slots) {
  if (instance_by_name_.count(name) != 0)
    throw std::invalid_argument("duplicate instance name: " + name);
  auto [h, fresh] = host_by_name_.emplace(host_name,
                                          static_cast<uint32_t>(hosts_.size()));
  if (fresh)
    hosts_.push_back(host{host_name, {}});
  auto i = static_cast<index>(instances_.size());
  instance x;
  x.name = name;
  x.host = h->second;
  x.slots = slots;
  x.warm = warm_set{warm_capacity_};
  instances_.push_back(std::move(x));
  instance_by_name_.emplace(name, i);
  if (slots > 0)
    insert_free(i);
  return i;
}

void instance_pool::retire(index i) {
  auto& x = instances_[i];
  if (x.retired)
    return;
  if (x.pos_free != absent)
    erase_free(i);
  x.retired = true;
  ++retired_;
}

void instance_pool::revive(index i) {
  auto& x = instances_[i];
  if (!x.retired)
    return;
  x.retired = false;
  --retired_;
  total_busy_ -= x.busy;
  x.busy = 0;
  x.warm = warm_set{warm_capacity_};
  if (x.slots > 0)
    insert_free(i);
}

uint32_t instance_pool::find_host(const std::string& name) const {
  auto i = host_by_name_.find(name);
  return i == host_by_name_.end() ? npos : i->second;
}

instance_pool::index instance_pool::find(const std::string& name) const {
  auto i = instance_by_name_.find(name);
  return i == instance_by_name_.end() ? npos : i->second;
}

void instance_pool::acquire(index i) {
  auto& x = instances_[i];
  if (x.retired || x.busy >= x.slots)
    throw std::logic_error("acquire on an instance without a free slot");
  ++x.busy;
  ++total_busy_;
  if (x.busy == x.slots)
    erase_free(i);
}

void instance_pool::release(index i) {
  auto& x = instances_[i];
  if (x.busy == 0)
    throw std::logic_error("release on an idle instance");
  --x.busy;
  --total_busy_;
  if (!x.retired && x.pos_free == absent)
    insert_free(i);
}

void instance_pool::insert_free(index i) {
  auto& x = instances_[i];
  x.pos_free = free_.size();
  free_.push_back(i);
  auto& hf = hosts_[x.host].free;
  x.pos_host_free = hf.size();
  hf.push_back(i);
}

void instance_pool::erase_free(index i) {
  auto& x = instances_[i];
  // Swap-remove from both lists, fixing the moved element's position.
  auto last = free_.back();
  free_[x.pos_free] = last;
  instances_[last].pos_free = x.pos_free;
  free_.pop_back();
  auto& hf = hosts_[x.host].free;
  auto hlast = hf.back();
  hf[x.pos_host_free] = hlast;
  instances_[hlast].pos_host_free = x.pos_host_free;
  hf.pop_back();
  x.pos_free = absent;
  x.pos_host_free = absent;
}

} // namespace augur
