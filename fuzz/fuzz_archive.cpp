// A code archive, as `PUT /v1/tasks/{name}/code` (and a worker node) unpacks
// it: any bytes. Unpacking either refuses with a clear error or leaves a
// directory that holds only regular files, directories and links that stay
// inside it, no set-id bits, within the limits; what it leaves packs and
// unpacks again to the same tree.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "augur/runtime/state/code_archive.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path& root() {
  static const fs::path dir = [] {
    auto p = fs::temp_directory_path()
             / ("augur-fuzz-archive-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

/// Says why the unpacked tree breaks a promise, and stops.
[[noreturn]] void broken(const char* why, const std::string& path) {
  std::fprintf(stderr, "unpacked tree: %s: %s\n", why, path.c_str());
  __builtin_trap();
}

/// Path -> what it is (a file's size, a link's target), checking each.
std::map<std::string, std::string> tree(const fs::path& dir,
                                        const augur::archive_limits& lim) {
  std::map<std::string, std::string> out;
  uint64_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir);
       it != fs::recursive_directory_iterator(); ++it) {
    auto rel = fs::relative(it->path(), dir).string();
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0)
      broken("cannot stat", rel);
    if (st.st_mode & (S_ISUID | S_ISGID))
      broken("a set-id bit", rel);
    if (S_ISLNK(st.st_mode)) {
      auto target = fs::read_symlink(it->path());
      if (target.is_absolute())
        broken("an absolute link", rel);
      auto where = (it->path().parent_path() / target).lexically_normal();
      auto inside = fs::relative(where, dir).lexically_normal().string();
      if (inside == ".." || inside.rfind("../", 0) == 0)
        broken("a link out of the directory", rel);
      out[rel] = "link " + target.string();
    } else if (S_ISREG(st.st_mode)) {
      bytes += static_cast<uint64_t>(st.st_size);
      out[rel] = "file " + std::to_string(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      out[rel] = "dir";
    } else {
      broken("a device, FIFO or socket", rel);
    }
  }
  if (bytes > lim.max_unpacked_bytes || out.size() > lim.max_entries + 1)
    broken("beyond the limits", dir.string());
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  augur::archive_limits lim{1u << 20, 200};
  auto dir = root() / "code";
  auto again = root() / "again";
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  fs::remove_all(again, ignored);
  try {
    augur::unpack_code(bytes, dir.string(), lim);
  } catch (const augur::archive_error& e) {
    if (e.status() != 400 && e.status() != 413)
      __builtin_trap();
    return 0;
  }
  auto first = tree(dir, lim);
  try {
    auto packed = augur::pack_directory(dir.string());
    augur::unpack_code(packed, again.string(), lim);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "what was unpacked does not pack again: %s\n",
                 e.what());
    __builtin_trap();
  }
  if (tree(again, lim) != first)
    __builtin_trap();
  return 0;
}
