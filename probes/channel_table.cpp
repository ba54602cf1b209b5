#include "augur/probes/channel_table.hpp"

namespace augur {

void channel_table::update(channel_sample x, double now_ms) {
  auto& e = channels_[x.service][x.host];
  e.sample = std::move(x);
  e.received_ms = now_ms;
}

const channel_table::entry*
channel_table::find(const std::string& host, const std::string& service) const {
  if (auto i = channels_.find(service); i != channels_.end())
    if (auto j = i->second.find(host); j != i->second.end())
      return &j->second;
  return nullptr;
}

double channel_table::cost_ms(const std::string& host,
                              const std::string& service, double now_ms) const {
  auto e = find(host, service);
  if (e == nullptr)
    return channel_quality::unusable;
  return quality_.cost_ms(e->sample,
                          e->sample.age_ms + now_ms - e->received_ms);
}

double channel_table::transfer_ms(const std::string& host,
                                  const std::string& service,
                                  double bytes) const {
  if (bytes <= 0)
    return 0; // no lookup for the executions that move nothing
  auto e = find(host, service);
  return e != nullptr ? quality_.transfer_ms(e->sample, bytes)
                      : quality_.transfer_ms(bytes);
}

std::vector<channel_sample> channel_table::samples() const {
  std::vector<channel_sample> result;
  for (auto& [service, hosts] : channels_)
    for (auto& [host, e] : hosts)
      result.push_back(e.sample);
  return result;
}

} // namespace augur
