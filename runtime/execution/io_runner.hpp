#pragma once

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

namespace augur {

/// One thread running an Asio `io_context`, kept alive by a work guard until
/// destruction, and a launcher: threads for the work that blocks (fork and
/// exec, name lookups, the file system), so that neither the actors' threads
/// nor the I/O thread (whose timers pace every gateway) wait on it. Actors
/// post work into them and get results back as messages; nothing on these
/// threads touches actor state. Declare it after the actor system that uses
/// it, so that it stops first.
class io_runner {
public:
  io_runner() : guard_(boost::asio::make_work_guard(ctx_)) {
    thread_ = std::thread{[this] {
      ctx_.run();
    }};
  }

  ~io_runner() {
    stop();
  }

  /// Stops the threads (idempotent); pending work is dropped. Safe from any
  /// thread but the launcher's, the I/O thread included.
  void stop() {
    launcher_.stop();
    launcher_.join();
    guard_.reset();
    ctx_.stop();
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id())
        thread_.detach();
      else
        thread_.join();
    }
  }

  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;

  boost::asio::io_context& context() noexcept {
    return ctx_;
  }

  /// Where blocking work goes (two threads).
  boost::asio::thread_pool& launcher() noexcept {
    return launcher_;
  }

private:
  boost::asio::thread_pool launcher_{2};
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
    guard_;
  std::thread thread_;
};

} // namespace augur
