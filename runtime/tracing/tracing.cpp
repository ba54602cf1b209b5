#include "augur/runtime/tracing/tracing.hpp"

#include <cstdio>
#include <map>
#include <stdexcept>

#include <caf/binary_serializer.hpp>
#include <caf/local_actor.hpp>

#include "augur/messages/protocol.hpp"

namespace augur {

// -- sink --------------------------------------------------------------------

struct trace_sink::file_handle {
  std::FILE* f = nullptr;
};

trace_sink::trace_sink(trace_settings cfg) : cfg_(std::move(cfg)) {
  if (!cfg_.file.empty()) {
    file_ = std::make_unique<file_handle>();
    file_->f = std::fopen(cfg_.file.c_str(), "wb");
    if (file_->f == nullptr)
      throw std::runtime_error("cannot write the trace file " + cfg_.file);
  }
}

trace_sink::~trace_sink() {
  flush();
  if (file_ && file_->f != nullptr)
    std::fclose(file_->f);
}

bool trace_sink::sampled(uint64_t invocation, uint64_t message) const {
  if (cfg_.sample >= 1)
    return true;
  if (cfg_.sample <= 0)
    return false;
  // A hash of the invocation (or message) decides, so a kept invocation
  // keeps all its messages.
  auto x = (invocation != 0 ? invocation : message ^ 0x5bd1e995ull)
           * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53 < cfg_.sample;
}

void trace_sink::add(trace_record x) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!file_) {
    if (memory_.size() >= cfg_.memory_records)
      memory_.pop_front();
    memory_.push_back(std::move(x));
    return;
  }
  write_record(buffer_, x);
  if (buffer_.size() >= (1u << 16)) {
    std::fwrite(buffer_.data(), 1, buffer_.size(), file_->f);
    buffer_.clear();
  }
}

void trace_sink::flush() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (file_ && file_->f != nullptr) {
    std::fwrite(buffer_.data(), 1, buffer_.size(), file_->f);
    buffer_.clear();
    std::fflush(file_->f);
  }
}

std::vector<trace_record> trace_sink::records() {
  if (!file_) {
    std::lock_guard<std::mutex> guard{mtx_};
    return {memory_.begin(), memory_.end()};
  }
  flush();
  return read_trace(cfg_.file).records;
}

// -- registry of sinks -------------------------------------------------------

namespace {

std::mutex sinks_mtx;

std::map<const caf::actor_system*, std::shared_ptr<trace_sink>>& sinks() {
  static std::map<const caf::actor_system*, std::shared_ptr<trace_sink>> xs;
  return xs;
}

} // namespace

void attach_trace_sink(const caf::actor_system& sys,
                       std::shared_ptr<trace_sink> sink) {
  std::lock_guard<std::mutex> guard{sinks_mtx};
  sinks()[&sys] = std::move(sink);
}

void detach_trace_sink(const caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{sinks_mtx};
  sinks().erase(&sys);
}

std::shared_ptr<trace_sink> trace_sink_of(const caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{sinks_mtx};
  auto i = sinks().find(&sys);
  return i == sinks().end() ? nullptr : i->second;
}

uint64_t& current_invocation() noexcept {
  thread_local uint64_t id = 0;
  return id;
}

uint64_t& first_scope_in_handler() noexcept {
  thread_local uint64_t id = 0;
  return id;
}

// -- records -----------------------------------------------------------------

namespace detail {

namespace {

int64_t now_ns(caf::local_actor* self) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

/// The invocation a message names in its content, or 0.
uint64_t invocation_in(const caf::type_erased_tuple& xs) {
  if (xs.size() != 1)
    return 0;
  if (xs.match_element<invoke_result>(0))
    return xs.get_as<invoke_result>(0).invocation;
  if (xs.match_element<bid_request>(0))
    return xs.get_as<bid_request>(0).invocation;
  if (xs.match_element<bid>(0))
    return xs.get_as<bid>(0).invocation;
  if (xs.match_element<execute_request>(0))
    return xs.get_as<execute_request>(0).invocation;
  if (xs.match_element<observation>(0))
    return xs.get_as<observation>(0).invocation;
  return 0;
}

/// `invoke_request`, or the atoms and types of the elements: `get,status`.
std::string type_of(caf::local_actor* self, const caf::type_erased_tuple& xs) {
  std::string result;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!result.empty())
      result += ',';
    if (xs.match_element<caf::atom_value>(i)) {
      result += caf::to_string(xs.get_as<caf::atom_value>(i));
      continue;
    }
    auto& name = self->home_system().types().portable_name(xs.type(i));
    if (name.rfind("augur::", 0) == 0)
      result += name.substr(7);
    else
      result += name;
  }
  return result.empty() ? "()" : result;
}

uint64_t size_of(caf::local_actor* self, const caf::type_erased_tuple& xs) {
  thread_local std::vector<char> buf;
  buf.clear();
  caf::binary_serializer sink{self->home_system(), buf};
  if (auto err = const_cast<caf::type_erased_tuple&>(xs).save(sink))
    return 0;
  return buf.size();
}

/// Name and id of the sender of `x`.
std::pair<std::string, uint64_t> sender_of(caf::local_actor* self,
                                           const caf::mailbox_element& x) {
  if (!x.sender)
    return {"", 0};
  auto id = x.sender->id();
  if (x.sender->node() != self->node())
    return {"remote@" + caf::to_string(x.sender->node()), id};
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x.sender);
  if (auto local = dynamic_cast<caf::local_actor*>(ptr))
    return {local->name(), id};
  return {"actor", id};
}

trace_record base_record(trace_sink& sink, caf::local_actor* receiver,
                         const caf::mailbox_element& x, uint64_t message,
                         uint64_t invocation, const char* event) {
  trace_record r;
  r.time_ns = now_ns(receiver);
  r.node = sink.settings().node;
  r.event = event;
  r.message = message;
  std::tie(r.sender, r.sender_id) = sender_of(receiver, x);
  r.receiver = receiver->name();
  r.receiver_id = receiver->id();
  auto& xs = x.content();
  r.type = type_of(receiver, xs);
  r.request = x.mid.request_id().integer_value();
  r.response = x.mid.is_response();
  r.invocation = invocation;
  r.size = size_of(receiver, xs);
  if (sink.settings().content)
    r.content = xs.stringify();
  return r;
}

} // namespace

pending_message trace_send(trace_sink& sink, caf::local_actor* receiver,
                           const caf::mailbox_element& x) {
  pending_message p;
  auto message = sink.next_message();
  auto invocation = invocation_in(x.content());
  if (invocation == 0)
    invocation = current_invocation();
  p.sampled = sink.sampled(invocation, message);
  if (p.sampled) {
    p.sent = base_record(sink, receiver, x, message, invocation, "send");
    sink.add(p.sent);
  }
  return p;
}

trace_record consume_record(trace_sink&, caf::local_actor* receiver,
                            const caf::mailbox_element&,
                            const pending_message& p) {
  auto r = p.sent;
  r.time_ns = now_ns(receiver);
  r.event = "consume";
  return r;
}

} // namespace detail

} // namespace augur
