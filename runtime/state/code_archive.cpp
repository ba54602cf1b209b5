#include "augur/runtime/state/code_archive.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <sys/stat.h>

namespace augur {

namespace fs = std::filesystem;

namespace {

using reader = std::unique_ptr<archive, decltype(&archive_read_free)>;
using writer = std::unique_ptr<archive, decltype(&archive_write_free)>;

/// libarchive converts names between an archive's character set and the
/// locale's. In the C locale (a server's, unless it sets one) no name
/// beyond ASCII converts: a UTF-8 name could not be written into a pax
/// header, and one a zip marks UTF-8 came out as no name at all (the
/// archive was refused as holding an empty path). For as long as it
/// lives, this makes the calling thread's character set UTF-8 (glibc's
/// built-in C.UTF-8), whatever the process's locale; names then pass as
/// they are, and the UTF-8 checks below judge them.
class utf8_names {
public:
  utf8_names() {
    static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8",
                                             static_cast<locale_t>(nullptr));
    if (utf8 != nullptr)
      previous_ = ::uselocale(utf8);
  }
  ~utf8_names() {
    if (previous_ != nullptr)
      ::uselocale(previous_);
  }
  utf8_names(const utf8_names&) = delete;
  utf8_names& operator=(const utf8_names&) = delete;

private:
  locale_t previous_ = nullptr;
};

/// libarchive's error text (it may have none: null, never to be read).
std::string error_of(archive* a) {
  auto why = archive_error_string(a);
  return why != nullptr ? why : "no reason given";
}

reader open_reader(const std::string& bytes) {
  reader a{archive_read_new(), archive_read_free};
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size())
      != ARCHIVE_OK)
    throw archive_error(400, std::string{"not a .tar.gz or .zip archive, or "
                                         "a damaged or truncated one: "}
                               + error_of(a.get()));
  return a;
}

[[noreturn]] void damaged(archive* a) {
  auto why = archive_error_string(a);
  throw archive_error(400, std::string{"damaged or truncated archive: "}
                             + (why != nullptr ? why : "unreadable"));
}

/// Moves to the next entry; false at the end, throws on damage.
bool next_entry(archive* a, archive_entry*& e) {
  auto rc = archive_read_next_header(a, &e);
  if (rc == ARCHIVE_EOF)
    return false;
  if (rc < ARCHIVE_WARN)
    damaged(a);
  return true;
}

/// Calls `f(block, size, offset)` for every block of the entry's data, as
/// read (a header's size may lie); throws on damage.
template <class F>
void each_block(archive* a, F f) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    auto r = archive_read_data_block(a, &block, &size, &offset);
    if (r == ARCHIVE_EOF)
      return;
    if (r < ARCHIVE_WARN)
      damaged(a);
    f(block, size, offset);
  }
}

/// Whether `x` is well-formed UTF-8 (no overlong forms, no surrogates).
bool valid_utf8(const std::string& x) {
  size_t i = 0;
  while (i < x.size()) {
    auto c = static_cast<unsigned char>(x[i]);
    size_t n = c < 0x80         ? 0
               : (c >> 5) == 6  ? 1
               : (c >> 4) == 14 ? 2
               : (c >> 3) == 30 ? 3
                                : 9;
    if (n == 9 || i + n >= x.size())
      return false;
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(x[i + k]);
      if ((d >> 6) != 2)
        return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800)
        || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

/// `x` with every byte outside printable ASCII as `\xNN`: safe in a message.
std::string printable(const std::string& x) {
  std::string out;
  for (unsigned char c : x) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

/// `name` made relative and plain: no leading `./`, no `.` parts (empty for
/// the directory itself). Throws when it is not UTF-8 (a name every system
/// and the API's JSON can carry), absolute, empty or climbs out with `..`.
std::string safe_path(const std::string& name, const char* what) {
  if (name.empty())
    throw archive_error(400, std::string{what} + ": an empty path");
  if (!valid_utf8(name))
    throw archive_error(400, std::string{what} + " '" + printable(name)
                               + "': a name that is not UTF-8");
  fs::path p{name};
  if (p.is_absolute())
    throw archive_error(400, std::string{what} + " '" + name
                               + "': an absolute path");
  fs::path out;
  for (auto& part : p) {
    if (part == "..")
      throw archive_error(400, std::string{what} + " '" + name
                                 + "': climbs out of the directory with ..");
    if (part == "." || part.empty())
      continue;
    out /= part;
  }
  return out.string();
}

/// Whether the link at `path` (relative to the root) with `target` stays
/// inside the root.
bool link_stays_inside(const std::string& path, const std::string& target) {
  if (target.empty() || target.front() == '/')
    return false;
  // Where the link's directory is, counted in levels below the root.
  std::vector<std::string> at;
  for (auto& part : fs::path{path}.parent_path())
    if (part != "." && !part.empty())
      at.push_back(part.string());
  for (auto& part : fs::path{target}) {
    if (part == "." || part.empty())
      continue;
    if (part == "..") {
      if (at.empty())
        return false;
      at.pop_back();
    } else {
      at.push_back(part.string());
    }
  }
  return true;
}

const char* format_of(archive* a, bool gzip) {
  if (archive_format(a) == ARCHIVE_FORMAT_ZIP
      || (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP)
    return "zip";
  return gzip ? "tar.gz" : "tar";
}

} // namespace

std::string unpack_code(const std::string& bytes, const std::string& dir,
                        const archive_limits& limits) {
  utf8_names names;
  // First pass: every entry is checked before anything is written.
  std::string format;
  {
    auto a = open_reader(bytes);
    archive_entry* e = nullptr;
    uint64_t entries = 0;
    uint64_t total = 0;
    while (next_entry(a.get(), e)) {
      if (++entries > limits.max_entries)
        throw archive_error(413, "more than "
                                   + std::to_string(limits.max_entries)
                                   + " entries in the archive");
      auto name = archive_entry_pathname(e);
      auto path = safe_path(name != nullptr ? name : "", "entry");
      auto type = archive_entry_filetype(e);
      if (auto hard = archive_entry_hardlink(e); hard != nullptr) {
        safe_path(hard, "hard link target");
      } else if (type == AE_IFLNK) {
        auto target = archive_entry_symlink(e);
        if (target != nullptr && !valid_utf8(target))
          throw archive_error(400, "symbolic link '" + path
                                     + "': a target that is not UTF-8 ("
                                     + printable(target) + ")");
        if (target == nullptr || !link_stays_inside(path, target))
          throw archive_error(400, "symbolic link '" + path
                                     + "' points out of the directory ("
                                     + (target != nullptr ? target : "") + ")");
      } else if (type != AE_IFREG && type != AE_IFDIR) {
        throw archive_error(400, "entry '" + path
                                   + "': device files, FIFOs and sockets are "
                                     "not allowed");
      }
      uint64_t held = 0;
      each_block(a.get(), [&](const void*, size_t size, la_int64_t) {
        total += size;
        held += size;
        if (total > limits.max_unpacked_bytes)
          throw archive_error(413, "the archive unpacks to more than "
                                     + std::to_string(limits.max_unpacked_bytes)
                                     + " bytes");
      });
      // A header that says more than its entry holds would leave a file
      // of that size (sparse: written as zeros when copied).
      if (type == AE_IFREG && archive_entry_hardlink(e) == nullptr
          && archive_entry_size_is_set(e)
          && static_cast<uint64_t>(archive_entry_size(e)) != held)
        throw archive_error(
          400, "damaged or truncated archive: entry '" + path + "' says "
                 + std::to_string(archive_entry_size(e)) + " bytes and holds "
                 + std::to_string(held));
    }
    bool gzip = false;
    for (int i = 0; i < archive_filter_count(a.get()); ++i)
      gzip = gzip || archive_filter_code(a.get(), i) == ARCHIVE_FILTER_GZIP;
    format = format_of(a.get(), gzip);
  }
  // Second pass: unpack, still refusing to write through a link.
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  auto a = open_reader(bytes);
  writer out{archive_write_disk_new(), archive_write_free};
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                              | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                                              | ARCHIVE_EXTRACT_PERM);
  auto cannot = [&](const std::string& what) {
    throw archive_error(400,
                        "cannot unpack " + what + ": " + error_of(out.get()));
  };
  archive_entry* e = nullptr;
  while (next_entry(a.get(), e)) {
    // (Made absolute under `dir`: checked relative and plain above.)
    auto path = safe_path(archive_entry_pathname(e), "entry");
    if (path.empty()) {
      archive_read_data_skip(a.get()); // the directory itself: `./`
      continue;
    }
    archive_entry_set_pathname(e, (fs::path{dir} / path).c_str());
    if (auto hard = archive_entry_hardlink(e); hard != nullptr)
      archive_entry_set_hardlink(
        e, (fs::path{dir} / safe_path(hard, "hard link target")).c_str());
    // Readable by the owner, no set-id or sticky bits.
    auto perm = archive_entry_perm(e) & 0777;
    perm |= archive_entry_filetype(e) == AE_IFDIR ? 0700 : 0600;
    archive_entry_set_perm(e, perm);
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN)
      cannot("'" + path + "'");
    each_block(a.get(), [&](const void* block, size_t size, la_int64_t offset) {
      if (archive_write_data_block(out.get(), block, size, offset)
          < ARCHIVE_WARN)
        cannot("'" + path + "'");
    });
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN)
      cannot("'" + path + "'");
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN)
    cannot("the archive");
  return format;
}

std::string pack_directory(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw std::runtime_error("'" + dir + "' is not a directory");
  utf8_names names;
  std::string result;
  writer a{archive_write_new(), archive_write_free};
  archive_write_add_filter_gzip(a.get());
  archive_write_set_format_pax_restricted(a.get());
  // No padding of the compressed stream to a 10 KiB block.
  archive_write_set_bytes_in_last_block(a.get(), 1);
  auto append = [](archive*, void* data, const void* buf, size_t n) {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a.get(), &result, nullptr, append, nullptr)
      != ARCHIVE_OK)
    throw std::runtime_error(error_of(a.get()));
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e{
    archive_entry_new(), archive_entry_free};
  // (Absolute and plain, so that `lexically_relative` below is exact.)
  auto root = fs::absolute(dir).lexically_normal();
  if (root.filename().empty())
    root = root.parent_path();
  std::vector<fs::path> paths;
  for (auto& x : fs::recursive_directory_iterator(root))
    paths.push_back(x.path());
  std::sort(paths.begin(), paths.end());
  for (auto& p : paths) {
    auto st = fs::symlink_status(p);
    archive_entry_clear(e.get());
    archive_entry_set_pathname(
      e.get(), p.lexically_relative(root).generic_string().c_str());
    archive_entry_set_perm(e.get(),
                           static_cast<mode_t>(st.permissions()) & 0777);
    std::string data;
    if (fs::is_symlink(st)) {
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      archive_entry_set_symlink(e.get(), fs::read_symlink(p).c_str());
    } else if (fs::is_directory(st)) {
      archive_entry_set_filetype(e.get(), AE_IFDIR);
    } else if (fs::is_regular_file(st)) {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      std::FILE* f = std::fopen(p.c_str(), "rb");
      if (f == nullptr)
        throw std::runtime_error("cannot read " + p.string());
      char buf[65536];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        data.append(buf, n);
      std::fclose(f);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    } else {
      continue; // devices, FIFOs and sockets are no code
    }
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
      throw std::runtime_error(error_of(a.get()));
    if (!data.empty()
        && archive_write_data(a.get(), data.data(), data.size()) < 0)
      throw std::runtime_error(error_of(a.get()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw std::runtime_error(error_of(a.get()));
  return result;
}

} // namespace augur
