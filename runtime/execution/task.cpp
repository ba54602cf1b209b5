#include "augur/runtime/execution/task.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace augur {

task_context::task_context(
  std::string host, std::string instance, network_emulator& network,
  const std::map<std::string, service_handler>& services)
  : host_(std::move(host)),
    instance_(std::move(instance)),
    network_(network),
    services_(services) {
  // nop
}

std::string task_context::call(const std::string& service,
                               const std::string& request) {
  auto svc = services_.find(service);
  if (svc == services_.end())
    throw task_error("unknown service '" + service + "'");
  auto x = network_.round_trip(host_, service);
  auto i = std::find_if(used_.begin(), used_.end(),
                        [&](auto& u) { return u.service == service; });
  if (i == used_.end()) {
    used_.push_back(service_use{service, 0, 0, 0, 0, 0, x.ms});
    i = used_.end() - 1;
  }
  i->round_trips += 1;
  i->bytes_out += request.size();
  i->aux_ms += x.ms;
  aux_ms_ += x.ms;
  if (x.attempts == 0)
    throw task_error("no link from host '" + host_ + "' to service '" + service
                     + "'");
  if (!x.delivered)
    throw task_error("service '" + service + "' unreachable from host '" + host_
                     + "' after " + std::to_string(x.attempts) + " attempts");
  auto response = svc->second ? svc->second(request) : request;
  i->bytes_in += response.size();
  // The bytes cross the link at its bandwidth; what they took is what a
  // passive monitor sees of its throughput (on a link without a bandwidth,
  // nothing: faster than anything can time).
  auto bytes = static_cast<double>(request.size() + response.size());
  auto t = network_.transfer_ms(host_, service, bytes);
  if (t > 0) {
    if (transfers_.size() < max_transfers)
      transfers_.push_back(
        {service, compute_ms_ + aux_ms_, request.size() + response.size(), t});
    i->aux_ms += t;
    aux_ms_ += t;
  }
  i->transfer_bytes += request.size() + response.size();
  i->transfer_ms += t;
  return response;
}

std::string task_directory_name(const std::string& task) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : task) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      out += '_';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void task_catalog::define(const std::string& name, task_options options,
                          task_handler handler) {
  auto x = std::make_shared<entry>(
    entry{std::move(options), std::move(handler), nullptr});
  std::unique_lock<std::shared_mutex> guard{mtx_};
  tasks_[name] = std::move(x);
}

void task_catalog::define_command(const std::string& name, task_options options,
                                  command_spec command, uint64_t version) {
  auto x = std::make_shared<entry>(
    entry{std::move(options), nullptr,
          std::make_shared<const command_spec>(std::move(command)), version});
  std::unique_lock<std::shared_mutex> guard{mtx_};
  tasks_[name] = std::move(x);
}

bool task_catalog::remove(const std::string& name) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  return tasks_.erase(name) != 0;
}

std::vector<std::string> task_catalog::names() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  std::vector<std::string> result;
  for (auto& [name, _] : tasks_)
    result.push_back(name);
  return result;
}

std::shared_ptr<const task_catalog::entry>
task_catalog::find(const std::string& name) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = tasks_.find(name);
  return i == tasks_.end() ? nullptr : i->second;
}

void task_catalog::define_service(const std::string& name,
                                  task_context::service_handler handler) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto next = std::make_shared<service_map>(*services_);
  (*next)[name] = std::move(handler);
  services_ = std::move(next);
}

void task_catalog::add_service(const std::string& name) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto next = std::make_shared<service_map>(*services_);
  next->emplace(name, nullptr);
  services_ = std::move(next);
}

std::shared_ptr<const task_catalog::service_map>
task_catalog::services() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return services_;
}

} // namespace augur
