// Real child processes: payload in, result out, and every way to fail.

#include <doctest/doctest.h>

#include <future>

#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/execution/process.hpp"

using namespace augur;
using end = process_result::end;

namespace {

process_result run(process_spec spec) {
  static io_runner io;
  std::promise<process_result> p;
  auto f = p.get_future();
  run_process(io.context(), std::move(spec),
              [&p](process_result r) { p.set_value(std::move(r)); });
  return f.get();
}

process_spec sh(const std::string& script) {
  process_spec s;
  s.argv = {"sh", "-c", script};
  return s;
}

} // namespace

TEST_CASE("process: payload on stdin, result from stdout") {
  auto s = sh("tr a-z A-Z");
  s.input = "hello";
  auto r = run(s);
  CHECK(r.ok());
  CHECK(r.output == "HELLO");
  CHECK(r.describe() == "ok");
}

TEST_CASE("process: environment and working directory are the child's") {
  auto s = sh("printf '%s %s' \"$GREETING\" \"$(pwd)\"");
  s.env["GREETING"] = "hi";
  s.workdir = "/tmp";
  auto r = run(s);
  CHECK(r.output == "hi /tmp");
}

TEST_CASE("process: failures are results, with their reason") {
  SUBCASE("non-zero exit, stderr kept") {
    auto r = run(sh("echo oops >&2; exit 3"));
    CHECK(r.how == end::exited);
    CHECK(r.exit_code == 3);
    CHECK(r.errors == "oops\n");
    CHECK(r.describe() == "exited with status 3");
  }
  SUBCASE("a crash") {
    auto r = run(sh("kill -SEGV $$"));
    CHECK(r.how == end::signaled);
    CHECK(r.signal == SIGSEGV);
  }
  SUBCASE("a timeout kills the whole process group") {
    auto s = sh("sleep 30 & sleep 30; echo never");
    s.timeout = std::chrono::milliseconds(100);
    auto r = run(s);
    CHECK(r.how == end::timed_out);
    CHECK(r.output.empty());
    CHECK(r.describe().rfind("timed out", 0) == 0);
  }
  SUBCASE("oversized output") {
    auto s = sh("yes");
    s.max_output = 1000;
    auto r = run(s);
    CHECK(r.how == end::output_too_large);
    CHECK(r.output.size() == 1000);
  }
  SUBCASE("stderr is bounded") {
    auto s = sh("head -c 100000 /dev/zero >&2");
    s.max_stderr = 10;
    auto r = run(s);
    CHECK(r.ok());
    CHECK(r.errors.size() == 10);
  }
  SUBCASE("a program that does not exist") {
    process_spec s;
    s.argv = {"no-such-program-augur"};
    auto r = run(s);
    CHECK(r.how == end::spawn_failed);
    CHECK(r.error == "'no-such-program-augur' not found in PATH");
    s.argv = {"/no/such/path"};
    r = run(s);
    CHECK(r.how == end::spawn_failed);
    CHECK(r.error.find("No such file") != std::string::npos);
  }
  SUBCASE("a memory limit") {
    auto s = sh("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo done");
    s.memory_mb = 64;
    auto r = run(s);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("a child that ignores its input") {
    auto s = sh("exit 0");
    s.input = std::string(1 << 20, 'x');
    auto r = run(s);
    CHECK(r.ok());
  }
}
