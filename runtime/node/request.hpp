#pragma once

#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

namespace detail {

/// The short-lived actor of `request_from_outside`: `start` sends the
/// request; the actor lives until its answer (or error) is handled.
template <class Start>
class outside_requester : public synced<caf::event_based_actor> {
public:
  outside_requester(caf::actor_config& cfg, Start start)
    : synced<caf::event_based_actor>(cfg), start_(std::move(start)) {
    // nop
  }

  caf::behavior make_behavior() override {
    start_(this);
    return {};
  }

private:
  Start start_;
};

} // namespace detail

/// Sends a request to `dest` from a short-lived actor of `sys`, for code
/// that is not an actor (the node runtime's callers, the HTTP API). At most
/// one of the two continuations runs (none when the actor system shuts down
/// first), on that actor's thread: `on_reply`
/// with the answer (`T&`), or `on_error` with the rendered error (a timeout
/// (`timeout`: a duration or `caf::infinite`),
/// a lost destination, an error the destination answered).
template <class T, class Handle, class Timeout, class OnReply, class OnError,
          class... Ts>
void request_from_outside(caf::actor_system& sys, const Handle& dest,
                          Timeout timeout, OnReply on_reply, OnError on_error,
                          Ts... xs) {
  auto start = [=](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...)
      .then([=](T& x) mutable { on_reply(x); },
            [=](caf::error& err) mutable {
              on_error(self->system().render(err));
            });
  };
  sys.spawn<detail::outside_requester<decltype(start)>>(std::move(start));
}

} // namespace augur
