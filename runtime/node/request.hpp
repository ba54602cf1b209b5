#pragma once

#include <string>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace augur {

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
  // The destination travels as a spawn argument: CAF 0.17 dereferences a
  // null argument pack for argument-less function actors (UBSan flags it).
  sys.spawn(
    [=](caf::event_based_actor* self, Handle to) {
      self->request(to, timeout, xs...)
        .then([=](T& x) mutable { on_reply(x); },
              [=](caf::error& err) mutable {
                on_error(self->system().render(err));
              });
    },
    dest);
}

} // namespace augur
