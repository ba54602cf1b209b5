// The embedded cluster of users' tests: a thin facade over the node runtime.

#include <augur/embedded.hpp>

#include <utility>

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/node/node_runtime.hpp"

namespace augur {

static_assert(embedded_cluster::max_unclaimed == node_runtime::max_unclaimed);

namespace {

node_runtime::clock_mode to_runtime(embedded_cluster::clock_mode mode) {
  return mode == embedded_cluster::clock_mode::real_time
           ? node_runtime::clock_mode::real_time
           : node_runtime::clock_mode::virtual_time;
}

invocation_result to_facade(invoke_result r) {
  invocation_result x;
  static_cast<invoke_result&>(x) = std::move(r);
  x.latency = std::chrono::duration<double, std::milli>{x.latency_ms};
  return x;
}

} // namespace

embedded_cluster::embedded_cluster(std::unique_ptr<node_runtime> runtime)
  : runtime_(std::move(runtime)) {
  // nop
}

embedded_cluster embedded_cluster::from_toml(std::string_view text,
                                             clock_mode mode) {
  return embedded_cluster{
    std::make_unique<node_runtime>(parse_config(text), to_runtime(mode))};
}

embedded_cluster embedded_cluster::from_file(const std::string& path,
                                             clock_mode mode) {
  return embedded_cluster{
    std::make_unique<node_runtime>(load_config(path), to_runtime(mode))};
}

embedded_cluster::embedded_cluster(embedded_cluster&&) noexcept = default;

embedded_cluster&
embedded_cluster::operator=(embedded_cluster&&) noexcept = default;

embedded_cluster::~embedded_cluster() = default;

void embedded_cluster::define_task(const std::string& name,
                                   task_options options, task_handler handler) {
  runtime_->define_task(name, std::move(options), std::move(handler));
}

void embedded_cluster::define_command_task(const std::string& name,
                                           task_options options,
                                           command_spec command) {
  runtime_->define_command_task(name, std::move(options), std::move(command));
}

void embedded_cluster::define_service(const std::string& name,
                                      task_context::service_handler handler) {
  runtime_->define_service(name, std::move(handler));
}

invocation_result embedded_cluster::invoke(const std::string& task,
                                           const std::string& payload) {
  return to_facade(runtime_->invoke(task, payload));
}

embedded_cluster::ticket embedded_cluster::submit(const std::string& task,
                                                  const std::string& payload) {
  return runtime_->submit(task, payload);
}

invocation_result embedded_cluster::wait(ticket t) {
  return to_facade(runtime_->wait(t));
}

std::vector<invocation_result> embedded_cluster::drain() {
  std::vector<invocation_result> result;
  for (auto& r : runtime_->drain())
    result.push_back(to_facade(std::move(r)));
  return result;
}

embedded_cluster::ticket
embedded_cluster::execute_on(const std::string& instance,
                             const std::string& task,
                             const std::string& payload) {
  return runtime_->execute_on(instance, task, payload);
}

void embedded_cluster::set_link(
  const std::string& host, const std::string& service,
  std::chrono::duration<double, std::milli> rtt, double loss,
  std::chrono::duration<double, std::milli> jitter) {
  runtime_->set_link(host, service, rtt, loss, jitter);
}

std::vector<std::string>
embedded_cluster::fail_instances(const std::string& host, size_t n) {
  return runtime_->fail_instances(host, n);
}

void embedded_cluster::advance(std::chrono::duration<double, std::milli> d) {
  runtime_->advance(d);
}

std::chrono::duration<double, std::milli> embedded_cluster::now() const {
  return runtime_->now();
}

task_profile embedded_cluster::profile(const std::string& task) {
  return runtime_->profile(task);
}

frontend_status embedded_cluster::status() {
  return runtime_->status();
}

std::vector<channel_sample> embedded_cluster::channels() {
  return runtime_->channels();
}

instance_status embedded_cluster::instance(const std::string& name) {
  return runtime_->instance(name);
}

service_info embedded_cluster::service(const std::string& name) {
  return runtime_->service(name);
}

std::vector<std::string> embedded_cluster::instances() const {
  return runtime_->instances();
}

std::vector<trace_record> embedded_cluster::trace_records() {
  return runtime_->trace_records();
}

} // namespace augur
