// Real child processes: payload in, result out, and every way to fail.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include <fcntl.h>
#include <unistd.h>

#include "temp_dir.hpp"

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

namespace {

/// A server's world in miniature: a secret file, the executions' work root
/// with this execution's directory and another's.
struct sandbox_world {
  test::temp_dir t;
  std::string secret = t.file("cluster.toml");
  std::string root = t.file("work");
  std::string mine = t.file("work/mine");
  std::string other = t.file("work/other");
  sandbox_spec sandbox;

  sandbox_world() {
    std::filesystem::create_directories(mine);
    std::filesystem::create_directories(other);
    std::ofstream{secret} << "token = \"s3cret\"\n";
    std::ofstream{other + "/theirs.txt"} << "private\n";
    auto path = std::getenv("PATH");
    sandbox.bwrap = find_program("bwrap", path ? path : "/usr/bin:/bin");
    REQUIRE_MESSAGE(!sandbox.bwrap.empty(), "bwrap (bubblewrap) is missing");
    sandbox.drop = ::geteuid() == 0;
    if (sandbox.drop)
      REQUIRE(::chown(mine.c_str(), sandbox.uid, sandbox.gid) == 0);
    sandbox.hidden_files = {secret};
    sandbox.hidden_dirs = {root};
  }

  process_spec spec(const std::string& script) const {
    auto s = sh(script);
    s.workdir = mine;
    s.sandbox = sandbox;
    return s;
  }
};

} // namespace

TEST_CASE("process: only stdin, stdout and stderr are inherited") {
  // A descriptor the server opened without close-on-exec (as Asio's and
  // CAF's sockets are).
  int leak = ::open("/dev/null", O_RDONLY);
  REQUIRE(leak > 2);
  sandbox_world w;
  // The shell's descriptors while it waits for `ls` (no pipe and no
  // redirection: the shell's own would show for a moment).
  auto script = "ls /proc/$$/fd";
  auto r = run(sh(script));
  CHECK(r.output == "0\n1\n2\n");
  auto boxed = run(w.spec(script));
  CHECK(boxed.output == "0\n1\n2\n");
  ::close(leak);
}

TEST_CASE("process: the sandbox hides the server and other executions") {
  sandbox_world w;
  SUBCASE("the server's secrets read as nothing") {
    auto r = run(w.spec("cat " + w.secret));
    CHECK(r.output.find("s3cret") == std::string::npos);
  }
  SUBCASE("another execution's directory is not there") {
    auto r = run(w.spec("cat " + w.other + "/theirs.txt"));
    CHECK_FALSE(r.ok());
    CHECK(r.output.empty());
  }
  SUBCASE("the server cannot be signalled") {
    auto r = run(w.spec("kill -TERM " + std::to_string(::getpid())));
    CHECK_FALSE(r.ok());
  }
  SUBCASE("only its directory and /tmp are writable, /tmp its own") {
    auto outside = w.t.file("outside.txt");
    auto name = "augur-sandbox-" + std::to_string(::getpid());
    auto r = run(w.spec("echo x > " + outside
                        + "; echo y > mine.txt && echo z > /tmp/" + name
                        + " && cat /tmp/" + name));
    CHECK(r.output == "z\n");
    CHECK_FALSE(std::filesystem::exists(outside));
    CHECK(std::filesystem::exists(w.mine + "/mine.txt"));
    CHECK_FALSE(std::filesystem::exists("/tmp/" + name));
  }
  SUBCASE("its own PID namespace, and no root") {
    auto r = run(w.spec("echo $$; id -u"));
    auto expected_uid = w.sandbox.drop ? std::to_string(w.sandbox.uid)
                                       : std::to_string(::geteuid());
    CHECK(r.output == "2\n" + expected_uid + "\n");
  }
  SUBCASE("a crash is still a crash") {
    auto r = run(w.spec("kill -SEGV $$"));
    CHECK(r.how == end::signaled);
    CHECK(r.signal == SIGSEGV);
  }
  SUBCASE("no sandbox to be had: a clear failure, never a run") {
    auto s = w.spec("echo ran");
    s.sandbox.unavailable = "the sandbox needs bwrap";
    auto r = run(s);
    CHECK(r.how == end::spawn_failed);
    CHECK(r.error == "the sandbox needs bwrap");
    CHECK(r.output.empty());
  }
}

TEST_CASE("process: the bwrap command line, built without the file system") {
  sandbox_spec sb;
  sb.bwrap = "/usr/bin/bwrap";
  sb.hidden_dirs = {"/augur-work"};
  sb.hidden_files = {"/etc/augur/cluster.toml"};
  auto argv = sandboxed_argv(sb, "/augur-work/h-0/t", {"/bin/echo", "hi"});
  auto has = [&](std::vector<std::string> run) {
    return std::search(argv.begin(), argv.end(), run.begin(), run.end())
           != argv.end();
  };
  CHECK(argv.front() == "/usr/bin/bwrap");
  CHECK(has({"--tmpfs", "/augur-work"}));
  CHECK(has({"--ro-bind", "/dev/null", "/etc/augur/cluster.toml"}));
  CHECK(has({"--bind", "/augur-work/h-0/t", "/augur-work/h-0/t", "--chdir",
             "/augur-work/h-0/t", "--", "/bin/echo", "hi"}));
  CHECK_FALSE(has({"--uid"}));
  CHECK_FALSE(has({"--ro-bind-try"}));
  // A script under /tmp (a checkout there) stays visible, read-only, with
  // its directory; the rest of /tmp does not.
  argv = sandboxed_argv(sb, "/w", {"/usr/bin/python3", "/tmp/repo/tasks/a.py"});
  CHECK(has({"--tmpfs", "/tmp", "--ro-bind-try", "/tmp/repo/tasks",
             "/tmp/repo/tasks"}));
  argv = sandboxed_argv(sb, "/w", {"/tmp/x", "/tmp/../etc/y"});
  CHECK_FALSE(has({"--ro-bind-try"}));
  sb.drop = true;
  argv = sandboxed_argv(sb, "/w", {"true"});
  CHECK(has({"--uid", "65534", "--gid", "65534"}));
}
