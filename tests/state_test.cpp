// The state file, code archives and the profile estimator's snapshots, as
// plain classes: no actor, no server.

#include <doctest/doctest.h>

#include <cstdio>

#include <filesystem>
#include <fstream>

#include "augur/model/profile_estimator.hpp"
#include "augur/runtime/execution/task.hpp"
#include "augur/runtime/state/code_archive.hpp"
#include "augur/runtime/state/state_store.hpp"
#include "augur/runtime/state/state_writer.hpp"
#include "temp_dir.hpp"

using namespace augur;
namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path{path}.parent_path());
  std::ofstream out{path, std::ios::binary};
  out << text;
}

std::string read(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("state: tasks, profiles and records survive closing the file") {
  test::temp_dir dir;
  auto path = dir.file("s.state");
  uint64_t v1 = 0;
  uint64_t v2 = 0;
  {
    state_store store{path, {}};
    deployed_task t{"alice", "greet", 0, R"({"command":["true"]})", "", "", 5};
    store.put_task(t);
    v1 = t.version;
    t.code = std::string("\0code\xff", 6);
    t.code_format = "tar.gz";
    store.put_task(t);
    v2 = t.version;
    // A new definition keeps the code it does not carry.
    deployed_task def{"alice", "greet", 0, R"({"command":["false"]})",
                      "",      "",      6};
    store.put_task(def, true);
    v2 = def.version;
    profile_snapshot p{"alice/greet", 7, {{"cache", 5.5, 1.5, 3, 100, 20}}};
    store.put_profiles({{"alice/greet", p}});
    store.put_records({{1, "alice", "greet", "running", 1000, 0, ""},
                       {1, "alice", "greet", "ok", 1000, 1010, "{}"},
                       {2, "bob", "x", "ok", 1000, 1020, "{}"}},
                      2000);
  }
  state_store store{path, {}};
  CHECK(v2 > v1);
  auto tasks = store.tasks();
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].version == v2);
  CHECK(tasks[0].code == std::string("\0code\xff", 6)); // bytes, whole
  CHECK(tasks[0].code_format == "tar.gz");
  CHECK(tasks[0].definition == R"({"command":["false"]})");
  auto profiles = store.profiles();
  REQUIRE(profiles.size() == 1);
  CHECK(profiles[0].observations == 7);
  CHECK(profiles[0].services[0].successes == 5.5);
  auto rec = store.record(1);
  REQUIRE(rec);
  CHECK(rec->status == "ok"); // a later write of an id replaces it
  CHECK(store.records("alice", "", 10).size() == 1);
  CHECK(store.records("bob", "x", 10).size() == 1);
  CHECK(store.last_record_id() == 2);
  // A task deleted and deployed again never repeats a version.
  CHECK(store.delete_task("alice", "greet", "alice/greet"));
  CHECK(store.profiles().empty());
  deployed_task again{"alice", "greet", 0, "{}", "", "", 6};
  store.put_task(again);
  CHECK(again.version > v2);
}

TEST_CASE("state: records are bounded in count and in age") {
  test::temp_dir dir;
  state_store::limits lim;
  lim.max_records = 3;
  lim.retention_s = 60;
  state_store store{dir.file("s.state"), lim};
  std::vector<invocation_record> xs;
  for (uint64_t i = 1; i <= 5; ++i)
    xs.push_back({i, "t", "x", "ok", 100000, 100001, "{}"});
  store.put_records(xs, 100000);
  CHECK(store.record_count() == 3);
  CHECK_FALSE(store.record(2));
  CHECK(store.record(5));
  // A minute later the old ones are gone, the new one stays.
  store.put_records({{6, "t", "x", "ok", 170000, 170001, "{}"}}, 170000);
  CHECK(store.record_count() == 1);
  CHECK(store.record(6));
  CHECK(store.last_record_id() == 6); // ids go on after removals
}

TEST_CASE("state: a damaged, foreign or held file is a clear error") {
  test::temp_dir dir;
  auto garbage = dir.file("garbage.state");
  write(garbage, std::string(4096, 'x'));
  CHECK_THROWS_WITH_AS(state_store(garbage, {}),
                       doctest::Contains(("state file " + garbage).c_str()),
                       state_error);
  CHECK(read(garbage) == std::string(4096, 'x')); // left as it was
  auto foreign = dir.file("foreign.state");
  {
    // Another program's SQLite file: not augur's to change.
    state_store store{foreign, {}};
  }
  {
    std::fstream f{foreign, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(68); // the header's application id
    f.write("\0\0\0\1", 4);
  }
  CHECK_THROWS_WITH_AS(state_store(foreign, {}),
                       doctest::Contains("not augur's state"), state_error);
  auto held = dir.file("held.state");
  state_store first{held, {}};
  CHECK_THROWS_WITH_AS(state_store(held, {}),
                       doctest::Contains("another process holds it"),
                       state_error);
}

TEST_CASE("state: the writer batches and flushes in order") {
  test::temp_dir dir;
  auto store = std::make_shared<state_store>(dir.file("s.state"),
                                             state_store::limits{});
  // An interval no test waits for: flush() is what writes.
  state_writer w{store, std::chrono::hours(1)};
  auto now = wall_clock_ms();
  for (uint64_t i = 1; i <= 10; ++i)
    w.record({i, "t", "x", "running", now, 0, ""});
  w.record({3, "t", "x", "ok", now, now + 1, "{}"});
  profile_snapshot p{"x", 1, {{"cache", 1, 0, 1, 10, 10}}};
  w.profile("x", &p);
  w.profile("y", &p);
  w.profile("y", nullptr); // forgotten before it was written
  bool ran = false;
  w.run([&](state_store& s) {
    // Everything handed over before the job is written when it runs.
    ran = s.record_count() == 10 && s.record(3)->status == "ok";
  });
  w.flush();
  CHECK(ran);
  CHECK(store->profiles().size() == 1);
  CHECK(w.batches() >= 1);
  CHECK(w.dropped_records() == 0);
}

TEST_CASE("state: a record handed over while the writer was busy comes first") {
  // An asynchronous invocation's record is handed over, and a query for it
  // follows at once, while the writer is busy with something else (here:
  // a job, which lets the lock go as a batch being written does): the
  // query must find it.
  test::temp_dir dir;
  auto store = std::make_shared<state_store>(dir.file("s.state"),
                                             state_store::limits{});
  state_writer w{store, std::chrono::hours(1)};
  auto now = wall_clock_ms();
  bool found = false;
  w.run([&](state_store&) {
    w.record({8, "t", "x", "running", now, 0, ""});
    w.run([&](state_store& s) { found = s.record(8).has_value(); });
  });
  w.flush(); // the first job
  w.flush(); // what it handed over
  CHECK(found);
}

namespace {

/// A .tar.gz of `entries`, made by the same library the client uses.
std::string
pack(test::temp_dir& dir,
     const std::vector<std::pair<std::string, std::string>>& files) {
  auto root = dir.file("src");
  fs::remove_all(root);
  fs::create_directories(root);
  for (auto& [name, text] : files)
    write(root + "/" + name, text);
  return pack_directory(root);
}

} // namespace

TEST_CASE("archives: a directory packs and unpacks whole") {
  test::temp_dir dir;
  auto bytes = pack(dir, {{"main.py", "print(1)"}, {"lib/util.py", "x = 2"}});
  fs::create_symlink("lib/util.py", dir.file("src/alias.py"));
  bytes = pack_directory(dir.file("src"));
  auto out = dir.file("out");
  CHECK(unpack_code(bytes, out, {}) == "tar.gz");
  CHECK(read(out + "/main.py") == "print(1)");
  CHECK(read(out + "/lib/util.py") == "x = 2");
  CHECK(fs::read_symlink(out + "/alias.py") == "lib/util.py");
}

TEST_CASE("archives: limits and damage are refused before writing") {
  test::temp_dir dir;
  auto bytes = pack(dir, {{"big", std::string(100000, 'a')}});
  auto out = dir.file("out");
  archive_limits small{50000, 10};
  try {
    unpack_code(bytes, out, small);
    FAIL("an archive over the unpacked limit was taken");
  } catch (const archive_error& e) {
    CHECK(e.status() == 413);
  }
  CHECK_FALSE(fs::exists(out));
  // Cut in the middle of a file's bytes (incompressible: the cut cannot
  // fall in the padding after them).
  std::string noise;
  uint32_t x = 1;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1664525u + 1013904223u;
    noise += static_cast<char>(x >> 24);
  }
  bytes = pack(dir, {{"noise", noise}});
  try {
    unpack_code(bytes.substr(0, bytes.size() / 2), out, {});
    FAIL("a truncated archive was taken");
  } catch (const archive_error& e) {
    CHECK(e.status() == 400);
    CHECK(std::string{e.what()}.find("damaged or truncated")
          != std::string::npos);
  }
  CHECK_FALSE(fs::exists(out));
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 11; ++i)
    many.push_back({"f" + std::to_string(i), "x"});
  try {
    unpack_code(pack(dir, many), out, small);
    FAIL("too many entries were taken");
  } catch (const archive_error& e) {
    CHECK(e.status() == 413);
  }
}

namespace {

/// A plain tar of one regular file, its header written by hand: names no
/// archiver of ours would write.
std::string raw_tar(const std::string& name, const std::string& data) {
  std::string h(512, '\0');
  auto put = [&](size_t at, const std::string& x) {
    h.replace(at, x.size(), x);
  };
  char size[12];
  std::snprintf(size, sizeof size, "%011o", static_cast<unsigned>(data.size()));
  put(0, name);
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  put(124, size);
  put(136, "00000000000");
  put(148, "        ");
  put(156, "0");
  put(257, std::string{"ustar\0", 6});
  put(263, "00");
  unsigned sum = 0;
  for (unsigned char c : h)
    sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  put(148, std::string{chk, 6} + std::string{"\0 ", 2});
  auto body = data + std::string((512 - data.size() % 512) % 512, '\0');
  return h + body + std::string(1024, '\0');
}

/// The refusal `unpack_code` answers `bytes` with (fails when it takes them).
archive_error refusal(const std::string& bytes, const std::string& out) {
  try {
    unpack_code(bytes, out, {});
  } catch (const archive_error& e) {
    return e;
  }
  FAIL("a bad archive was taken");
  return archive_error{0, ""};
}

} // namespace

TEST_CASE("archives: a name that is not UTF-8 is refused, and said safely") {
  // (Found by fuzz_archive: such a name unpacked, then could not be packed
  // again, and an error naming it would not be valid JSON.)
  test::temp_dir dir;
  auto out = dir.file("out");
  CHECK(unpack_code(raw_tar("main.py", "print(1)"), out, {}) == "tar");
  CHECK(read(out + "/main.py") == "print(1)");
  fs::remove_all(out);
  auto e = refusal(raw_tar("main.\xff", "print(1)"), out);
  CHECK(e.status() == 400);
  CHECK(std::string{e.what()}
        == "entry 'main.\\xff': a name that is not UTF-8");
  CHECK_FALSE(fs::exists(out));
  // Well-formed UTF-8 beyond ASCII is a name like any other.
  CHECK(unpack_code(raw_tar("caf\xc3\xa9.py", "x"), out, {}) == "tar");
  CHECK(fs::exists(out + "/caf\xc3\xa9.py"));
}

TEST_CASE("archives: names beyond ASCII are kept exactly, whatever the "
          "locale") {
  // (Found by fuzz_archive: in the C locale, libarchive could not write a
  // UTF-8 name into the pax header, so a tree with one did not pack again,
  // and a zip that marks its names UTF-8 was refused: its names came out
  // empty.)
  test::temp_dir dir;
  const std::string name = "caf\xc3\xa9 \xd2\x8b.py";
  auto bytes = pack(dir, {{name, "print(1)"}, {"d\xc3\xa9p/x.py", "2"}});
  auto out = dir.file("out");
  CHECK(unpack_code(bytes, out, {}) == "tar.gz");
  CHECK(read(out + "/" + name) == "print(1)");
  CHECK(read(out + "/d\xc3\xa9p/x.py") == "2");
  // A zip whose entry says its name is UTF-8 (as Python's zipfile and
  // Info-ZIP write one), and one that says nothing of it.
  const std::string flagged{
    "\x50\x4b\x03\x04\x14\x00\x00\x08\x00\x00\x00\x00\x21\x50\x83\x16"
    "\xdc\x8c\x01\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x63\x61"
    "\x66\xc3\xa9\x2e\x70\x79\x78\x50\x4b\x01\x02\x14\x03\x14\x00\x00"
    "\x08\x00\x00\x00\x00\x21\x50\x83\x16\xdc\x8c\x01\x00\x00\x00\x01"
    "\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
    "\x01\x00\x00\x00\x00\x63\x61\x66\xc3\xa9\x2e\x70\x79\x50\x4b\x05"
    "\x06\x00\x00\x00\x00\x01\x00\x01\x00\x36\x00\x00\x00\x27\x00\x00"
    "\x00\x00\x00",
    115};
  fs::remove_all(out);
  CHECK(unpack_code(flagged, out, {}) == "zip");
  CHECK(read(out + "/caf\xc3\xa9.py") == "x");
  auto plain = flagged;
  plain[7] = plain[48] = '\0'; // the UTF-8 flag of both headers, cleared
  fs::remove_all(out);
  CHECK(unpack_code(plain, out, {}) == "zip");
  CHECK(read(out + "/caf\xc3\xa9.py") == "x");
  // What was unpacked packs again, names and all.
  auto again = dir.file("again");
  CHECK(unpack_code(pack_directory(out), again, {}) == "tar.gz");
  CHECK(read(again + "/caf\xc3\xa9.py") == "x");
}

TEST_CASE("archives: an entry whose header says more than it holds") {
  // (Found by fuzz_archive: a zip entry of 13 bytes whose header says 128
  // MiB unpacked to a sparse file of 128 MiB, which a cold start's copy
  // would write out whole.)
  const std::string zip{
    "\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x51\x7e\x82\x5d\xac\xe8"
    "\xb5\xd8\x0d\x00\x00\x00\x0d\x00\x00\x08\x07\x00\x00\x00\x6d\x61"
    "\x69\x6e\x2e\x00\x00\x69\x00\xa8\x6e\x74\x28\x27\x7a\x69\x70\x27"
    "\x74\x61\x0a\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x51"
    "\x7e\x82\x5d\xac\xe8\xb5\xd8\x0d\x00\x00\x00\x0d\x00\x00\x00\x07"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00"
    "\x00\x6d\x61\x69\x6e\x2e\x70\x79\x50\x50\x4b\x05\x06\x00\x00\x00"
    "\x00\x02\x00\x02\x00\x6d\x00\x00\x00\x5c\x00\x00\x00\x00\x00",
    127};
  test::temp_dir dir;
  auto out = dir.file("out");
  auto e = refusal(zip, out);
  CHECK(e.status() == 400);
  CHECK(std::string{e.what()}.find("says 134217741 bytes and holds")
        != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("archives: damage libarchive gives no reason for") {
  // (Found by fuzz_archive: libarchive's error text was null here, and
  // reading it crashed the server.)
  const std::string tgz{
    "\x1f\x8b\x08\x00\x4b\x3e\x10\x6b\x02\xff\xed\xcd\xc1\x09\x83\x40"
    "\x14\x04\xd0\x7f\x4e\x15\xa9\x60\x15\x56\x4c\x3d\x36\xa0\x92\xac"
    "\x90\xf2\xb3\x7a\x0a\xde\x15\xc4\xf7\x2e\x33\xcc\x65\x52\x6a\x96"
    "\x39\x95\x6f\x89\xe3\xb4\x55\xdf\x75\x5b\x56\xfb\xac\xf2\x5f\x5f"
    "\xf7\x57\xce\x7d\x3c\xdb\x38\xc1\xf2\x29\xc3\xbb\x5e\xc6\x3d\x8d"
    "\xd3\x23\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xb8\x9e\x1f"
    "\x6b\x2e\x00\x28\x00\x00",
    102};
  test::temp_dir dir;
  auto out = dir.file("out");
  CHECK(refusal(tgz, out).status() == 400);
}

TEST_CASE("profiles: a snapshot restores what was learned, exactly") {
  profile_estimator a;
  a.add_service("cache");
  a.add_service("db");
  a.define("t", {"cache"});
  for (int i = 0; i < 9; ++i)
    a.observe("t", {service_use{"db", 3, 1000, 200, 1}});
  profile_estimator b;
  b.add_service("cache");
  b.add_service("db");
  CHECK_FALSE(b.restore(a.snapshot("t"))); // not defined there yet
  b.define("t", {"cache"});
  CHECK(b.restore(a.snapshot("t")));
  auto pa = a.profile("t");
  auto pb = b.profile("t");
  CHECK(pb.observations == pa.observations);
  REQUIRE(pb.services.size() == pa.services.size());
  for (size_t i = 0; i < pa.services.size(); ++i) {
    CHECK(pb.services[i].likelihood == pa.services[i].likelihood);
    CHECK(pb.services[i].round_trips == pa.services[i].round_trips);
    CHECK(pb.services[i].bytes_out == pa.services[i].bytes_out);
  }
  auto before = pb.version;
  CHECK(b.forget("t"));
  CHECK_FALSE(b.profile("t").known);
  b.define("t", {});
  CHECK(b.profile("t").version > before); // versions never repeat
}

TEST_CASE("tasks: directory names never collide") {
  // A tenant's task and a file task of a look-alike name, and a version
  // suffix that no task name can produce.
  CHECK(task_directory_name("alice/x") != task_directory_name("alice_x"));
  CHECK(task_directory_name("hash") == "hash");
  CHECK(task_directory_name("a-v2").find("-v") == std::string::npos);
}
