#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/model/instance_pool.hpp"

namespace augur {

/// Where a task should live: a small, stable list of *home* instances, so
/// that the task stays warm there, chosen by channel to the services it
/// uses. A channel-aware version of OpenWhisk's hash-home: among the hosts
/// whose expected time in services is close to the best, the instances with
/// the highest rendezvous hash of (task, instance), in that order. The task
/// uses as many of them as its load needs (`needed`), the first one alone
/// for most tasks, and spills along the list when they are full, so that its
/// spills are warm too. Homes are sticky: a home stays while its host stays
/// within the tolerance of the best, and new homes are taken only among the
/// hosts within half of it, so that noise in the channel estimates moves
/// nobody; rendezvous hashing keeps homes where they are when other
/// instances come and go, and spreads tasks evenly over good hosts.
namespace homes {

/// Tunables of the choice.
struct settings {
  /// Most homes per task (its load decides how many it uses).
  size_t count = 8;
  /// A home stays while its host's expected time in services is at most
  /// this much (ms) above the best host's...
  double tolerance_ms = 0.5;
  /// ...or this fraction above it; a new home is taken only within half of
  /// that.
  double tolerance_ratio = 0.1;
  /// The share of one home's slots a task may expect to fill before it
  /// gets another home.
  double utilization = 0.5;
  /// A task with nothing declared keeps the homes its name gives it until
  /// this many of its runs were observed: a profile learned from its first
  /// few runs knows some of its services, not all, and homes chosen by it
  /// would move again (each move a cold start per home).
  uint64_t learning_runs = 8;
};

/// Whether `profile` is still being learned in the sense of `learning_runs`.
bool learning(const task_profile& profile, const settings& cfg);

/// The hosts within `share` x the tolerance of the best expected time in
/// services (all false when no host is usable).
std::vector<bool> good_hosts(const std::vector<double>& host_cost,
                             const settings& cfg, double share = 1.0);

/// The homes of `task`, in the order they are used, given every host's
/// expected time in services (`host_cost[h]`; infinity: unusable) and its
/// homes so far (`previous`): the previous homes on hosts within the
/// tolerance stay, in their order; the rest are the instances on the hosts
/// within half the tolerance, those where the task is warm first (no cold
/// start to take them), then those with a free slot, then by highest
/// rendezvous weight. At
/// most `cfg.count`; retired instances are no homes; hosts beyond
/// `host_cost` count as unusable. Empty when no host is usable.
std::vector<instance_pool::index>
choose(const instance_pool& pool, const std::vector<double>& host_cost,
       const std::string& task, const settings& cfg,
       const std::vector<instance_pool::index>& previous = {});

/// How many homes a task uses: enough that its expected concurrent runs
/// (`concurrency`) fill each home's `slots` to at most `cfg.utilization`;
/// at least one, at most `available`.
size_t needed(double concurrency, uint32_t slots, size_t available,
              const settings& cfg);

/// Erlang C: the probability that a run waits for a slot among `servers`
/// slots offered `load` erlangs (Poisson arrivals; 1 when load >= servers).
double erlang_c(double servers, double load);

/// The expected wait for a slot of one run (ms) among `servers` slots
/// offered `load` erlangs, each run holding its slot `run_ms` on average
/// with squared coefficient of variation `cv2`: M/M/c's P(wait) x run_ms /
/// (servers - load), times (1 + cv2) / 2 for runs more or less regular than
/// exponential ones (the Allen-Cunneen approximation of M/G/c); infinite
/// when overloaded.
double expected_queue_wait_ms(double servers, double load, double run_ms,
                              double cv2 = 1);

/// How many homes are worth their cold start: from `at_least`, one more
/// while the waits it spares the task's runs over `horizon_s` (`rate_per_s`
/// arrivals of `run_ms` each, `cv2` as in `expected_queue_wait_ms`, the
/// homes' `slots` pooled) exceed the cold start `cold_ms` it costs; at most
/// `available`. Warmth is an investment in capacity too: a home that is
/// full 2% of the time makes 2% of the runs wait, run after run.
size_t worth(size_t at_least, double rate_per_s, double run_ms, uint32_t slots,
             size_t available, double cold_ms, double horizon_s,
             double cv2 = 1);

/// The rendezvous weight of `instance` for `task` (FNV-1a of both, mixed):
/// deterministic across runs and platforms.
uint64_t weight(const std::string& task, const std::string& instance);

} // namespace homes

/// A task's arrival rate as the frontend sees it: an exponentially weighted
/// mean of the gaps between arrivals (weight 1/8 to the newest, as RFC 6298
/// smooths RTTs), so that a cold start can be weighed against the runs it
/// warms up for.
class arrival_rate {
public:
  /// `weight`: the newest gap's share of the mean.
  explicit arrival_rate(double weight = 1.0 / 8) : weight_(weight) {
    // nop
  }

  /// Records an arrival at `now_ms`.
  void add(double now_ms);

  /// Arrivals per second (0 before the second arrival). A long silence
  /// since the last arrival lowers it: the gap so far counts as a gap.
  double per_s(double now_ms) const;

  /// The same, with the silence since the last arrival weighed as one
  /// more gap (a quiet moment between arrivals moves it little).
  double smoothed_per_s(double now_ms) const;

  /// Arrivals recorded so far.
  uint64_t arrivals() const noexcept {
    return arrivals_;
  }

  /// Whether the mean has seen as many gaps as it remembers (1 / weight):
  /// before, it says more of the first gaps than of the rate.
  bool settled() const noexcept {
    return static_cast<double>(arrivals_) * weight_ > 1;
  }

private:
  double weight_;
  double last_ms_ = 0;
  double mean_gap_ms_ = 0;
  uint64_t arrivals_ = 0;
};

/// What a task asks of the instances: its arrivals and how long each run
/// holds a slot besides its time in services, warm and cold apart (each
/// weighted 1/8 to the newest), so that its expected concurrent runs where
/// it lives (Little's law: rate x time in the system) size its homes, and a
/// cold start's price is known.
class task_demand {
public:
  /// Records an arrival at `now_ms`.
  void arrive(double now_ms) {
    arrivals_.add(now_ms);
    steady_.add(now_ms);
  }

  /// Records that a run held its slot for `ms`, `aux_ms` of it in
  /// services, cold or warm; a warm run that waited `warmup_ms` for a
  /// cold start under way counts without that wait (it says nothing of
  /// the task's warm runs).
  void ran(double ms, double aux_ms, bool cold, double warmup_ms = 0);

  double per_s(double now_ms) const {
    return arrivals_.per_s(now_ms);
  }

  /// The rate over a longer memory (1/128 to the newest gap): what a host's
  /// slots are asked for in the steady state, bursts smoothed out.
  double steady_per_s(double now_ms) const {
    return steady_.smoothed_per_s(now_ms);
  }

  /// Whether the steady rate has seen as many gaps as it remembers.
  bool steady_settled() const noexcept {
    return steady_.settled();
  }

  /// Expected runs in progress at once where a warm run spends `service_ms`
  /// in services (a task's first, cold runs, and runs far from its
  /// services, say little of how many slots it needs at home).
  double concurrency(double now_ms, double service_ms) const;

  /// How long a warm run holds its slot where it spends `service_ms` in
  /// services (0 before any run ended).
  double run_ms(double service_ms) const;

  /// The squared coefficient of variation of a warm run's time where it
  /// spends `service_ms` in services (its own time's variance, weighted
  /// 1/8 to the newest, over the square of `run_ms`; 1, as exponential runs,
  /// before two warm runs ended).
  double run_cv2(double service_ms) const;

  /// What a cold start adds to a run: cold runs' mean minus warm runs'
  /// once both were seen, else `prior`.
  double cold_extra_ms(double prior) const noexcept;

private:
  arrival_rate arrivals_;
  arrival_rate steady_{1.0 / 128};
  double warm_ms_ = -1;
  /// The variance of warm runs' own time (negative before two of them).
  double warm_var_ = -1;
  double cold_ms_ = -1;
};

/// The expected wait for a slot on an instance whose `slots` are all busy
/// with runs of `run_ms` on average, behind `waiting` others: each slot
/// frees after about run_ms / slots (the next of `slots` runs to end).
double expected_wait_ms(size_t waiting, uint32_t slots, double run_ms);

/// The expected wait for a slot on an instance whose first runs, cold
/// starts, began `since_ms` ago (negative) and none has ended: its slots
/// free together when the first cold start of `cold_ms` is over, and each
/// `slots` waiting before this one wait a cold start more. Once that cold
/// start is over, a run that has lasted this long is expected to last
/// about as long again (each round of `slots` waiting too).
double first_runs_wait_ms(double since_ms, size_t waiting, uint32_t slots,
                          double cold_ms);

/// What one task asks of the host that serves it best: `load` slots busy
/// there on average (Little's law), saving `gain_ms` per run against its
/// next best host, each run holding a slot for `run_ms`.
struct slot_demand {
  double load = 0;
  double gain_ms = 0;
  double run_ms = 0;
};

/// The price of a slot-millisecond on a host with `capacity` slots to give
/// (its slots times the share it may fill), for the tasks of `demand` that
/// all serve best there. Zero while they fit. Else the tasks that save the
/// most per slot-millisecond take the capacity first (the first always
/// fits), and the price is `margin` times what the first that does not fit
/// saves per slot-millisecond: it, and every task that saves less, then
/// finds the host no better than its next best, so a scarce slot goes to
/// the runs that gain most from it rather than to whichever came first.
double slot_price(std::vector<slot_demand> demand, double capacity,
                  double margin = 1.25);

/// Slot prices with hysteresis: a host's computed price holds only once it
/// stayed positive for `persist_ms`, and goes only once it stayed zero as
/// long, so that a burst moves no homes (each move a cold start, and runs
/// away from their best channel meanwhile). Once a host stayed scarce that
/// long, each computed price replaces the held one at once.
class held_prices {
public:
  explicit held_prices(double persist_ms = 5000) : persist_ms_(persist_ms) {
    // nop
  }

  /// Takes the prices computed at `now_ms`, one per host (hosts that
  /// joined since grow the table), and returns the prices that hold.
  const std::vector<double>& update(const std::vector<double>& computed,
                                    double now_ms);

  /// The prices that hold, one per host seen.
  const std::vector<double>& prices() const noexcept {
    return held_;
  }

private:
  double persist_ms_;
  std::vector<double> held_;
  /// Since when each host's computed price was positive (-1: it is not).
  std::vector<double> scarce_since_;
  /// Since when it was zero while a price held (-1: not so).
  std::vector<double> calm_since_;
};

/// How many runs a cold start on a home buys: the task's expected arrivals
/// over `horizon_s`, shared by its `homes`, and at least one.
double expected_runs(double rate_per_s, double horizon_s, size_t homes);

} // namespace augur
