#pragma once

// Message-level tracing: a mixin over an actor's mailbox that records every
// message the actor is sent and consumes, into a sink per actor system. Off
// (no sink attached), the mixin costs one pointer test per message.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scheduled_actor.hpp>

#include "augur/runtime/tracing/trace_format.hpp"
#include "augur/runtime/tracing/trace_settings.hpp"

namespace augur {

/// Where traced records go: a file (msgpack records, see
/// docs/trace-format.md) or, without a file, memory. Thread-safe.
class trace_sink {
public:
  /// Opens the file, if any (throws `std::runtime_error` if it cannot).
  explicit trace_sink(trace_settings cfg);

  ~trace_sink();

  trace_sink(const trace_sink&) = delete;
  trace_sink& operator=(const trace_sink&) = delete;

  /// Whether a message of `invocation` (or, without one, with this message
  /// number) is kept under the sampling rate: all messages of a sampled
  /// invocation are kept, so its chain stays whole.
  bool sampled(uint64_t invocation, uint64_t message) const;

  /// A new message number.
  uint64_t next_message() {
    return ++messages_;
  }

  void add(trace_record x);

  /// Writes buffered records to the file.
  void flush();

  /// The records kept in memory (without a file: the latest
  /// `memory_records`), or read back from the file after a flush.
  std::vector<trace_record> records();

  const trace_settings& settings() const noexcept {
    return cfg_;
  }

private:
  trace_settings cfg_;
  std::atomic<uint64_t> messages_{0};
  std::mutex mtx_;
  std::string buffer_;
  std::deque<trace_record> memory_;
  struct file_handle;
  std::unique_ptr<file_handle> file_;
};

/// Attaches a sink to an actor system: actors spawned afterwards trace into
/// it. Process-wide, so that actors find it from their home system.
void attach_trace_sink(const caf::actor_system& sys,
                       std::shared_ptr<trace_sink> sink);

/// Detaches the sink of `sys` (actors keep theirs until they end).
void detach_trace_sink(const caf::actor_system& sys);

/// The sink of `sys`, or nullptr: tracing is off.
std::shared_ptr<trace_sink> trace_sink_of(const caf::actor_system& sys);

/// The invocation the current thread is working for: actors set it while
/// they handle something about one invocation, so that what they send is
/// attributed to it.
uint64_t& current_invocation() noexcept;

/// The first invocation a handler opened a scope for (0: none): a handler
/// that starts an invocation (the frontend's admission) names it this way.
uint64_t& first_scope_in_handler() noexcept;

/// Sets `current_invocation()` for a scope.
class invocation_scope {
public:
  explicit invocation_scope(uint64_t id) noexcept
    : previous_(current_invocation()) {
    current_invocation() = id;
    auto& first = first_scope_in_handler();
    if (first == 0)
      first = id;
  }

  ~invocation_scope() {
    current_invocation() = previous_;
  }

  invocation_scope(const invocation_scope&) = delete;
  invocation_scope& operator=(const invocation_scope&) = delete;

private:
  uint64_t previous_;
};

namespace detail {

// ThreadSanitizer cannot see the synchronisation inside CAF (Debian's
// libcaf is not built with it): a message handed from a sender's thread to
// the receiver's looks like a race on everything it carries. In a TSan
// build, augur's actors say so themselves: entering the mailbox releases
// the message, consuming it acquires it.
#if defined(__SANITIZE_THREAD__)
#  define AUGUR_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define AUGUR_TSAN 1
#  endif
#endif

#ifdef AUGUR_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline void message_sent(const void* x) {
  __tsan_release(const_cast<void*>(x));
}
inline void message_received(const void* x) {
  __tsan_acquire(const_cast<void*>(x));
}
#else
inline void message_sent(const void*) {
  // nop
}
inline void message_received(const void*) {
  // nop
}
#endif

/// What the mixin remembers between a message's send and its consume.
struct pending_message {
  bool sampled = false;
  /// The send record: the consume record is the same but for time and
  /// event (so the message is described once).
  trace_record sent;
};

/// Records the sending of `x` to `receiver`; returns what consume needs.
pending_message trace_send(trace_sink& sink, caf::local_actor* receiver,
                           const caf::mailbox_element& x);

/// The record of `receiver` consuming `x`, made before the handler runs
/// (handlers may move the message's content away).
trace_record consume_record(trace_sink& sink, caf::local_actor* receiver,
                            const caf::mailbox_element& x,
                            const pending_message& p);

} // namespace detail

/// The tracing mixin: `traced<stateful_actor<State, Base>>` is the actor
/// class of every augur actor (see `traced_pointer`). It overrides the
/// mailbox's entry (`enqueue`, called on the sender's thread) and exit
/// (`consume`), so it sees requests, responses, delayed and remote messages.
template <class Base>
class traced : public Base {
public:
  template <class... Ts>
  explicit traced(caf::actor_config& cfg, Ts&&... xs)
    : Base(cfg, std::forward<Ts>(xs)...),
      sink_(trace_sink_of(this->home_system())) {
    // nop
  }

  void enqueue(caf::mailbox_element_ptr what,
               caf::execution_unit* eu) override {
    detail::message_sent(what.get());
    if (sink_ && what) {
      auto p = detail::trace_send(*sink_, this, *what);
      // Only sampled messages are remembered; the others are not recorded.
      std::lock_guard<std::mutex> guard{mtx_};
      if (p.sampled)
        pending_[what.get()] = p;
      else if (!pending_.empty())
        pending_.erase(what.get());
    }
    Base::enqueue(std::move(what), eu);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    detail::message_received(&x);
    if (!sink_)
      return Base::consume(x);
    detail::pending_message p;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto i = pending_.find(&x);
      if (i != pending_.end()) {
        p = i->second;
        pending_.erase(i);
      }
    }
    if (!p.sampled)
      return Base::consume(x);
    auto record = detail::consume_record(*sink_, this, x, p);
    if (x.mid.is_response() && !awaits(x.mid))
      record.event = "drop"; // e.g. the timeout of an answered request
    first_scope_in_handler() = 0;
    auto start = std::chrono::steady_clock::now();
    auto result = Base::consume(x);
    record.handler_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    if (record.invocation == 0)
      record.invocation = first_scope_in_handler();
    sink_->add(std::move(record));
    return result;
  }

private:
  /// Whether a handler waits for the response `mid`.
  bool awaits(caf::message_id mid) const {
    auto& multiplexed = this->multiplexed_responses_;
    if (multiplexed.find(mid) != multiplexed.end())
      return true;
    for (auto& awaited : this->awaited_responses_)
      if (awaited.first == mid)
        return true;
    return false;
  }

  std::shared_ptr<trace_sink> sink_;
  std::mutex mtx_;
  std::unordered_map<const void*, detail::pending_message> pending_;
};

/// An actor that only tells ThreadSanitizer about the messages it gets (see
/// `detail::message_sent`), for actors that are not traced.
template <class Base>
class synced : public Base {
public:
  using Base::Base;

  void enqueue(caf::mailbox_element_ptr what,
               caf::execution_unit* eu) override {
    detail::message_sent(what.get());
    Base::enqueue(std::move(what), eu);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    detail::message_received(&x);
    return Base::consume(x);
  }
};

/// The self pointer of a traced, stateful, typed augur actor.
template <class Handle, class State>
using traced_pointer = traced<typename Handle::template stateful_base<State>>*;

} // namespace augur
