#include "augur/model/profile_estimator.hpp"

#include <algorithm>
#include <cmath>

namespace augur {

void profile_estimator::add_service(const std::string& name) {
  if (std::find(services_.begin(), services_.end(), name) != services_.end())
    return;
  services_.push_back(name);
  for (auto& [_, st] : tasks_)
    st.services.emplace(name, estimate{});
}

void profile_estimator::define(const std::string& task,
                               const std::vector<std::string>& hints,
                               bool idempotent) {
  auto& st = tasks_[task];
  st.idempotent = idempotent;
  for (auto& svc : services_)
    st.services.emplace(svc, estimate{});
  for (auto& [name, est] : st.services)
    est.hinted = false;
  for (auto& h : hints)
    st.services[h].hinted = true;
  st.version = ++versions_;
}

profile_snapshot profile_estimator::snapshot(const std::string& task) const {
  profile_snapshot x;
  x.task = task;
  auto i = tasks_.find(task);
  if (i == tasks_.end())
    return x;
  x.observations = i->second.observations;
  for (auto& [name, est] : i->second.services)
    x.services.push_back({name, est.successes, est.failures, est.round_trips,
                          est.bytes_out, est.bytes_in});
  return x;
}

bool profile_estimator::restore(const profile_snapshot& x) {
  auto i = tasks_.find(x.task);
  if (i == tasks_.end())
    return false;
  auto& st = i->second;
  st.observations = x.observations;
  for (auto& s : x.services) {
    auto& est = st.services[s.name];
    est.successes = s.successes;
    est.failures = s.failures;
    est.round_trips = s.round_trips;
    est.bytes_out = s.bytes_out;
    est.bytes_in = s.bytes_in;
  }
  st.version = ++versions_;
  return true;
}

bool profile_estimator::forget(const std::string& task) {
  return tasks_.erase(task) != 0;
}

bool profile_estimator::observe(const std::string& task,
                                const std::vector<service_use>& used) {
  auto i = tasks_.find(task);
  if (i == tasks_.end())
    return false;
  auto& st = i->second;
  auto keep = std::exp2(-1.0 / std::max(cfg_.half_life, 1e-9));
  for (auto& u : used)
    st.services.emplace(u.service, estimate{});
  for (auto& [name, est] : st.services) {
    est.successes *= keep;
    est.failures *= keep;
    // (An init-capture: C++17 lambdas may not capture a structured binding.)
    auto u = std::find_if(used.begin(), used.end(),
                          [&n = name](const service_use& x) {
                            return x.service == n;
                          });
    if (u == used.end()) {
      est.failures += 1;
      continue;
    }
    est.successes += 1;
    // Round trips and bytes: exponentially weighted, with the same memory
    // as the likelihood (the first use sets them).
    auto w = est.successes <= 1 ? 1.0
                                : 1.0 / std::min(est.successes, cfg_.half_life);
    est.round_trips += w * (u->round_trips - est.round_trips);
    est.bytes_out += w * (static_cast<double>(u->bytes_out) - est.bytes_out);
    est.bytes_in += w * (static_cast<double>(u->bytes_in) - est.bytes_in);
  }
  ++st.observations;
  st.version = ++versions_;
  return true;
}

double profile_estimator::mean(const estimate& x) const {
  auto m = x.hinted ? cfg_.hinted_mean : cfg_.unhinted_mean;
  auto a0 = m * cfg_.prior_weight;
  auto b0 = (1 - m) * cfg_.prior_weight;
  return (a0 + x.successes) / (a0 + b0 + x.successes + x.failures);
}

task_profile profile_estimator::profile(const std::string& task) const {
  task_profile result;
  result.task = task;
  auto i = tasks_.find(task);
  if (i == tasks_.end())
    return result;
  result.known = true;
  result.idempotent = i->second.idempotent;
  result.observations = i->second.observations;
  result.version = i->second.version;
  for (auto& [name, est] : i->second.services) {
    service_likelihood x;
    x.service = name;
    x.likelihood = mean(est);
    x.round_trips = est.round_trips > 0 ? est.round_trips : 1;
    x.bytes_out = est.bytes_out;
    x.bytes_in = est.bytes_in;
    x.evidence = est.successes + est.failures;
    x.hinted = est.hinted;
    x.used = est.successes > 0;
    result.services.push_back(std::move(x));
  }
  return result;
}

double profile_estimator::likelihood(const std::string& task,
                                     const std::string& service) const {
  auto i = tasks_.find(task);
  if (i == tasks_.end())
    return 0;
  auto j = i->second.services.find(service);
  return j == i->second.services.end() ? 0 : mean(j->second);
}

namespace {

/// The bytes a service moves per execution changed by half (what they cost
/// on a slow channel changed as much), counting from at least 16 KiB.
bool bytes_moved(const service_likelihood& before,
                 const service_likelihood& now) {
  auto b = before.bytes();
  return std::fabs(now.bytes() - b) > 0.5 * std::max(b, 16384.0);
}

} // namespace

bool profile_moved(const task_profile& before, const task_profile& now,
                   double delta) {
  if (before.known != now.known
      || before.services.size() != now.services.size())
    return true;
  for (auto& x : now.services) {
    auto i = std::find_if(before.services.begin(), before.services.end(),
                          [&](auto& y) { return y.service == x.service; });
    if (i == before.services.end()
        || std::fabs(i->likelihood - x.likelihood) >= delta
        || i->hinted != x.hinted || i->used != x.used || bytes_moved(*i, x))
      return true;
  }
  return false;
}

} // namespace augur
